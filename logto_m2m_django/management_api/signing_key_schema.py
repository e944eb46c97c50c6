"""OpenAPI documentation of the signing key routes (attached to the views, as ``schema`` does for the others)."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from ..conf import SUPPORTED_ALGORITHMS

SigningKeyOut = inline_serializer(
    name="OidcPrivateKey",
    fields={
        "id": serializers.CharField(help_text="The key ID (kid), an RFC 7638 thumbprint"),
        "createdAt": serializers.IntegerField(help_text="Epoch milliseconds"),
        "signingKeyAlgorithm": serializers.ChoiceField(choices=["RSA", "EC", "OKP"], help_text="The key type"),
        "algorithm": serializers.ChoiceField(choices=list(SUPPORTED_ALGORITHMS), help_text="The JWS alg"),
        "status": serializers.ChoiceField(choices=["Current", "Next", "Previous"]),
        "effectiveAt": serializers.IntegerField(
            required=False,
            help_text="Epoch milliseconds: when the key signs (a staged Next key) or started signing; "
            "absent for a Next key waiting for a manual promotion",
        ),
    },
)


def document_views(doc: Callable[..., None]) -> None:
    from .views import signing_keys as k

    listed = SigningKeyOut.__class__(many=True)
    doc(
        k.PrivateKeyListView.get,
        response=listed,
        summary="Get OIDC private keys",
        description="The signing keys: Current first, then Next and Previous. No private key material.",
        tags=["Signing keys"],
    )
    doc(
        k.PrivateKeyRotateView.post,
        request=k.RotateSerializer,
        response=listed,
        summary="Rotate OIDC private keys",
        description=(
            "rotationGracePeriod 0 (or LOGTO_M2M KEY_ROTATION_GRACE_PERIOD when omitted, 0 by default): the new "
            "key signs at once and the Current key becomes Previous. rotationGracePeriod > 0: the new key is "
            "published as Next at once and signs once the period has passed, by itself; it should be longer "
            "than remote validators keep the JWKS. Answers the new list."
        ),
        tags=["Signing keys"],
    )
    doc(
        k.PrivateKeyDetailView.delete,
        status=204,
        summary="Delete OIDC private key",
        description="A Next or Previous key; its tokens stop validating. 422 for the Current or the last key.",
        tags=["Signing keys"],
    )
