"""POST /oidc/token, case by case (DESIGN.md section 3), and the JWT it issues (section 4)."""

from __future__ import annotations

import base64
import io
import json
from datetime import timedelta
from http import HTTPStatus
from urllib.parse import quote_plus, urlencode

import jwt
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from oauth2_provider.models import AccessToken, IDToken, RefreshToken, get_application_model

from logto_m2m_django.keys import key_store
from logto_m2m_django.models import ApplicationSecret, M2MApplication, Resource, Scope, SigningKey
from logto_m2m_django.provisioning import add_secret, create_application
from tests.conftest import FORM, SHOP, cold_grant_cache

pytestmark = pytest.mark.django_db

HASH_PREFIX = "logto_m2m_hmac_sha256$"
ISSUER = "https://auth.example.com/oidc"
JSON = "application/json"


def post(api_client, body="", *, content_type=FORM, auth=None, path="/oidc/token"):
    """POST a raw body (a dict is form-encoded) to the token endpoint."""
    if isinstance(body, dict):
        body = urlencode(body, doseq=True)
    extra = {"HTTP_AUTHORIZATION": auth} if auth is not None else {}
    return api_client.post(path, body, content_type=content_type, **extra)


def grant(**extra):
    return {"grant_type": "client_credentials", "resource": SHOP, **extra}


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def assert_no_store(response):
    # RFC 6749 §5.1: token responses must not be cached.
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"


def assert_error(response, status, error, description=None):
    """RFC 6749 §5.2 error: the status, a JSON body of exactly error + error_description, no-store."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert body["error_description"]
    if description is not None:
        assert body["error_description"] == description
    assert_no_store(response)
    return body


@pytest.fixture
def no_activity_log():
    """Query budgets are about the grant itself: the optional activity log (one INSERT) is off."""
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "TOKEN_ACTIVITY_LOG": False}):
        yield


def jwks_set(api_client):
    return jwt.PyJWKSet.from_dict(api_client.get("/oidc/jwks").json())


def decode(api_client, token, audience=SHOP):
    """Verify the token against the published JWKS, as a resource server would."""
    header = jwt.get_unverified_header(token)
    key = jwks_set(api_client)[header["kid"]]
    claims = jwt.decode(token, key, algorithms=[header["alg"]], audience=audience, issuer=ISSUER)
    return header, claims


# -- client authentication -------------------------------------------------------------------------


def test_client_secret_basic_issues_a_token(shop, api_client):
    response = post(api_client, grant(scope="read:products"), auth=shop.basic())
    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "read:products"
    assert_no_store(response)
    assert "WWW-Authenticate" not in response


def test_client_secret_post_issues_a_token(shop, api_client):
    response = post(api_client, grant(client_id=shop.client_id, client_secret=shop.secret, scope="read:products"))
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["scope"] == "read:products"


def test_basic_credentials_are_form_urlencoded_before_base64(shop, api_client):
    # RFC 6749 §2.3.1: a ":" in the client ID travels as %3A inside the Basic credentials.
    app, secret = create_application("Colon app", roles=[shop.role], client_id="svc:orders+1")
    raw = f"{quote_plus(app.client_id)}:{quote_plus(secret)}"
    response = post(api_client, grant(), auth="Basic " + base64.b64encode(raw.encode()).decode())
    assert response.status_code == HTTPStatus.OK, response.content
    _, claims = decode(api_client, response.json()["access_token"])
    assert claims["client_id"] == "svc:orders+1"


def test_basic_with_the_same_client_id_in_the_body_is_accepted(shop, api_client):
    response = post(api_client, grant(client_id=shop.client_id), auth=shop.basic())
    assert response.status_code == HTTPStatus.OK


def test_both_authentication_methods_at_once_are_refused(shop, api_client):
    response = post(api_client, grant(client_id=shop.client_id, client_secret=shop.secret), auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")


def test_basic_and_a_different_body_client_id_are_refused(shop, api_client):
    response = post(api_client, grant(client_id="someone-else"), auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")


def test_unknown_client_and_wrong_secret_get_the_same_answer_with_basic(shop, api_client):
    unknown = post(api_client, grant(), auth=basic("no-such-app-000000000", shop.secret))
    wrong = post(api_client, grant(), auth=basic(shop.client_id, "x" * 43))
    body = assert_error(unknown, HTTPStatus.UNAUTHORIZED, "invalid_client")
    assert wrong.json() == body
    assert wrong.status_code == unknown.status_code
    assert dict(wrong.headers) == dict(unknown.headers)
    # RFC 6749 §5.2: a client that used HTTP authentication gets a challenge of the same scheme.
    assert unknown["WWW-Authenticate"] == 'Basic realm="api"'


def test_unknown_client_and_wrong_secret_get_the_same_answer_with_post(shop, api_client):
    unknown = post(api_client, grant(client_id="no-such-app-000000000", client_secret=shop.secret))
    wrong = post(api_client, grant(client_id=shop.client_id, client_secret="x" * 43))
    assert_error(unknown, HTTPStatus.UNAUTHORIZED, "invalid_client")
    assert (wrong.status_code, wrong.content, dict(wrong.headers)) == (
        unknown.status_code,
        unknown.content,
        dict(unknown.headers),
    )
    assert "WWW-Authenticate" not in unknown


def test_unknown_client_and_wrong_secret_cost_the_same_queries(
    no_activity_log, shop, api_client, django_assert_num_queries
):
    key_store.signing_material()
    post(api_client, grant(), auth=shop.basic())  # the client is in the grant cache now
    cold_grant_cache()
    post(api_client, grant(), auth=shop.basic())
    # A wrong secret is never answered from the cache: both take the database path.
    with django_assert_num_queries(1):
        post(api_client, grant(), auth=basic("no-such-app-000000000", shop.secret))
    with django_assert_num_queries(1):
        post(api_client, grant(), auth=basic(shop.client_id, "x" * 43))


def test_no_credentials_is_invalid_client_without_a_challenge(shop, api_client):
    response = post(api_client, grant())
    assert_error(response, HTTPStatus.UNAUTHORIZED, "invalid_client")
    assert "WWW-Authenticate" not in response


def test_client_id_without_secret_is_invalid_client(shop, api_client):
    response = post(api_client, grant(client_id=shop.client_id))
    assert_error(response, HTTPStatus.UNAUTHORIZED, "invalid_client")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic ",
        "Basic !!!not-base64!!!",
        "Basic " + _b64(b"no-colon-at-all"),
        "Basic " + _b64(b":secret-without-id"),
        "Basic " + _b64(b"id-without-secret:"),
        "Basic " + _b64(b"\xff\xfe:\xfd"),
        "Basic " + _b64(b"id%ff:secret"),
        "Basic " + _b64(b"id\x00nul:secret"),
        "Basic " + _b64(b"id:sec\x00ret"),
        "Basic " + _b64(b"id\n:secret"),
        "Basic " + "QUJD" * 2000,
        "Basic " + _b64(b"a" * 600 + b":" + b"b" * 10),
        "Basic w6k=",
        "Bearer some-token",
        "Digest username=x",
    ],
)
def test_malformed_authorization_header_is_invalid_client(shop, api_client, header):
    response = post(api_client, grant(), auth=header)
    assert_error(response, HTTPStatus.UNAUTHORIZED, "invalid_client")
    assert response["WWW-Authenticate"] == 'Basic realm="api"'


def test_non_ascii_authorization_header_is_invalid_client(shop, api_client):
    response = api_client.post("/oidc/token", urlencode(grant()), content_type=FORM, HTTP_AUTHORIZATION="Basic é")
    assert_error(response, HTTPStatus.UNAUTHORIZED, "invalid_client")


# -- named secrets -----------------------------------------------------------------------------------


def test_named_secrets_work_with_both_methods(shop, api_client):
    _, named = add_secret(shop.app, "ci")
    assert post(api_client, grant(), auth=shop.basic(secret=named)).status_code == HTTPStatus.OK
    assert post(api_client, grant(client_id=shop.client_id, client_secret=named)).status_code == HTTPStatus.OK
    # The default secret keeps working next to it.
    assert post(api_client, grant(), auth=shop.basic()).status_code == HTTPStatus.OK


def test_named_secret_with_future_expiry_works(shop, api_client):
    _, named = add_secret(shop.app, "rotating", expires_at=timezone.now() + timedelta(days=1))
    assert post(api_client, grant(), auth=shop.basic(secret=named)).status_code == HTTPStatus.OK


def test_expired_named_secret_is_refused(shop, api_client):
    _, named = add_secret(shop.app, "old", expires_at=timezone.now() - timedelta(seconds=1))
    response = post(api_client, grant(), auth=shop.basic(secret=named))
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request", "client secret has expired")


def test_secret_of_another_app_is_refused(shop, api_client):
    other, other_secret = create_application("Other app")
    _, named = add_secret(other, "theirs")
    for secret in (other_secret, named):
        response = post(api_client, grant(), auth=shop.basic(secret=secret))
        assert_error(response, HTTPStatus.UNAUTHORIZED, "invalid_client")


# -- the application --------------------------------------------------------------------------------


def test_disabled_app_is_unauthorized_client(shop, api_client):
    M2MApplication.objects.filter(pk=shop.app.pk).update(is_enabled=False)
    response = post(api_client, grant(), auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "unauthorized_client", "The application is disabled.")


def test_app_of_another_grant_type_is_unauthorized_client(shop, api_client):
    get_application_model().objects.filter(pk=shop.app.pk).update(authorization_grant_type="authorization-code")
    response = post(api_client, grant(), auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "unauthorized_client")


def test_public_app_is_unauthorized_client(shop, api_client):
    get_application_model().objects.filter(pk=shop.app.pk).update(client_type="public")
    response = post(api_client, grant(), auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "unauthorized_client")


def test_dot_app_without_m2m_record_is_unauthorized_client(shop, api_client):
    get_application_model().objects.create(
        name="Plain DOT app",
        client_id="plain-dot-app",
        client_secret="plain-dot-secret-0123456789",
        client_type="confidential",
        authorization_grant_type="client-credentials",
    )
    response = post(api_client, grant(), auth=basic("plain-dot-app", "plain-dot-secret-0123456789"))
    assert_error(response, HTTPStatus.BAD_REQUEST, "unauthorized_client")


# -- grant type ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("grant_type", ["authorization_code", "password", "refresh_token", "client-credentials"])
def test_other_grant_types_are_unsupported(shop, api_client, grant_type):
    response = post(api_client, grant(grant_type=grant_type), auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "unsupported_grant_type")


def test_missing_grant_type_is_invalid_request(shop, api_client):
    response = post(api_client, {"resource": SHOP}, auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")


def test_repeated_grant_type_is_invalid_request(shop, api_client):
    body = "grant_type=client_credentials&grant_type=client_credentials&resource=" + quote_plus(SHOP)
    response = post(api_client, body, auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")


# -- resource (RFC 8707) ---------------------------------------------------------------------------


def test_missing_resource_without_default_is_invalid_target(shop, api_client):
    response = post(api_client, {"grant_type": "client_credentials"}, auth=shop.basic())
    assert_error(
        response,
        HTTPStatus.BAD_REQUEST,
        "invalid_target",
        "No resource was requested and there is no default resource.",
    )


def test_missing_resource_uses_the_default_resource(shop, api_client):
    Resource.objects.filter(pk=shop.resource.pk).update(is_default=True)
    response = post(api_client, {"grant_type": "client_credentials", "scope": "read:products"}, auth=shop.basic())
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["scope"] == "read:products"
    _, claims = decode(api_client, response.json()["access_token"])
    assert claims["aud"] == SHOP


BAD_RESOURCES = {
    "unknown": "https://unknown.api",
    "relative": "/shopping",
    "no_scheme": "shopping.api",
    "fragment": "https://shopping.api#products",
}


@pytest.mark.parametrize("case", sorted(BAD_RESOURCES))
def test_bad_resource_is_invalid_target(shop, api_client, case):
    response = post(api_client, grant(resource=BAD_RESOURCES[case]), auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_target")


def test_each_bad_resource_form_has_its_own_description(shop, api_client):
    descriptions = {
        case: post(api_client, grant(resource=value), auth=shop.basic()).json()["error_description"]
        for case, value in [
            ("unknown", "https://unknown.api"),
            ("relative", "/shopping"),
            ("fragment", "https://shopping.api#products"),
            ("twice", [SHOP, "https://other.api"]),
        ]
    }
    assert len(set(descriptions.values())) == len(descriptions), descriptions
    assert "fragment" in descriptions["fragment"]
    assert "absolute URI" in descriptions["relative"]
    assert "not registered" in descriptions["unknown"]


def test_resource_given_twice_in_the_form_is_invalid_target(shop, api_client):
    response = post(api_client, grant(resource=[SHOP, SHOP]), auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_target", "Request one resource at a time.")


def test_resource_given_twice_as_a_json_list_is_invalid_target(shop, api_client):
    body = json.dumps({"grant_type": "client_credentials", "resource": [SHOP, "https://other.api"]})
    response = post(api_client, body, content_type=JSON, auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_target", "Request one resource at a time.")


def test_resource_as_a_json_list_of_one_is_accepted(shop, api_client):
    body = json.dumps({"grant_type": "client_credentials", "resource": [SHOP], "scope": "read:products"})
    response = post(api_client, body, content_type=JSON, auth=shop.basic())
    assert response.status_code == HTTPStatus.OK, response.content


def test_resource_is_matched_exactly(shop, api_client):
    for near_miss in ("https://shopping.api/", "HTTPS://SHOPPING.API", "https://shopping.api?x=1"):
        response = post(api_client, grant(resource=near_miss), auth=shop.basic())
        assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_target")


# -- scopes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [{}, {"scope": ""}, {"scope": "   "}])
def test_omitted_scope_grants_nothing(shop, api_client, extra):
    response = post(api_client, grant(**extra), auth=shop.basic())
    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert "scope" not in body
    _, claims = decode(api_client, body["access_token"])
    assert "scope" not in claims


def test_scopes_the_app_does_not_hold_are_dropped(shop, api_client):
    response = post(api_client, grant(scope="write:products read:products unknown:thing"), auth=shop.basic())
    assert response.status_code == HTTPStatus.OK
    assert response.json()["scope"] == "read:products"
    _, claims = decode(api_client, response.json()["access_token"])
    assert claims["scope"] == "read:products"


def test_only_unheld_scopes_gives_a_token_without_scope(shop, api_client):
    response = post(api_client, grant(scope="write:products"), auth=shop.basic())
    assert response.status_code == HTTPStatus.OK
    assert "scope" not in response.json()


def test_scopes_come_from_every_role_of_the_app(shop, api_client):
    from logto_m2m_django.models import Role

    writer = Role.objects.create(name="Shop writer")
    writer.scopes.add(shop.write)
    shop.app.roles.add(writer)
    response = post(api_client, grant(scope="read:products write:products read:products"), auth=shop.basic())
    assert response.json()["scope"] == "read:products write:products"


def test_scopes_of_another_resource_are_not_granted(shop, api_client):
    billing = Resource.objects.create(name="Billing", indicator="https://billing.api")
    Scope.objects.create(resource=billing, name="read:products")
    response = post(api_client, grant(resource="https://billing.api", scope="read:products"), auth=shop.basic())
    # The app holds read:products for the shop, not for billing: 200 without scope (Logto parity).
    assert response.status_code == HTTPStatus.OK
    assert "scope" not in response.json()
    _, claims = decode(api_client, response.json()["access_token"], audience="https://billing.api")
    assert claims["aud"] == "https://billing.api"
    assert "scope" not in claims


# -- the body -----------------------------------------------------------------------------------------


def test_json_body_with_client_secret_post(shop, api_client):
    body = json.dumps({**grant(scope="read:products"), "client_id": shop.client_id, "client_secret": shop.secret})
    response = post(api_client, body, content_type=JSON)
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["scope"] == "read:products"


def test_json_body_with_charset_parameter(shop, api_client):
    response = post(api_client, json.dumps(grant()), content_type="application/json; charset=utf-8", auth=shop.basic())
    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '"a string"',
        '{"grant_type": 1}',
        '{"grant_type": "client_credentials", "scope": ["read:products"]}',
        '{"grant_type": "client_credentials", "resource": [1]}',
        '{"grant_type": "client_credentials", "scope": "\\ud800"}',
        b"\xff\xfe{}",
    ],
)
def test_bad_json_bodies_are_invalid_request(shop, api_client, body):
    response = post(api_client, body, content_type=JSON, auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")


@pytest.mark.parametrize("content_type", [JSON, FORM])
def test_body_over_the_size_limit_is_413(shop, api_client, content_type):
    padding = "x" * (settings_limit() + 1)
    body = json.dumps({**grant(), "pad": padding}) if content_type == JSON else urlencode({**grant(), "pad": padding})
    response = post(api_client, body, content_type=content_type, auth=shop.basic())
    assert_error(response, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "invalid_request")


def settings_limit():
    from logto_m2m_django.conf import m2m_settings

    return m2m_settings.MAX_TOKEN_REQUEST_BYTES


def test_size_limit_follows_the_setting(shop, api_client):
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "MAX_TOKEN_REQUEST_BYTES": 64}):
        response = post(api_client, grant(scope="read:products write:products"), auth=shop.basic())
    assert_error(response, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "invalid_request")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("grant_type=client_credentials&resource=" + quote_plus(SHOP) + "&scope=read%00", FORM),
        ("grant_type=client_credentials%00&resource=" + quote_plus(SHOP), FORM),
        (json.dumps(grant(scope="read:products\x00")), JSON),
        ("grant_type=client_credentials&resource=" + quote_plus(SHOP) + "&ignored=a%00b", FORM),
        ("grant_type=client_credentials&resource=" + quote_plus(SHOP) + "&ignored\x00=1", FORM),
        (json.dumps({**grant(), "client_id": "a\x00b", "client_secret": "x"}), JSON),
    ],
)
def test_nul_bytes_are_invalid_request(shop, api_client, body, content_type):
    response = post(api_client, body, content_type=content_type, auth=None if "client_id" in body else shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        "grant_type=client_credentials&resource=%ZZ",
        "grant_type=client_credentials&resource=https%3A%2F%2Fshopping.api%",
        "grant_type=client_credentials&scope=%E0%A4",
        "grant_type=client_credentials&scope=%ff%fe",
        b"grant_type=client_credentials&scope=\xff",
    ],
)
def test_malformed_form_encoding_is_invalid_request(shop, api_client, body):
    response = post(api_client, body, auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")


def test_percent_encoded_utf8_is_fine(shop, api_client):
    response = post(api_client, grant(scope="read:products caf\u00e9"), auth=shop.basic())
    assert response.status_code == HTTPStatus.OK
    assert response.json()["scope"] == "read:products"


def test_too_many_form_fields_is_invalid_request(shop, api_client):
    body = urlencode(grant()) + "&x" * 200
    response = post(api_client, body, auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")


def test_unknown_parameters_are_ignored(shop, api_client):
    response = post(api_client, grant(audience="x", state="y", nonce="\u00e9"), auth=shop.basic())
    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=xyz", "application/xml"])
def test_wrong_content_type_is_invalid_request(shop, api_client, content_type):
    response = post(api_client, urlencode(grant()), content_type=content_type, auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_methods_are_405(shop, api_client, method):
    response = getattr(api_client, method)("/oidc/token")
    assert_error(response, HTTPStatus.METHOD_NOT_ALLOWED, "invalid_request")
    assert "POST" in response["Allow"]


def test_query_string_is_refused(shop, api_client):
    # Credentials in the URL would end up in access logs.
    response = post(api_client, grant(), auth=shop.basic(), path=f"/oidc/token?client_secret={shop.secret}")
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")


def test_trailing_slash_is_not_the_token_endpoint(shop, api_client):
    response = post(api_client, grant(), auth=shop.basic(), path="/oidc/token/")
    assert response.status_code == HTTPStatus.NOT_FOUND


# -- storage --------------------------------------------------------------------------------------------


def test_no_access_token_rows_are_written(shop, api_client):
    for _ in range(2):
        assert post(api_client, grant(scope="read:products"), auth=shop.basic()).status_code == HTTPStatus.OK
    assert AccessToken.objects.count() == 0
    assert RefreshToken.objects.count() == 0
    assert IDToken.objects.count() == 0


def test_secrets_are_stored_only_as_hashes(shop, api_client):
    _, named = add_secret(shop.app, "ci")
    application = get_application_model().objects.get(pk=shop.app.pk)
    assert application.client_secret.startswith(HASH_PREFIX)
    assert ApplicationSecret.objects.get().secret_hash.startswith(HASH_PREFIX)
    post(api_client, grant(), auth=shop.basic())
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert shop.secret not in dump.getvalue()
    assert named not in dump.getvalue()


def test_private_keys_are_not_stored_in_plaintext(shop, api_client):
    post(api_client, grant(), auth=shop.basic())
    dump = io.StringIO()
    call_command("dumpdata", "logto_m2m.signingkey", stdout=dump)
    assert SigningKey.objects.count() == 1
    assert "PRIVATE KEY" not in dump.getvalue()
    assert '"d":' not in json.dumps(SigningKey.objects.get().public_jwk)


# -- last-used stamp ---------------------------------------------------------------------------------------


def test_default_secret_last_used_is_stamped_at_most_once_per_interval(
    no_activity_log, shop, api_client, django_assert_num_queries, monkeypatch
):
    key_store.signing_material()
    cold_grant_cache()
    with django_assert_num_queries(3):  # 2 reads + the first stamp
        assert post(api_client, grant(), auth=shop.basic()).status_code == HTTPStatus.OK
    first = M2MApplication.objects.get(pk=shop.app.pk).last_used_at
    assert first is not None
    with django_assert_num_queries(0):  # from the grant cache, stamped less than a minute ago: no write
        assert post(api_client, grant(), auth=shop.basic()).status_code == HTTPStatus.OK
    assert M2MApplication.objects.get(pk=shop.app.pk).last_used_at == first
    # Time passes: the stamp is due again (the cached client knows when it was last written).
    later = timezone.now() + timedelta(seconds=61)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with django_assert_num_queries(1):
        assert post(api_client, grant(), auth=shop.basic()).status_code == HTTPStatus.OK
    assert M2MApplication.objects.get(pk=shop.app.pk).last_used_at == later
    with django_assert_num_queries(0):
        assert post(api_client, grant(), auth=shop.basic()).status_code == HTTPStatus.OK


def test_named_secret_last_used_is_stamped_on_the_secret(no_activity_log, shop, api_client, django_assert_num_queries):
    row, named = add_secret(shop.app, "ci")
    key_store.signing_material()
    cold_grant_cache()
    with django_assert_num_queries(3):
        post(api_client, grant(), auth=shop.basic(secret=named))
    row.refresh_from_db()
    assert row.last_used_at is not None
    assert M2MApplication.objects.get(pk=shop.app.pk).last_used_at is None
    with django_assert_num_queries(0):
        post(api_client, grant(), auth=shop.basic(secret=named))


def test_last_used_interval_follows_the_setting(no_activity_log, shop, api_client, django_assert_num_queries):
    two_minutes_ago = timezone.now() - timedelta(seconds=120)
    M2MApplication.objects.filter(pk=shop.app.pk).update(last_used_at=two_minutes_ago)
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "LAST_USED_WRITE_INTERVAL": 3600}):
        key_store.signing_material()
        cold_grant_cache()
        with django_assert_num_queries(2):
            assert post(api_client, grant(), auth=shop.basic()).status_code == HTTPStatus.OK
    assert M2MApplication.objects.get(pk=shop.app.pk).last_used_at == two_minutes_ago


# -- query budget --------------------------------------------------------------------------------------


def test_successful_token_request_runs_two_queries(no_activity_log, shop, api_client, django_assert_num_queries):
    post(api_client, grant(), auth=shop.basic())  # loads the keys and stamps last-used
    cold_grant_cache()
    with django_assert_num_queries(2):  # the client, its grant
        response = post(api_client, grant(scope="read:products write:products"), auth=shop.basic())
    assert response.status_code == HTTPStatus.OK
    with django_assert_num_queries(0):  # both from the grant cache (tests/test_grant_cache.py)
        response = post(api_client, grant(scope="read:products write:products"), auth=shop.basic())
    assert response.status_code == HTTPStatus.OK


def test_successful_json_token_request_runs_two_queries(no_activity_log, shop, api_client, django_assert_num_queries):
    post(api_client, grant(), auth=shop.basic())
    cold_grant_cache()
    body = json.dumps({**grant(scope="read:products"), "client_id": shop.client_id, "client_secret": shop.secret})
    with django_assert_num_queries(2):
        assert post(api_client, body, content_type=JSON).status_code == HTTPStatus.OK
    with django_assert_num_queries(0):
        assert post(api_client, body, content_type=JSON).status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    ("case", "expected_error"),
    [
        ("wrong_secret", "invalid_client"),
        ("unknown_client", "invalid_client"),
        ("no_credentials", "invalid_client"),
        ("unknown_resource", "invalid_target"),
        ("disabled", "unauthorized_client"),
        ("expired", "invalid_request"),
        ("grant_type", "unsupported_grant_type"),
        ("bad_body", "invalid_request"),
    ],
)
def test_refused_token_requests_run_at_most_two_queries(
    no_activity_log, shop, api_client, django_assert_max_num_queries, case, expected_error
):
    _, expired = add_secret(shop.app, "old", expires_at=timezone.now() - timedelta(days=1))
    M2MApplication.objects.filter(pk=shop.app.pk).update(is_enabled=case != "disabled")
    key_store.signing_material()
    request = {
        "wrong_secret": (grant(), shop.basic(secret="y" * 43)),
        "unknown_client": (grant(), basic("unknown-app", shop.secret)),
        "no_credentials": (grant(), None),
        "unknown_resource": (grant(resource="https://nope.api"), shop.basic()),
        "disabled": (grant(), shop.basic()),
        "expired": (grant(), shop.basic(secret=expired)),
        "grant_type": (grant(grant_type="password"), shop.basic()),
        "bad_body": ("resource=%zz", shop.basic()),
    }[case]
    cold_grant_cache()
    with django_assert_max_num_queries(2):
        response = post(api_client, request[0], auth=request[1])
    assert response.json()["error"] == expected_error


# -- SECRET_KEY rotation ----------------------------------------------------------------------------------


def test_secret_key_rotation_with_fallbacks_keeps_secrets_and_keys(shop, api_client):
    _, named = add_secret(shop.app, "ci")
    before = post(api_client, grant(), auth=shop.basic())
    kid = jwt.get_unverified_header(before.json()["access_token"])["kid"]
    old_key = settings.SECRET_KEY
    with override_settings(
        SECRET_KEY="a-brand-new-secret-key-0123456789-abcdefghijklmnop", SECRET_KEY_FALLBACKS=[old_key]
    ):
        for secret in (shop.secret, named):
            response = post(api_client, grant(), auth=shop.basic(secret=secret))
            assert response.status_code == HTTPStatus.OK, response.content
            # The same key signs: it was decrypted with the fallback, not replaced.
            assert jwt.get_unverified_header(response.json()["access_token"])["kid"] == kid
        # Secrets made now are hashed with the new key and verify too.
        new_app, new_secret = create_application("Made after rotation", roles=[shop.role])
        assert post(api_client, grant(), auth=basic(new_app.client_id, new_secret)).status_code == HTTPStatus.OK
    assert SigningKey.objects.count() == 1


def test_secret_key_change_without_fallbacks_invalidates_secrets(shop, api_client):
    post(api_client, grant(), auth=shop.basic())
    with override_settings(SECRET_KEY="another-secret-key-0123456789-abcdefghijklmnopqrstuv", SECRET_KEY_FALLBACKS=[]):
        response = post(api_client, grant(), auth=shop.basic())
        assert_error(response, HTTPStatus.UNAUTHORIZED, "invalid_client")
        # An app created now authenticates, but the old signing key can't be decrypted: a JSON 500, no traceback.
        new_app, new_secret = create_application("Made after the change")
        response = post(api_client, grant(), auth=basic(new_app.client_id, new_secret))
        assert_error(response, HTTPStatus.INTERNAL_SERVER_ERROR, "server_error")


# -- the JWT ----------------------------------------------------------------------------------------------


def test_token_header(shop, api_client):
    response = post(api_client, grant(scope="read:products"), auth=shop.basic())
    header, _ = decode(api_client, response.json()["access_token"])
    current = SigningKey.objects.get(status="current")
    assert header == {"alg": "ES384", "typ": "at+jwt", "kid": current.kid}


def test_token_claims(shop, api_client):
    Resource.objects.filter(pk=shop.resource.pk).update(access_token_ttl=120)
    response = post(api_client, grant(scope="read:products"), auth=shop.basic())
    body = response.json()
    assert body["expires_in"] == 120
    _, claims = decode(api_client, body["access_token"])
    assert set(claims) == {"iss", "sub", "client_id", "aud", "iat", "exp", "jti", "scope"}
    assert claims["iss"] == "https://auth.example.com/oidc"
    assert claims["sub"] == claims["client_id"] == shop.client_id
    assert claims["aud"] == SHOP
    assert claims["exp"] == claims["iat"] + 120
    assert claims["scope"] == "read:products"
    # At least 128 random bits, base64url: 22 characters or more.
    assert len(claims["jti"]) >= 22


def test_every_token_has_a_new_jti(shop, api_client):
    tokens = [post(api_client, grant(), auth=shop.basic()).json()["access_token"] for _ in range(3)]
    jtis = {decode(api_client, t)[1]["jti"] for t in tokens}
    assert len(jtis) == 3


def test_signing_algorithm_setting_applies_to_the_first_key(shop, api_client):
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "SIGNING_ALGORITHM": "RS256"}):
        response = post(api_client, grant(), auth=shop.basic())
        header, _ = decode(api_client, response.json()["access_token"])
    assert header["alg"] == "RS256"


def test_issuer_trailing_slash_is_not_doubled(shop, api_client):
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "ISSUER": "https://auth.example.com/oidc/"}):
        token = post(api_client, grant(), auth=shop.basic()).json()["access_token"]
        _, claims = decode(api_client, token)
    assert claims["iss"] == "https://auth.example.com/oidc"


def extra_claims_hook(claims, context):
    """An EXTRA_CLAIMS hook that tries to override every RFC 9068 claim and adds one of its own."""
    assert context == {"client_id": claims["client_id"], "resource": claims["aud"]}
    return {
        "tenant": "acme",
        "iss": "https://evil.example",
        "sub": "admin",
        "client_id": "admin",
        "aud": "https://everything",
        "iat": 0,
        "exp": 9999999999,
        "jti": "fixed",
        "scope": "all",
    }


def test_extra_claims_hook_adds_claims_but_cannot_override_rfc_claims(shop, api_client):
    with override_settings(
        LOGTO_M2M={**settings.LOGTO_M2M, "EXTRA_CLAIMS": "tests.test_oauth_token.extra_claims_hook"}
    ):
        response = post(api_client, grant(scope="read:products"), auth=shop.basic())
        assert response.status_code == HTTPStatus.OK, response.content
        _, claims = decode(api_client, response.json()["access_token"])
    assert claims["tenant"] == "acme"
    assert claims["iss"] == "https://auth.example.com/oidc"
    assert claims["sub"] == claims["client_id"] == shop.client_id
    assert claims["aud"] == SHOP
    assert claims["exp"] == claims["iat"] + 3600
    assert claims["jti"] != "fixed"
    assert claims["scope"] == "read:products"


def test_extra_claims_hook_cannot_add_a_scope_claim_to_a_scopeless_token(shop, api_client):
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "EXTRA_CLAIMS": extra_claims_hook}):
        response = post(api_client, grant(), auth=shop.basic())
        _, claims = decode(api_client, response.json()["access_token"])
    assert "scope" not in claims
    assert "scope" not in response.json()


def test_token_is_accepted_by_the_protected_api(shop, api_client):
    token = post(api_client, grant(scope="read:products"), auth=shop.basic()).json()["access_token"]
    response = api_client.get("/products", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == HTTPStatus.OK


def test_missing_issuer_is_a_json_server_error(shop, api_client):
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "ISSUER": None}):
        response = post(api_client, grant(), auth=shop.basic())
    assert_error(response, HTTPStatus.INTERNAL_SERVER_ERROR, "server_error")


@pytest.mark.parametrize("accept", ["text/html", "text/plain", "application/xml"])
def test_token_response_is_json_whatever_the_accept_header(shop, api_client, accept):
    body = urlencode(grant())
    response = api_client.post(
        "/oidc/token", body, content_type=FORM, HTTP_AUTHORIZATION=shop.basic(), HTTP_ACCEPT=accept
    )
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    refused = api_client.post("/oidc/token", body, content_type=FORM, HTTP_ACCEPT=accept)
    assert_error(refused, HTTPStatus.UNAUTHORIZED, "invalid_client")


def test_options_is_405_without_a_description_of_the_view(api_client):
    response = api_client.options("/oidc/token")
    assert_error(response, HTTPStatus.METHOD_NOT_ALLOWED, "invalid_request")


def test_empty_resource_is_invalid_target(shop, api_client):
    assert_error(post(api_client, grant(resource=""), auth=shop.basic()), HTTPStatus.BAD_REQUEST, "invalid_target")
    body = json.dumps({"grant_type": "client_credentials", "resource": []})
    response = post(api_client, body, content_type=JSON, auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_target")
