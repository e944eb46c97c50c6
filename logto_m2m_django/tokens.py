"""RFC 9068 JWT access tokens: claims, signing and verification.

Pure functions over PyJWT (its ``encode`` and its algorithm objects): no models, no requests, no
settings. The callers (the token endpoint and the DRF authentication class) pass in the keys and
the policy.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import math
import secrets
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.algorithms import Algorithm, get_default_algorithms
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
_BASE64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_BASE64URL_CHARACTERS = frozenset(_BASE64URL_ALPHABET.decode())
_TO_STANDARD_BASE64 = bytes.maketrans(b"-_", b"+/")
# RFC 4648 §3.5: in a canonical encoding the bits after the data are zero, so a segment of length
# 4n+2 ends with a character whose low 4 bits are zero, one of 4n+3 with one whose low 2 bits are.
_CANONICAL_LAST = {2: frozenset(b"AQgw"), 3: frozenset(b"AEIMQUYcgkosw048")}
_JSON_WHITESPACE = b" \t\n\r"
# The first base64url character carries the top 6 bits of the first byte: "e" for "{", "W" for "[",
# "I" for a space, "C" for a tab or a line feed, "D" for a carriage return. No other first character
# can start a header that is JSON text beginning with an object, an array or whitespace.
_HEADER_STARTS = frozenset("eWICD")


class TokenError(Exception):
    """A token is not acceptable. ``description`` is safe to show to the caller."""

    def __init__(self, description: str, *, kind: str = "invalid_token") -> None:
        super().__init__(description)
        self.description = description
        self.kind = kind


class UnknownKeyError(TokenError):
    """The token names a key (``kid``) that the key set does not hold."""


#: A token after :func:`parse`: its JOSE header, the signing input, and its payload and signature
#: segments, still base64url-encoded.
ParsedToken = tuple[dict[str, Any], bytes, bytes, bytes]


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


def _segment(encoded: bytes) -> bytes:
    """Decode one base64url segment of a compact JWS (RFC 7515 §2: no padding), strictly.

    Only the base64url alphabet, no impossible length and no non-zero trailing bits: one text
    for each decoded value, as PyJWT requires. Raises ``ValueError``.
    """
    rest = len(encoded) % 4
    if rest == 1 or encoded.translate(None, _BASE64URL_ALPHABET):
        raise ValueError("not base64url")
    if rest and encoded[-1] not in _CANONICAL_LAST[rest]:
        raise ValueError("not canonical base64url")
    return binascii.a2b_base64(encoded.translate(_TO_STANDARD_BASE64) + b"=="[: (4 - rest) % 4])


def parse(token: str, max_length: int) -> ParsedToken:
    """The cheap structural checks, then the JOSE header parsed; the other segments are left encoded.

    Returns ``(header, signing_input, payload_segment, signature_segment)`` for :func:`verify_parsed`.
    The checks run cheapest first, so that garbage is refused before anything is decoded.
    Raises :class:`TokenError`.
    """
    if len(token) > max_length:
        # Refused before any base64 decoding.
        raise TokenError("The token is too large.")
    if token.count(".") != 2:
        raise TokenError("The token is not a JWS in compact serialization.")
    if token[:1] not in _HEADER_STARTS:
        # Its first byte is not one that starts a JSON object (or array, or whitespace): refused before
        # anything is decoded. The bytes that do go on to the depth check and the parser.
        if token[:1] not in _BASE64URL_CHARACTERS:
            raise TokenError("The token header is not valid base64url JSON.")
        raise TokenError("The token header is not a JSON object.")
    if not token.isascii():
        raise TokenError("The token is not a JWS in compact serialization.")
    raw = token.encode("ascii")
    first = raw.index(b".")
    second = raw.index(b".", first + 1)
    try:
        header_raw = _segment(raw[:first])
    except (ValueError, binascii.Error) as exc:
        raise TokenError("The token header is not valid base64url JSON.") from exc
    try:
        # Bounded before parsing: thousands of "[" would exhaust the parser's recursion (a 500).
        safejson.check_depth(header_raw, MAX_JSON_DEPTH)
    except safejson.JSONNestingError as exc:
        raise TokenError("The token header is nested too deeply.") from exc
    if not header_raw.lstrip(_JSON_WHITESPACE).startswith(b"{"):
        # Whatever else it is, it is not a JSON object: refused without parsing it.
        raise TokenError("The token header is not a JSON object.")
    try:
        header = json.loads(header_raw.decode("utf-8"))
    except ValueError as exc:
        raise TokenError("The token header is not valid base64url JSON.") from exc
    if not isinstance(header, dict):
        raise TokenError("The token header is not a JSON object.")
    return header, raw[:second], raw[first + 1 : second], raw[second + 1 :]


def read_header(token: str, max_length: int) -> dict[str, Any]:
    """The JOSE header of ``token``, after the cheap structural checks."""
    return parse(token, max_length)[0]


def check_payload_depth(token: str) -> None:
    """Refuse a payload nested deeper than :data:`MAX_JSON_DEPTH` before it is parsed."""
    _, _, rest = token.partition(".")
    try:
        payload = _b64decode(rest[: rest.index(".")])
    except (ValueError, binascii.Error):
        return  # not base64url: refused as malformed when it is decoded
    try:
        safejson.check_depth(payload, MAX_JSON_DEPTH)
    except safejson.JSONNestingError as exc:
        raise TokenError("The token payload is nested too deeply.") from exc


@functools.cache
def _algorithm(name: str) -> Algorithm:
    return get_default_algorithms()[name]


def _check_signature(algorithm: str, key: Any, signing_input: bytes, signature_segment: bytes) -> None:
    """RFC 7515 §5.2: the signature over ``signing_input``, with PyJWT's algorithm and key checks."""
    try:
        alg = _algorithm(algorithm)
    except KeyError as exc:  # not implemented by this PyJWT (cryptography missing)
        raise TokenError("The token's signing algorithm is not accepted.") from exc
    try:
        signature = _segment(signature_segment)
        # The key must suit the algorithm (type, and the curve for ES*): PyJWT's own check.
        prepared = alg.prepare_key(key)
    except (ValueError, binascii.Error, TypeError, jwt.PyJWTError) as exc:
        raise TokenError("The token signature is invalid.") from exc
    weak = alg.check_key_length(prepared)
    if weak:
        warnings.warn(weak, jwt.InsecureKeyLengthWarning, stacklevel=3)
    try:
        valid = alg.verify(signing_input, prepared, signature)
    except (ValueError, TypeError) as exc:  # a key object the algorithm can't use: never a 500
        raise TokenError("The token signature is invalid.") from exc
    if not valid:
        raise TokenError("The token signature is invalid.")


def _numeric_date(claims: Mapping[str, Any], name: str) -> float:
    """A NumericDate claim (RFC 7519 §2): a JSON number, finite (Python's parser reads NaN and Infinity)."""
    value = claims[name]
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # however large: the comparisons with the clock stay exact
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise TokenError(f'The "{name}" claim is not a NumericDate.')


def _check_claims(claims: dict[str, Any], *, issuer: str, audience: str | list[str], leeway: float, now: float) -> None:
    """RFC 9068 §4 / RFC 7519 §4.1: required claims, lifetime, issuer and audience (PyJWT's order)."""
    for name in REQUIRED_CLAIMS:
        if claims.get(name) is None:
            raise TokenError(f'The token lacks the required "{name}" claim.')
    if _numeric_date(claims, "iat") > now + leeway:
        raise TokenError("The token is not valid yet (iat or nbf in the future).")
    if "nbf" in claims and _numeric_date(claims, "nbf") > now + leeway:
        raise TokenError("The token is not valid yet (iat or nbf in the future).")
    if _numeric_date(claims, "exp") <= now - leeway:
        raise TokenError("The token has expired.")
    if claims["iss"] != issuer:
        raise TokenError("The token was issued by another issuer (iss).")
    aud = claims["aud"]
    if not aud:
        raise TokenError('The token lacks the required "aud" claim.')
    granted = [aud] if isinstance(aud, str) else aud
    if not isinstance(granted, list) or not all(isinstance(each, str) for each in granted):
        raise TokenError("The token is not meant for this API (aud).")
    wanted = [audience] if isinstance(audience, str) else audience
    if not any(each in granted for each in wanted):
        raise TokenError("The token is not meant for this API (aud).")
    for name in ("sub", "client_id", "jti"):
        if not isinstance(claims[name], str):
            raise TokenError(f'The "{name}" claim is not a string.')
    scope = claims.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise TokenError('The "scope" claim is not a string.')


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
    return verify_parsed(
        parse(token, max_length), find_key, issuer=issuer, audience=audience, algorithms=algorithms, leeway=leeway
    )


def verify_parsed(
    parsed: ParsedToken,
    find_key: Callable[[str], VerificationKey | None],
    *,
    issuer: str,
    audience: str | list[str],
    algorithms: Iterable[str],
    leeway: float,
) -> dict[str, Any]:
    """:func:`verify` for a token that went through :func:`parse` already.

    Each segment is decoded and parsed once: the header by :func:`parse`, the payload here after
    the signature holds. The signature is checked by PyJWT's algorithm objects.
    """
    header, signing_input, payload_segment, signature_segment = parsed
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
    if "crit" in header or header.get("b64", True) is not True:
        # RFC 7515 §4.1.11: no extension is understood here, so none may be critical (RFC 7797's
        # unencoded payload included).
        raise TokenError("The token header names an extension this server does not support (crit).")
    key = find_key(kid)
    if key is None:
        raise UnknownKeyError("The token was signed by an unknown key.")
    if key.algorithm != alg:
        # The header must not pick another algorithm than the key's own (RFC 8725 §3.1).
        raise TokenError("The token's algorithm does not match its key.")
    try:
        payload = _segment(payload_segment)
    except (ValueError, binascii.Error) as exc:
        raise TokenError("The token is malformed.") from exc
    try:
        # Before the signature: a signed payload too deep to parse is refused all the same.
        safejson.check_depth(payload, MAX_JSON_DEPTH)
    except safejson.JSONNestingError as exc:
        raise TokenError("The token payload is nested too deeply.") from exc
    _check_signature(alg, key.key, signing_input, signature_segment)
    try:
        claims = json.loads(payload.decode("utf-8"))
    except ValueError as exc:
        raise TokenError("The token is malformed.") from exc
    if not isinstance(claims, dict):
        raise TokenError("The token is malformed.")
    _check_claims(claims, issuer=issuer, audience=audience, leeway=leeway, now=time.time())
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
