"""Garbage at ``POST /oidc/token``: every answer a documented status with an RFC 6749 error body.

Property-based (hypothesis) over form and JSON bodies, content types, Basic headers and
encodings, plus hand-picked edge cases. Example counts are kept small: the machine is shared.
"""

from __future__ import annotations

import base64
import json
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logto_m2m_django.conf import m2m_settings
from tests.conftest import FORM, SHOP

pytestmark = pytest.mark.django_db

#: What the README's error table lists for the token endpoint.
DOCUMENTED_STATUSES = {200, 400, 401, 405, 413, 415, 429, 503}
RFC_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
    "temporarily_unavailable",
    "too_many_requests",
}
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_documented(response: Any, *secrets: str) -> None:
    """A documented status, JSON, no-store, an RFC 6749 §5.2 body on errors, no secret echoed."""
    assert response.status_code in DOCUMENTED_STATUSES, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    assert response["Cache-Control"] == "no-store"
    body = json.loads(response.content)
    assert isinstance(body, dict)
    if response.status_code == HTTPStatus.OK:
        assert body["token_type"] == "Bearer"
        assert isinstance(body["access_token"], str)
    else:
        assert set(body) <= {"error", "error_description", "error_uri"}, body
        assert body["error"] in RFC_ERRORS, body
        assert isinstance(body.get("error_description", ""), str)
    text = response.content.decode("utf-8", "replace")
    for secret in secrets:
        assert secret not in text


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode("ascii")


# -- strategies ----------------------------------------------------------------------------

NAMES = st.sampled_from(
    ["grant_type", "resource", "scope", "client_id", "client_secret", "access_token", "", "grant_type[]", "x"]
)
EDGE_VALUES = st.sampled_from(
    [
        "client_credentials",
        SHOP,
        SHOP + "#frag",
        "read:products",
        "",
        " ",
        "%",
        "%zz",
        "%00",
        "%ff%fe",
        "%C3%28",
        "+",
        "%2B",
        "\x00",
        "\r\n",
        "\x1b[31m",
        "\u202e",
        "\ud800",
        "https://",
        "urn:x",
        "a" * 5000,
    ]
)
VALUES = st.one_of(EDGE_VALUES, st.text(max_size=30), st.integers(100, 20_000).map(lambda n: "v" * n))
CONTENT_TYPES = st.sampled_from(
    [
        FORM,
        FORM + "; charset=utf-8",
        FORM + "; charset=latin-1",
        FORM + "; charset=utf-16",
        FORM + "; charset=no-such-charset",
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/plain",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        "",
        ";;;",
    ]
)


def _quote(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"))


@st.composite
def raw_form(draw: Any) -> bytes:
    """A form body, quoted or raw (so percent-escapes may be broken), in a random encoding."""
    pairs = draw(st.lists(st.tuples(NAMES, VALUES), max_size=6))
    quoted = draw(st.booleans())
    text = "&".join(f"{_quote(k) if quoted else k}={_quote(v) if quoted else v}" for k, v in pairs)
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-16", "surrogate"]))
    if encoding == "surrogate":
        return text.encode("utf-8", "surrogatepass")
    return text.encode(encoding, "replace")


JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), VALUES)
JSON_VALUES = st.recursive(
    JSON_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3), max_leaves=8
)


@st.composite
def json_body(draw: Any) -> bytes:
    shape = draw(st.sampled_from(["object", "any", "broken"]))
    if shape == "object":
        return json.dumps(draw(st.dictionaries(NAMES, JSON_VALUES, max_size=6))).encode()
    if shape == "any":
        return json.dumps(draw(JSON_VALUES)).encode()
    return draw(st.binary(max_size=60))


def nasty_basic(client_id: str, secret: str) -> list[str]:
    """Malformed or twisted Basic headers around the real credentials."""
    real = f"{client_id}:{secret}".encode()
    return [
        "Basic",
        "Basic ",
        "Basic ====",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        _basic(b":"),
        _basic(b":" + secret.encode()),
        _basic(client_id.encode() + b":"),
        _basic(b"%zz:%zz"),
        _basic(b"%00:%00"),
        _basic(client_id.encode() + b"%00:" + secret.encode()),
        _basic(b"\xff\xfe:\xc3\x28"),
        _basic(real + b"\x00"),
        _basic(real) + "=",
        _basic(real)[:-2],
        _basic(real).lower(),
        "basic " + _basic(real).split(" ")[1],
        _basic(real) + ", " + _basic(real),
        "Basic " + "A" * 5000,
        "Bearer " + _basic(real).split(" ")[1],
        "Digest username=x",
        "\x00",
        _basic(client_id.encode() + b"%3A:" + secret.encode()),
        _basic(client_id.encode() + b":" + secret.encode() + b"%"),
        _basic(client_id.encode() + b":" + secret.encode() + b"%2"),
        _basic(client_id.upper().encode() + b":" + secret.encode()),
        _basic(client_id.encode() + b":" + secret.encode()[:-1]),
        _basic(client_id.encode() + b":" + secret.encode() + b"\r\n"),
    ]


def basic_headers(client_id: str, secret: str) -> Any:
    """Authorization headers from nonsense to the real credentials with a twist."""
    return st.one_of(
        st.none(),
        st.just(_basic(f"{client_id}:{secret}".encode())),
        st.binary(max_size=80).map(_basic),  # random bytes: invalid UTF-8, no colon, ...
        st.text(max_size=60).map(lambda t: "Basic " + t),  # not base64 at all
        st.sampled_from(nasty_basic(client_id, secret)),
    )


# -- properties ----------------------------------------------------------------------------


def _post(client: Client, body: bytes, content_type: str, authorization: str | None, **extra: Any) -> Any:
    if authorization is not None:
        extra["HTTP_AUTHORIZATION"] = authorization
    return client.generic("POST", "/oidc/token", body, content_type=content_type, **extra)


def test_form_bodies(shop):
    client = Client()

    @FUZZ
    @given(body=raw_form(), content_type=CONTENT_TYPES, authorization=basic_headers(shop.client_id, shop.secret))
    def check(body: bytes, content_type: str, authorization: str | None) -> None:
        assert_documented(_post(client, body, content_type, authorization), shop.secret)

    check()


def test_json_bodies(shop):
    client = Client()

    @FUZZ
    @given(body=json_body(), authorization=basic_headers(shop.client_id, shop.secret))
    def check(body: bytes, authorization: str | None) -> None:
        assert_documented(_post(client, body, "application/json", authorization), shop.secret)

    check()


def test_malformed_basic_headers(shop):
    body = urlencode({"grant_type": "client_credentials", "resource": SHOP}).encode()
    for authorization in nasty_basic(shop.client_id, shop.secret):
        response = _post(Client(), body, FORM, authorization)
        assert_documented(response, shop.secret)
        if authorization.split(" ")[-1] != shop.basic().split(" ")[-1]:
            assert response.status_code != HTTPStatus.OK, authorization


def test_valid_body_with_fuzzed_credentials(shop):
    client = Client()
    body = urlencode({"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products"}).encode()

    @FUZZ
    @given(authorization=basic_headers(shop.client_id, shop.secret))
    def check(authorization: str | None) -> None:
        response = _post(client, body, FORM, authorization)
        assert_documented(response, shop.secret)
        if authorization != shop.basic():
            # Only the exact credentials get a token; case changes, padding games and extras do not.
            assert response.status_code != HTTPStatus.OK or authorization in ("basic " + shop.basic().split(" ")[1],)

    check()


def test_client_secret_post_with_fuzzed_values(shop):
    client = Client()

    @FUZZ
    @given(client_id=VALUES, client_secret=VALUES, repeat=st.booleans())
    def check(client_id: str, client_secret: str, repeat: bool) -> None:
        pairs = [("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", client_secret)]
        if repeat:
            pairs.append(("client_secret", shop.secret))
        body = urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode()
        response = _post(client, body, FORM, None)
        assert_documented(response, shop.secret)
        assert response.status_code != HTTPStatus.OK

    check()


def test_extra_headers_and_lying_content_length(shop):
    client = Client()
    good = urlencode({"grant_type": "client_credentials", "resource": SHOP}).encode()

    @FUZZ
    @given(
        length=st.sampled_from(["", "abc", "-1", "0", "1", "99999999999", str(len(good) + 5), "1e3", " 12 "]),
        forwarded=st.one_of(st.none(), st.text(max_size=40)),
        query=st.sampled_from(["", "grant_type=client_credentials", "client_secret=x", "%zz", "a=\x00"]),
    )
    def check(length: str, forwarded: str | None, query: str) -> None:
        extra: dict[str, Any] = {"CONTENT_LENGTH": length, "QUERY_STRING": query}
        if forwarded is not None:
            extra["HTTP_X_FORWARDED_FOR"] = forwarded
        assert_documented(_post(client, good, FORM, shop.basic(), **extra), shop.secret)

    check()


# -- hand-picked cases ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_other_methods(shop, method):
    response = Client().generic(method, "/oidc/token", b"", HTTP_AUTHORIZATION=shop.basic())
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json()["error"] == "invalid_request"


def test_options_issues_nothing(shop):
    # The token endpoint serves POST only (RFC 6749 §3.2): OPTIONS is one more other method, no token, no secret.
    response = Client().options("/oidc/token", HTTP_AUTHORIZATION=shop.basic())
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json()["error"] == "invalid_request"
    assert "access_token" not in response.json()
    assert shop.secret not in response.content.decode()


@pytest.mark.parametrize("content_type", [FORM, "application/json"])
def test_body_over_the_limit(shop, content_type):
    size = m2m_settings.MAX_TOKEN_REQUEST_BYTES + 1
    body = ("scope=" + "a" * size).encode() if content_type == FORM else json.dumps({"scope": "a" * size}).encode()
    response = _post(Client(), body, content_type, shop.basic())
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE  # README: 413 invalid_request
    assert response.json()["error"] == "invalid_request"
    assert_documented(response, shop.secret)


def test_many_fields(shop):
    body = "&".join(f"f{i}=1" for i in range(3000)).encode()
    assert_documented(_post(Client(), body, FORM, shop.basic()), shop.secret)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b"[]",
        b"null",
        b'"client_credentials"',
        b'{"grant_type": ["client_credentials"]}',
        b'{"grant_type": {"$ne": null}}',
        b'{"grant_type": "client_credentials", "resource": [[["deep"]]]}',
        b'{"grant_type": "client_credentials", "resource": ["' + SHOP.encode() + b'", "' + SHOP.encode() + b'"]}',
        b'{"grant_type": "client_credentials", "grant_type": "password"}',
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
        b"\xef\xbb\xbf{}",
        b"\x00",
    ],
)
def test_json_edge_cases(shop, body):
    assert_documented(_post(Client(), body, "application/json", shop.basic()), shop.secret)


def test_repeated_parameters(shop):
    base = [("grant_type", "client_credentials"), ("resource", SHOP)]
    for name, value in (("grant_type", "client_credentials"), ("resource", SHOP), ("scope", "read:products")):
        for extra in ([(name, value)], [(name, value), (name, value)]):
            body = urlencode([*base, (name, value), *extra]).encode()
            response = _post(Client(), body, FORM, shop.basic())
            assert response.status_code == HTTPStatus.BAD_REQUEST
            assert_documented(response, shop.secret)
    body = urlencode([*base, ("client_id", shop.client_id), ("client_id", shop.client_id)]).encode()
    assert _post(Client(), body, FORM, shop.basic()).status_code == HTTPStatus.BAD_REQUEST
