"""RFC 9068 claims, signing and verification: pure functions, no database."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

from logto_m2m_django import tokens

ISSUER = "https://auth.example.com/oidc"
AUDIENCE = "https://shopping.api"


def _private_key(algorithm):
    if algorithm.startswith("ES"):
        curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[algorithm]
        return ec.generate_private_key(curve)
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def es384():
    private = _private_key("ES384")
    jwk = tokens.public_jwk(private.public_key(), "ES384", kid="")
    kid = tokens.jwk_thumbprint(jwk)
    material = tokens.SigningMaterial(kid, "ES384", private)
    public = tokens.VerificationKey(kid, "ES384", tokens.key_from_jwk(jwk, "ES384"))
    return material, public


def claims(**overrides):
    base = tokens.build_claims(
        issuer=ISSUER, client_id="app", audience=AUDIENCE, scopes=["read:products"], lifetime=3600, now=int(time.time())
    )
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def verify(token, public, **overrides):
    options = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "algorithms": ("ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"),
        "leeway": 30,
        "max_length": 8192,
        **overrides,
    }
    return tokens.verify(token, lambda kid: public if kid == public.kid else None, **options)


def raw_token(header, payload, signature=b"sig"):
    def enc(data):
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{enc(header)}.{enc(payload)}.{enc(signature)}"


# -- claims ----------------------------------------------------------------------------------------


def test_build_claims():
    built = tokens.build_claims(
        issuer=ISSUER, client_id="app", audience=AUDIENCE, scopes=["a", "b"], lifetime=120, now=1_000
    )
    assert built["iss"] == ISSUER
    assert built["sub"] == built["client_id"] == "app"
    assert built["aud"] == AUDIENCE
    assert (built["iat"], built["exp"]) == (1_000, 1_120)
    assert built["scope"] == "a b"
    assert len(base64.urlsafe_b64decode(built["jti"] + "==")) >= 16


@pytest.mark.parametrize("scopes", [None, [], ()])
def test_build_claims_without_scopes_has_no_scope_claim(scopes):
    built = tokens.build_claims(issuer=ISSUER, client_id="a", audience=AUDIENCE, scopes=scopes, lifetime=1, now=0)
    assert "scope" not in built


def test_jti_is_unique():
    assert len({tokens.new_jti() for _ in range(1000)}) == 1000


# -- sign and verify ---------------------------------------------------------------------------------


def test_sign_sets_the_rfc_9068_header(es384):
    material, _ = es384
    header = jwt.get_unverified_header(tokens.sign(claims(), material))
    assert header == {"alg": "ES384", "typ": "at+jwt", "kid": material.kid}


def test_round_trip(es384):
    material, public = es384
    verified = verify(tokens.sign(claims(), material), public)
    assert verified["scope"] == "read:products"
    assert verified["sub"] == "app"


@pytest.mark.parametrize("algorithm", ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"])
def test_every_supported_algorithm_round_trips(algorithm):
    private = _private_key(algorithm)
    jwk = tokens.public_jwk(private.public_key(), algorithm, kid="k")
    material = tokens.SigningMaterial("k", algorithm, private)
    public = tokens.VerificationKey("k", algorithm, tokens.key_from_jwk(jwk, algorithm))
    assert verify(tokens.sign(claims(), material), public)["client_id"] == "app"
    assert jwk["alg"] == algorithm
    assert jwk["use"] == "sig"
    assert "d" not in jwk


def test_audience_list_claim_is_accepted(es384):
    material, public = es384
    token = tokens.sign(claims(aud=["https://other.api", AUDIENCE]), material)
    assert verify(token, public)["aud"] == ["https://other.api", AUDIENCE]


def test_application_at_jwt_typ_is_accepted(es384):
    material, public = es384
    token = jwt.encode(
        claims(), material.private_key, algorithm="ES384", headers={"typ": "application/at+jwt", "kid": material.kid}
    )
    assert verify(token, public)["sub"] == "app"


# -- refusals ------------------------------------------------------------------------------------------------


def _refused(token, public, match, **overrides):
    with pytest.raises(tokens.TokenError, match=match) as info:
        verify(token, public, **overrides)
    return info.value


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", 1])
def test_wrong_typ_is_refused(es384, typ):
    # RFC 9068 §4: resource servers MUST verify typ is at+jwt (so an ID token is not an access token).
    material, public = es384
    headers = {"kid": material.kid} | ({"typ": typ} if typ is not None else {})
    token = jwt.encode(claims(), material.private_key, algorithm="ES384", headers=headers)
    if typ is None:
        # PyJWT adds typ "JWT" when none is given.
        assert jwt.get_unverified_header(token)["typ"] == "JWT"
    _refused(token, public, "typ")


def test_alg_none_is_refused(es384):
    _, public = es384
    token = raw_token({"alg": "none", "typ": "at+jwt", "kid": public.kid}, claims(), b"")
    _refused(token, public, "algorithm is not accepted")


def test_hmac_with_the_public_key_as_secret_is_refused(es384):
    # The classic key-confusion attack: HS256 keyed with the public key's PEM.
    _, public = es384
    pem = public.key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    token = raw_token({"alg": "HS256", "typ": "at+jwt", "kid": public.kid}, claims())
    _refused(token, public, "algorithm is not accepted")
    _refused(token, public, "algorithm is not accepted", algorithms=("HS256", "ES384"))
    assert pem  # the attack's ingredient exists, yet it never reaches a MAC check


def test_algorithm_outside_the_allow_list_is_refused(es384):
    material, public = es384
    _refused(tokens.sign(claims(), material), public, "algorithm is not accepted", algorithms=("RS256",))


def test_header_alg_must_match_the_key(es384):
    material, _ = es384
    rsa_key = _private_key("RS256")
    wrong = tokens.VerificationKey(
        material.kid, "RS256", tokens.key_from_jwk(tokens.public_jwk(rsa_key.public_key(), "RS256", "x"), "RS256")
    )
    _refused(tokens.sign(claims(), material), wrong, "does not match its key")


@pytest.mark.parametrize("kid", [None, "", 7, "k" * 257])
def test_unusable_kid_is_refused(es384, kid):
    _, public = es384
    header = {"alg": "ES384", "typ": "at+jwt"} | ({"kid": kid} if kid is not None else {})
    _refused(raw_token(header, claims()), public, "key ID")


def test_unknown_kid_raises_unknown_key_error(es384):
    material, public = es384
    token = jwt.encode(claims(), material.private_key, algorithm="ES384", headers={"typ": "at+jwt", "kid": "other"})
    error = _refused(token, public, "unknown key")
    assert isinstance(error, tokens.UnknownKeyError)


def test_bad_signature_is_refused(es384):
    material, public = es384
    token = tokens.sign(claims(), material)
    header, _, signature = token.split(".")
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims(scope="admin")).encode()).rstrip(b"=").decode()
    _refused(f"{header}.{forged_payload}.{signature}", public, "signature is invalid")


def test_expired_token_is_refused(es384):
    material, public = es384
    now = int(time.time())
    token = tokens.sign(claims(iat=now - 7200, exp=now - 31), material)
    _refused(token, public, "expired")
    # Within the leeway it is still fine.
    assert verify(tokens.sign(claims(iat=now - 7200, exp=now - 5), material), public)


def test_token_from_the_future_is_refused(es384):
    material, public = es384
    now = int(time.time())
    _refused(tokens.sign(claims(iat=now + 3600, exp=now + 7200), material), public, "not valid yet")
    _refused(tokens.sign(claims(nbf=now + 3600), material), public, "not valid yet")


def test_wrong_audience_is_refused(es384):
    material, public = es384
    _refused(tokens.sign(claims(aud="https://other.api"), material), public, "aud")


def test_wrong_issuer_is_refused(es384):
    material, public = es384
    _refused(tokens.sign(claims(iss="https://evil.example/oidc"), material), public, "iss")
    _refused(tokens.sign(claims(iss=ISSUER + "/"), material), public, "iss")


@pytest.mark.parametrize("claim", tokens.REQUIRED_CLAIMS)
def test_missing_required_claim_is_refused(es384, claim):
    material, public = es384
    payload = claims()
    del payload[claim]
    with pytest.raises(tokens.TokenError):
        verify(tokens.sign(payload, material), public)


@pytest.mark.parametrize(("claim", "value"), [("sub", 1), ("client_id", ["a"]), ("jti", 5), ("scope", ["read"])])
def test_claims_of_the_wrong_type_are_refused(es384, claim, value):
    material, public = es384
    with pytest.raises(tokens.TokenError):
        verify(tokens.sign(claims(**{claim: value}), material), public)


@pytest.mark.parametrize(
    ("token", "match"),
    [
        ("x" * 9000, "too large"),
        ("abc", "compact serialization"),
        ("a.b.c.d", "compact serialization"),
        ("!!!.e30.sig", "base64url JSON"),
        (base64.urlsafe_b64encode(b"[1]").decode().rstrip("=") + ".e30.sig", "JSON object"),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("=") + ".e30.sig", "JSON object"),
        ("", "compact serialization"),
    ],
)
def test_malformed_tokens_are_refused_before_any_key_lookup(token, match):
    lookups = []
    with pytest.raises(tokens.TokenError, match=match):
        tokens.verify(
            token,
            lambda kid: lookups.append(kid),
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithms=("ES384",),
            leeway=0,
            max_length=8192,
        )
    assert lookups == []


def test_malformed_payload_is_refused(es384):
    _, public = es384
    token = raw_token({"alg": "ES384", "typ": "at+jwt", "kid": public.kid}, b"not json")
    _refused(token, public, "malformed|signature")


def test_token_error_carries_a_safe_description():
    error = tokens.TokenError("The token has expired.")
    assert error.description == "The token has expired."
    assert error.kind == "invalid_token"


# -- JWK helpers -------------------------------------------------------------------------------------------------


def test_rfc_7638_thumbprint_example():
    # RFC 7638 §3.1: the example RSA key and its SHA-256 thumbprint.
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV"
            "4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d"
            "0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44"
            "-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert tokens.jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_ignores_non_required_members(es384):
    material, _ = es384
    jwk = tokens.public_jwk(material.private_key.public_key(), "ES384", kid="")
    assert tokens.jwk_thumbprint({**jwk, "kid": "anything", "use": "enc"}) == material.kid


# -- parsing once: the cheap refusals and the strict encoding -----------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sign_text(header_segment: str, payload_segment: str, material) -> str:
    """A token whose signature is valid over exactly these two segments, however they are encoded."""
    signing_input = f"{header_segment}.{payload_segment}"
    algorithm = get_default_algorithms()[material.algorithm]
    return f"{signing_input}.{_b64(algorithm.sign(signing_input.encode(), material.private_key))}"


def _header(public, **extra) -> bytes:
    return json.dumps({"alg": "ES384", "typ": "at+jwt", "kid": public.kid, **extra}).encode()


def _non_canonical(segment: str) -> str:
    """The same bytes, encoded with a non-zero bit after the data (RFC 4648 §3.5)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert len(segment) % 4 in (2, 3)
    changed = segment[:-1] + alphabet[alphabet.index(segment[-1]) + 1]
    assert base64.urlsafe_b64decode(changed + "==") == base64.urlsafe_b64decode(segment + "==")
    return changed


@pytest.mark.parametrize("first", [b"not-a-jwt", b"1", b"null", b"\x00{}", b"\xef\xbb\xbf{}"])
def test_a_header_that_cannot_begin_a_json_object_is_refused_before_anything_is_decoded(monkeypatch, first):
    def decoded(*args):
        raise AssertionError("decoded")

    monkeypatch.setattr(tokens, "_segment", decoded)
    lookups = []
    with pytest.raises(tokens.TokenError, match="not a JSON object"):
        tokens.verify(
            f"{_b64(first)}.e30.c2ln",
            lookups.append,
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithms=("ES384",),
            leeway=0,
            max_length=8192,
        )
    assert lookups == []


@pytest.mark.parametrize("prefix", [b" ", b"\t", b"\n", b"\r", b"\r\n  "])
def test_a_header_may_begin_with_json_whitespace(es384, prefix):
    material, public = es384
    token = _sign_text(_b64(prefix + _header(public)), _b64(json.dumps(claims()).encode()), material)
    assert verify(token, public)["sub"] == "app"


@pytest.mark.parametrize(
    "raw",
    [b" " + b"[" * 5000, b"\n" + b'{"a":' * 5000, b"[" * (tokens.MAX_JSON_DEPTH + 1)],
    ids=["ws-arrays", "ws-objects", "17"],
)
def test_a_deep_header_past_the_first_character_check_is_refused_as_nested(es384, raw):
    _, public = es384
    _refused(f"{_b64(raw)}.e30.c2ln", public, "nested too deeply", max_length=65536)


def test_payload_depth_is_bounded_at_max_json_depth_before_the_signature_check(es384):
    material, public = es384
    header = _b64(_header(public))

    def nested(levels):
        # The claims object is level 1; "x" adds the rest.
        value: object = 1
        for _ in range(levels - 1):
            value = [value]
        return _b64(json.dumps(claims(x=value)).encode())

    assert verify(_sign_text(header, nested(tokens.MAX_JSON_DEPTH), material), public)["x"]
    _refused(_sign_text(header, nested(tokens.MAX_JSON_DEPTH + 1), material), public, "nested too deeply")
    # Many brackets but shallow: the bracket count alone does not refuse it.
    wide = _b64(json.dumps(claims(x=[[1]] * 40)).encode())
    assert verify(_sign_text(header, wide, material), public)["x"] == [[1]] * 40


def _payload_with_tail(rest):
    """Claims whose base64url text has length 4n + rest."""
    for size in range(8):
        payload = _b64(json.dumps(claims(pad="p" * size)).encode())
        if len(payload) % 4 == rest:
            return payload
    raise AssertionError(rest)


@pytest.mark.parametrize("rest", [2, 3])
def test_a_payload_in_non_canonical_base64url_is_refused_even_when_signed(es384, rest):
    material, public = es384
    header, payload = _b64(_header(public)), _payload_with_tail(rest)
    assert verify(_sign_text(header, payload, material), public)["sub"] == "app"  # the control
    _refused(_sign_text(header, _non_canonical(payload), material), public, "malformed")


def test_a_header_in_non_canonical_base64url_is_refused(es384):
    material, public = es384
    header = _b64(_header(public, x="y" * next(n for n in range(4) if len(_b64(_header(public, x="y" * n))) % 4)))
    _refused(_sign_text(_non_canonical(header), _b64(json.dumps(claims()).encode()), material), public, "base64url")


@pytest.mark.parametrize("change", ["padding", "standard-alphabet", "impossible-length"])
def test_a_payload_that_is_not_strict_base64url_is_refused_even_when_signed(es384, change):
    # RFC 7515 §2: base64url with the padding left out.
    material, public = es384
    header = _b64(_header(public))
    payload = _payload_with_tail(2)
    if change == "padding":
        payload += "=="
    elif change == "standard-alphabet":
        # "?>" encodes to text with "-" or "_" at one of its alignments: written with "+" and "/" instead.
        texts = (_b64(json.dumps(claims(note="?>" * n + "~")).encode()) for n in range(12))
        payload = next(t for t in texts if "-" in t or "_" in t).replace("-", "+").replace("_", "/")
    else:
        payload += "A" * 3  # length 4n + 1: no byte string encodes to it
    _refused(_sign_text(header, payload, material), public, "malformed")


def test_a_padded_signature_is_refused(es384):
    material, public = es384
    token = tokens.sign(claims(), material)
    _refused(token + "==", public, "signature is invalid")


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN", '"9999999999"', "true", "[1]"])
@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_a_time_claim_that_is_not_a_finite_number_is_refused(es384, claim, value):
    # Python's JSON parser reads Infinity and NaN; PyJWT used to turn "9999999999" into a number.
    material, public = es384
    text = json.dumps(claims(**{claim: 0})).replace(f'"{claim}": 0', f'"{claim}": {value}')
    assert value in text
    _refused(_sign_text(_b64(_header(public)), _b64(text.encode()), material), public, "NumericDate")


@pytest.mark.parametrize("extra", [{"crit": ["exp"], "exp": 1}, {"crit": ["b64"], "b64": False}, {"b64": False}])
def test_a_critical_header_extension_is_refused(es384, extra):
    # RFC 7515 §4.1.11: this server understands no extension, so it must refuse any marked critical.
    material, public = es384
    payload = _b64(json.dumps(claims()).encode())
    assert verify(_sign_text(_b64(_header(public)), payload, material), public)  # the control
    _refused(_sign_text(_b64(_header(public, **extra)), payload, material), public, "crit")


def test_a_key_on_another_curve_than_its_algorithm_is_refused_not_an_error(es384):
    material, _ = es384
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    rsa_public = _private_key("RS256").public_key()
    for wrong in (p256, rsa_public):
        mislabelled = tokens.VerificationKey(material.kid, "ES384", wrong)
        _refused(tokens.sign(claims(), material), mislabelled, "signature is invalid")


def test_a_short_rsa_key_is_warned_about_as_pyjwt_does():
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    material = tokens.SigningMaterial("short", "RS256", private)
    public = tokens.VerificationKey("short", "RS256", private.public_key())
    token = _sign_text(
        _b64(json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": "short"}).encode()),
        _b64(json.dumps(claims()).encode()),
        material,
    )
    with pytest.warns(jwt.InsecureKeyLengthWarning):
        assert verify(token, public)["sub"] == "app"
