"""``/api/configs/oidc/private-keys``: the signing keys, as Logto's Management API exposes them.

``GET`` lists them (Current first, then Next and Previous), ``POST .../rotate`` rotates (immediately, or
with a ``rotationGracePeriod``: the new key is published as Next and signs once the period has passed,
with no second call), ``DELETE .../{id}`` deletes a Next or Previous key (how a leaked key is revoked).
The private keys never leave the key store: an item holds the key ID, dates, algorithm and status.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ...conf import SUPPORTED_ALGORITHMS, m2m_settings
from ...key_rotation import MAX_GRACE_PERIOD, listed_keys, rotate_signing_key
from ...keys import KeyStoreError, key_store
from ...models import KeyStatus, SigningKey
from ..access import route_scopes
from ..builtin import READ_SIGNING_KEYS, WRITE_SIGNING_KEYS
from ..errors import ApiError, invalid_input
from ..serializers import epoch_ms
from ._base import ManagementView, empty

#: Logto's ``signingKeyAlgorithm`` (the key type) and the JWS algorithms of each.
KEY_FAMILIES: dict[str, tuple[str, ...]] = {"RSA": ("RS256", "PS256"), "EC": ("ES256", "ES384", "ES512")}
_FAMILY_DEFAULT = {"RSA": "RS256", "EC": "ES384"}  # Logto's own: RSA-2048 and P-384
_STATUS: dict[str, str] = {KeyStatus.CURRENT: "Current", KeyStatus.NEXT: "Next", KeyStatus.PREVIOUS: "Previous"}


def key_json(row: SigningKey) -> dict[str, Any]:
    """Logto's ``OidcConfigKeysResponse`` (``id``, ``createdAt``, ``signingKeyAlgorithm`` = the key type),
    plus ``algorithm`` (the JWS ``alg``), ``status`` and ``effectiveAt`` (epoch ms; when the key signs
    or signed from; absent for a Next key that waits for a manual promotion)."""
    effective = row.effective_at
    if effective is None and row.status != KeyStatus.NEXT:
        effective = row.created_at
    item: dict[str, Any] = {
        "id": row.kid,
        "createdAt": epoch_ms(row.created_at),
        "signingKeyAlgorithm": str(row.public_jwk.get("kty", "")),
        "algorithm": row.algorithm,
        "status": _STATUS.get(row.status, row.status),
    }
    if effective is not None:  # Logto omits it rather than sending null
        item["effectiveAt"] = epoch_ms(effective)
    return item


def keys_response() -> Response:
    return Response([key_json(row) for row in listed_keys()])


class RotateSerializer(serializers.Serializer):
    signingKeyAlgorithm = serializers.ChoiceField(choices=list(KEY_FAMILIES), required=False)  # noqa: N815
    algorithm = serializers.ChoiceField(choices=list(SUPPORTED_ALGORITHMS), required=False)
    rotationGracePeriod = serializers.IntegerField(  # noqa: N815
        min_value=0, max_value=MAX_GRACE_PERIOD, required=False, help_text="Seconds; 0 rotates at once"
    )


def chosen_algorithm(family: str | None, algorithm: str | None) -> str | None:
    """The JWS algorithm of the new key from Logto's key type and/or our ``algorithm``."""
    if family is None:
        return algorithm
    members = KEY_FAMILIES[family]
    if algorithm is not None:
        if algorithm not in members:
            raise invalid_input(f"algorithm: {algorithm} is not a {family} algorithm ({', '.join(members)}).")
        return algorithm
    configured = m2m_settings.SIGNING_ALGORITHM
    return configured if configured in members else _FAMILY_DEFAULT[family]


def _refused(exc: KeyStoreError, kid: str | None = None) -> ApiError:
    data = {"id": kid} if kid is not None and exc.status == HTTPStatus.NOT_FOUND else None
    return ApiError(exc.status, exc.code, str(exc), data=data)


class PrivateKeyListView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_SIGNING_KEYS, write=WRITE_SIGNING_KEYS)

    def get(self, request: Request) -> Response:
        return keys_response()


class PrivateKeyRotateView(ManagementView):
    required_scopes_by_method = route_scopes(write=WRITE_SIGNING_KEYS)

    def post(self, request: Request) -> Response:
        body = self.validated(request, RotateSerializer)
        algorithm = chosen_algorithm(body.get("signingKeyAlgorithm"), body.get("algorithm"))
        try:
            rotate_signing_key(algorithm, grace_period=body.get("rotationGracePeriod"))
        except KeyStoreError as exc:
            raise _refused(exc) from exc
        return keys_response()


class PrivateKeyDetailView(ManagementView):
    required_scopes_by_method = route_scopes(write=WRITE_SIGNING_KEYS)

    def delete(self, request: Request, key_id: str) -> HttpResponse:
        try:
            key_store.delete(key_id)
        except KeyStoreError as exc:
            raise _refused(exc, key_id) from exc
        return empty(HTTPStatus.NO_CONTENT)
