"""RFC 9068 JWT access tokens: claims, signing and verification.

Pure functions over PyJWT: no models, no requests, no settings. The callers
(the token endpoint and the DRF authentication class) pass in the keys and
the policy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.algorithms import get_default_algorithms
from logto_m2m_client._internal import safejson

#: RFC 9068 §2.1: the ``typ`` header of a JWT access token.
ACCESS_TOKEN_TYPE = "at+jwt"
_ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
#: Claims every access token must carry (RFC 9068 §2.2).
REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
_MAX_KID_LENGTH = 256
#: Deepest JSON nesting accepted in a token's header or payload (real ones have 1 to 3 levels).
MAX_JSON_DEPTH = 16
_ASYMMETRIC = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"})


class TokenError(Exception):
    """A token is not acceptable. ``description`` is safe to show to the caller."""

    def __init__(self, description: str, *, kind: str = "invalid_token") -> None:
        super().__init__(description)
        self.description = description
        self.kind = kind


class UnknownKeyError(TokenError):
    """The token names a key (``kid``) that the key set does not hold."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    kid: str
    algorithm: str
    key: Any  # a cryptography public key object, parsed once


@dataclass(frozen=True, slots=True)
class SigningMaterial:
    kid: str
    algorithm: str
    private_key: Any  # a cryptography private key object, parsed once


def new_jti() -> str:
    """A token identifier with 128 random bits (RFC 9068 §2.2, RFC 7519 §4.1.7)."""
    return secrets.token_urlsafe(16)


def build_claims(
    *,
    issuer: str,
    client_id: str,
    audience: str,
    scopes: Iterable[str] | None,
    lifetime: int,
    now: int,
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "jti": new_jti(),
        "sub": client_id,
        "iat": now,
        "exp": now + lifetime,
        "client_id": client_id,
        "iss": issuer,
        "aud": audience,
    }
    scope_list = list(scopes or ())
    if scope_list:
        claims["scope"] = " ".join(scope_list)
    return claims


def sign(claims: Mapping[str, Any], material: SigningMaterial) -> str:
    return jwt.encode(
        dict(claims),
        material.private_key,
        algorithm=material.algorithm,
        headers={"typ": ACCESS_TOKEN_TYPE, "kid": material.kid},
    )


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def read_header(token: str, max_length: int) -> dict[str, Any]:
    """The JOSE header of ``token``, after the cheap structural checks."""
    if len(token) > max_length:
        # Refused before any base64 decoding.
        raise TokenError("The token is too large.")
    if token.count(".") != 2:
        raise TokenError("The token is not a JWS in compact serialization.")
    try:
        # Bounded before parsing: thousands of "[" would exhaust the parser's recursion (a 500).
        header = safejson.loads(_b64decode(token[: token.index(".")]), MAX_JSON_DEPTH)
    except safejson.JSONNestingError as exc:
        raise TokenError("The token header is nested too deeply.") from exc
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise TokenError("The token header is not valid base64url JSON.") from exc
    if not isinstance(header, dict):
        raise TokenError("The token header is not a JSON object.")
    return header


def check_payload_depth(token: str) -> None:
    """Refuse a payload nested deeper than :data:`MAX_JSON_DEPTH` before PyJWT parses it.

    PyJWT parses the payload with ``json.loads`` once the signature holds; bounding it here keeps
    the answer a clear ``TokenError`` whatever PyJWT release catches or not.
    """
    _, _, rest = token.partition(".")
    try:
        payload = _b64decode(rest[: rest.index(".")])
    except (ValueError, binascii.Error):
        return  # not base64url: PyJWT refuses it as malformed
    try:
        safejson.check_depth(payload, MAX_JSON_DEPTH)
    except safejson.JSONNestingError as exc:
        raise TokenError("The token payload is nested too deeply.") from exc


def verify(
    token: str,
    find_key: Callable[[str], VerificationKey | None],
    *,
    issuer: str,
    audience: str | list[str],
    algorithms: Iterable[str],
    leeway: float,
    max_length: int,
) -> dict[str, Any]:
    """Validate ``token`` as an RFC 9068 access token and return its claims.

    ``find_key(kid)`` returns the verification key for a key ID or None.
    Raises :class:`TokenError` (or :class:`UnknownKeyError`) on any problem.
    """
    header = read_header(token, max_length)
    # RFC 9068 §4: resource servers MUST verify that typ is "at+jwt".
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES:
        raise TokenError('The token type (typ) is not "at+jwt".')
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in _ASYMMETRIC:
        # alg "none", HMAC (with a public key as the secret) and anything not allow-listed.
        raise TokenError("The token's signing algorithm is not accepted.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > _MAX_KID_LENGTH:
        raise TokenError("The token has no usable key ID (kid).")
    key = find_key(kid)
    if key is None:
        raise UnknownKeyError("The token was signed by an unknown key.")
    if key.algorithm != alg:
        # The header must not pick another algorithm than the key's own (RFC 8725 §3.1).
        raise TokenError("The token's algorithm does not match its key.")
    check_payload_depth(token)
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": list(REQUIRED_CLAIMS), "verify_signature": True},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("The token has expired.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenError("The token is not valid yet (iat or nbf in the future).") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenError("The token is not meant for this API (aud).") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenError("The token was issued by another issuer (iss).") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f'The token lacks the required "{exc.claim}" claim.') from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenError("The token signature is invalid.") from exc
    except (jwt.PyJWTError, TypeError, ValueError, OverflowError, RecursionError) as exc:
        # Older PyJWT releases raise TypeError/ValueError for claims of the wrong type
        # (e.g. "nbf": [1]); any of them is a malformed token, never a server error.
        raise TokenError("The token is malformed.") from exc
    for name in ("sub", "client_id", "jti"):
        if not isinstance(claims[name], str):
            raise TokenError(f'The "{name}" claim is not a string.')
    scope = claims.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise TokenError('The "scope" claim is not a string.')
    return claims


def public_jwk(material_public_key: Any, algorithm: str, kid: str) -> dict[str, Any]:
    """The public JWK (RFC 7517) of a key, with ``kid``, ``alg`` and ``use``."""
    jwk: dict[str, Any] = json.loads(get_default_algorithms()[algorithm].to_jwk(material_public_key))
    jwk.pop("key_ops", None)
    jwk.update({"kid": kid, "alg": algorithm, "use": "sig"})
    return jwk


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url without padding)."""
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def key_from_jwk(jwk: Mapping[str, Any], algorithm: str) -> Any:
    return get_default_algorithms()[algorithm].from_jwk(dict(jwk))
