"""Forged and misused access tokens at a protected view: each one is a 401 ``invalid_token``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
import urllib.request
from http import HTTPStatus
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm

from logto_m2m_django.conf import m2m_settings
from tests.security.conftest import DROP, assert_invalid_token, b64url, compact

pytestmark = pytest.mark.django_db


def test_control_a_forger_token_with_the_real_key_is_accepted(forger, call_products):
    # The forger is sound: with nothing wrong, its token passes. Every refusal below is the attack's doing.
    assert call_products(forger.sign()).status_code == HTTPStatus.OK


# -- the algorithm -------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
def test_alg_none_is_refused(forger, call_products, alg):
    header = {"alg": alg, "typ": "at+jwt", "kid": forger.material.kid}
    assert_invalid_token(call_products(compact(header, forger.claims())))
    # Also with the trailing signature segment dropped altogether.
    assert_invalid_token(call_products(compact(header, forger.claims()).rsplit(".", 1)[0] + "."))


def _hs256(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    unsigned = compact(header, claims).rsplit(".", 1)[0]
    signature = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{b64url(signature)}"


def _public_pem(material: Any) -> bytes:
    return material.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_signed_with_the_public_key_pem_is_refused(forger, call_products, alg):
    header = {"alg": alg, "typ": "at+jwt", "kid": forger.material.kid}
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    unsigned = compact(header, forger.claims()).rsplit(".", 1)[0]
    for secret in (_public_pem(forger.material), _public_pem(forger.material).strip()):
        signature = hmac.new(secret, unsigned.encode(), digest).digest()
        assert_invalid_token(call_products(f"{unsigned}.{b64url(signature)}"))


def test_hs256_signed_with_the_published_jwk_is_refused(forger, call_products, api_client):
    jwks = api_client.get("/oidc/jwks").json()
    jwk = next(k for k in jwks["keys"] if k["kid"] == forger.material.kid)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": forger.material.kid}
    for secret in (json.dumps(jwk).encode(), json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()):
        assert_invalid_token(call_products(_hs256(secret, header, forger.claims())))


def test_header_alg_other_than_the_keys_is_refused(forger, call_products):
    # The server's key is ES384; the same EC key used as ES256 (and an RSA key under the
    # server's kid) must not be accepted just because the header says so.
    assert forger.material.algorithm == "ES384"
    p256 = ec.generate_private_key(ec.SECP256R1())
    assert_invalid_token(call_products(forger.sign(key=p256, algorithm="ES256")))
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for alg in ("RS256", "PS256"):
        assert_invalid_token(call_products(forger.sign(key=rsa_key, algorithm=alg)))


def test_algorithm_outside_the_accepted_list_is_refused(forger, call_products, settings):
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "ACCEPTED_ALGORITHMS": ["ES256"]}
    assert_invalid_token(call_products(forger.sign()))


# -- the key ID ---------------------------------------------------------------------


def test_unknown_kid_is_refused(forger, call_products):
    assert_invalid_token(call_products(forger.sign(headers={"kid": "no-such-key"})))


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../etc/passwd",
        "..\\..\\windows\\win.ini",
        "/dev/random",
        "file:///etc/passwd",
        "' OR '1'='1",
        "%00",
        "\x00",
        "kid\r\nX-Injected: 1",
        "*",
        "k" * 257,
        "k" * 4000,
        "",
    ],
)
def test_kid_built_to_attack_the_lookup_is_refused(forger, call_products, kid):
    assert_invalid_token(call_products(forger.sign(headers={"kid": kid})))


@pytest.mark.parametrize("kid", [None, 1, 0, -1, 1.5, True, [], ["k"], {}, {"kid": "x"}])
def test_non_string_kid_is_refused(forger, call_products, kid):
    header = {"alg": "ES384", "typ": "at+jwt", "kid": kid}
    unsigned = compact(header, forger.claims()).rsplit(".", 1)[0]
    token = forger.sign()
    # The real signature over another header: the kid check must refuse it before any key lookup.
    assert_invalid_token(call_products(f"{unsigned}.{token.rsplit('.', 1)[1]}"))


def test_kid_missing_is_refused(forger, call_products):
    header = {"alg": "ES384", "typ": "at+jwt"}
    unsigned = compact(header, forger.claims()).rsplit(".", 1)[0]
    assert_invalid_token(call_products(f"{unsigned}.{forger.sign().rsplit('.', 1)[1]}"))


def test_foreign_key_with_a_known_kid_is_refused(forger, call_products):
    foreign = ec.generate_private_key(ec.SECP384R1())
    assert_invalid_token(call_products(forger.sign(key=foreign)))


# -- key-carrying headers: ignored, never fetched -------------------------------------


class _NoNetwork:
    """Records (and blocks) every outgoing connection and urlopen call."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[Any] = []
        real_connect = socket.socket.connect

        def connect(sock: socket.socket, address: Any) -> Any:
            if sock.family == getattr(socket, "AF_UNIX", None):
                return real_connect(sock, address)
            self.calls.append(("connect", address))
            raise OSError("network disabled by the test")

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls.append(("create_connection", address))
            raise OSError("network disabled by the test")

        def urlopen(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(("urlopen", args))
            raise OSError("network disabled by the test")

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket, "create_connection", create_connection)
        monkeypatch.setattr(urllib.request, "urlopen", urlopen)


def _attacker_headers() -> tuple[Any, dict[str, Any]]:
    attacker = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(ECAlgorithm.to_jwk(attacker.public_key()))
    cert_like = base64.b64encode(b"not really a certificate").decode()
    return attacker, {
        "jku": "http://127.0.0.1:9/jwks.json",
        "jwk": jwk,
        "x5u": "http://127.0.0.1:9/cert.pem",
        "x5c": [cert_like],
    }


@pytest.mark.parametrize("name", ["jku", "jwk", "x5u", "x5c", "all"])
def test_key_carrying_headers_on_an_attacker_token_are_never_used(forger, call_products, monkeypatch, name):
    attacker, headers = _attacker_headers()
    chosen = headers if name == "all" else {name: headers[name]}
    network = _NoNetwork(monkeypatch)
    # With the server's kid (its key is used, the signature fails) and with the attacker's own kid.
    assert_invalid_token(call_products(forger.sign(key=attacker, headers=chosen)))
    assert_invalid_token(call_products(forger.sign(key=attacker, headers={**chosen, "kid": "attacker"})))
    assert network.calls == []


def test_key_carrying_headers_on_a_genuine_token_are_ignored(forger, call_products, monkeypatch):
    _attacker, headers = _attacker_headers()
    network = _NoNetwork(monkeypatch)
    assert call_products(forger.sign(headers=headers)).status_code == HTTPStatus.OK
    assert network.calls == []


# -- typ, aud, iss, lifetime ------------------------------------------------------------


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+JWT ", "application/jwt", "", "at", 1, None, ["at+jwt"]])
def test_typ_other_than_at_jwt_is_refused(forger, call_products, typ):
    assert_invalid_token(call_products(forger.sign(headers={"typ": typ})))


def test_typ_missing_is_refused(forger, call_products):
    header = {"alg": "ES384", "kid": forger.material.kid}
    token = forger.sign()
    unsigned = compact(header, forger.claims()).rsplit(".", 1)[0]
    assert_invalid_token(call_products(f"{unsigned}.{token.rsplit('.', 1)[1]}"))


@pytest.mark.parametrize(
    "aud",
    [
        "https://other.api",
        "https://shopping.api/",
        "https://SHOPPING.api",
        ["https://other.api", "https://another.api"],
        [],
        "",
    ],
)
def test_aud_without_ours_is_refused(forger, call_products, aud):
    assert_invalid_token(call_products(forger.sign(forger.claims(aud=aud))))


def test_aud_list_with_ours_is_accepted(forger, call_products):
    token = forger.sign(forger.claims(aud=["https://other.api", "https://shopping.api"]))
    assert call_products(token).status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "iss", ["https://evil.example.com/oidc", "https://auth.example.com/oidc/", "https://auth.example.com", ""]
)
def test_wrong_issuer_is_refused(forger, call_products, iss):
    assert_invalid_token(call_products(forger.sign(forger.claims(iss=iss))))


def test_expired_token_is_refused(forger, call_products):
    now = int(time.time())
    leeway = m2m_settings.LEEWAY
    assert_invalid_token(call_products(forger.sign(forger.claims(iat=now - 7200, exp=now - leeway - 5))))


def test_expiry_within_the_leeway_is_accepted(forger, call_products):
    now = int(time.time())
    token = forger.sign(forger.claims(iat=now - 7200, exp=now - m2m_settings.LEEWAY // 2))
    assert call_products(token).status_code == HTTPStatus.OK


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_not_yet_valid_beyond_the_leeway_is_refused(forger, call_products, claim):
    future = int(time.time()) + m2m_settings.LEEWAY + 120
    assert_invalid_token(call_products(forger.sign(forger.claims(**{claim: future, "exp": future + 600}))))


@pytest.mark.parametrize("claim", ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"])
def test_each_required_claim_missing_is_refused(forger, call_products, claim):
    assert_invalid_token(call_products(forger.sign(forger.claims(**{claim: DROP}))))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("scope", ["read:products"]),
        ("scope", 1),
        ("scope", {"read:products": True}),
        ("scope", True),
        ("sub", 1),
        ("client_id", ["x"]),
        ("jti", 12345),
        ("exp", "tomorrow"),
        ("iat", "now"),
        ("nbf", "soon"),
    ],
)
def test_claim_of_the_wrong_type_is_refused(forger, call_products, claim, value):
    assert_invalid_token(call_products(forger.sign(forger.claims(**{claim: value}))))


# -- size and shape -----------------------------------------------------------------------


def test_token_over_the_size_limit_is_refused_before_base64_decoding(forger, call_products, monkeypatch):
    limit = m2m_settings.MAX_TOKEN_LENGTH
    padding = "A" * (limit + 1 - len(forger.sign()))
    token = forger.sign(forger.claims(pad=padding))
    assert len(token) > limit
    decoded: list[Any] = []

    def spy(name: str) -> Any:
        real = getattr(base64, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            decoded.append(name)
            return real(*args, **kwargs)

        return wrapper

    for name in ("urlsafe_b64decode", "b64decode", "standard_b64decode"):
        monkeypatch.setattr(base64, name, spy(name))
    response = call_products(token)
    assert_invalid_token(response)
    assert "too large" in response["WWW-Authenticate"]
    assert decoded == []


@pytest.mark.parametrize(
    "token",
    [
        "a",
        "a.b",
        "a.b.c.d",
        "...",
        "e30.e30.",
        "!!!.###.$$$",
        "eyJhbGciOiJFUzM4NCJ9.e30.AAAA",  # header without typ or kid
        "W10.e30.AAAA",  # header is a JSON list
        b64url(b"\xff\xfe") + ".e30.AAAA",  # header not UTF-8
    ],
)
def test_malformed_token_is_refused(call_products, shop, token):
    assert_invalid_token(call_products(token))
