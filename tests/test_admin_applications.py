"""The M2M applications admin: creation with a one-time secret, change page, named secrets, actions."""

from __future__ import annotations

import base64
import re
import shlex
from html import unescape
from http import HTTPStatus
from urllib.parse import urlencode

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_application_model

from logto_m2m_django.admin.credentials import curl_snippet, python_snippet
from logto_m2m_django.models import ApplicationSecret, M2MApplication, Role, RoleType
from logto_m2m_django.provisioning import add_secret, create_application
from tests.admin_support import ADMIN, cells

pytestmark = pytest.mark.django_db

CHANGELIST = f"{ADMIN}/m2mapplication/"
FORM = "application/x-www-form-urlencoded"


def secret_on(page: str) -> str:
    match = re.search(r'id="m2m-client-secret">([^<]+)<', page)
    assert match, "the one-time page shows the secret"
    return unescape(match.group(1))


def client_id_on(page: str) -> str:
    match = re.search(r'id="m2m-client-id">([^<]+)<', page)
    assert match
    return unescape(match.group(1))


def token_request(client, client_id, secret, **data):
    body = {"grant_type": "client_credentials", "resource": "https://shopping.api", **data}
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post("/oidc/token", urlencode(body), content_type=FORM, HTTP_AUTHORIZATION=f"Basic {basic}")


def test_add_form_asks_for_name_description_roles(admin_client, shop):
    page = admin_client.get(f"{CHANGELIST}add/").content.decode()
    for field in ("name", "description", "roles"):
        assert f'name="{field}"' in page
    assert 'name="is_enabled"' not in page
    assert 'name="_save"' in page and 'name="_continue"' not in page and 'name="_addanother"' not in page
    assert "https://shopping.api · read:products" not in page  # roles, not scopes, are picked here
    assert "Shop reader" in page


def test_creation_shows_credentials_once_and_they_work(admin_client, shop, client):
    response = admin_client.post(
        f"{CHANGELIST}add/", {"name": "Nightly export", "description": "Exports orders", "roles": [shop.role.pk]}
    )
    assert response.status_code == HTTPStatus.OK
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    secret, client_id = secret_on(page), client_id_on(page)
    app = M2MApplication.objects.select_related("application").get(application__name="Nightly export")
    assert client_id == app.client_id
    assert app.description == "Exports orders"
    assert list(app.roles.all()) == [shop.role]
    dot_app = app.application
    assert (dot_app.client_type, dot_app.authorization_grant_type) == ("confidential", "client-credentials")
    assert "Copy the secret now" in page

    # The snippets are filled in with this server's endpoint, the app's resource and scopes.
    assert "curl --request POST https://auth.example.com/oidc/token" in page
    assert f"--user {client_id}:{secret}" in page
    assert "resource=https://shopping.api" in page and "scope=read:products" in page
    assert '"https://auth.example.com/oidc/token"' in unescape(page)
    assert f'auth=("{client_id}", "{secret}")' in unescape(page)

    token = token_request(client, client_id, secret, scope="read:products")
    assert token.status_code == HTTPStatus.OK, token.content
    assert token.json()["scope"] == "read:products"

    # Nothing shows or keeps the secret afterwards.
    change = admin_client.get(f"{CHANGELIST}{app.pk}/change/").content.decode()
    assert secret not in change
    assert secret not in admin_client.get(CHANGELIST).content.decode()
    assert secret not in dot_app.client_secret
    for session in Session.objects.all():
        assert secret not in str(session.get_decoded())
    for entry in LogEntry.objects.all():
        assert secret not in f"{entry.object_repr} {entry.change_message}"


def test_creation_without_roles_still_gives_snippets(admin_client):
    page = admin_client.post(f"{CHANGELIST}add/", {"name": "Bare"}).content.decode()
    assert "holds no permission yet" in page
    assert "grant_type=client_credentials" in page


def test_creation_form_errors_create_nothing(admin_client):
    response = admin_client.post(f"{CHANGELIST}add/", {"name": ""})
    assert response.status_code == HTTPStatus.OK
    assert "This field is required" in response.content.decode()
    assert not get_application_model().objects.exists()


def test_roles_picker_offers_m2m_roles_only(admin_client, shop):
    Role.objects.create(name="Customer", type=RoleType.USER)
    page = admin_client.get(f"{CHANGELIST}{shop.app.pk}/change/").content.decode()
    assert "Shop reader" in page
    assert "Customer" not in page


def test_change_page_shows_switch_roles_permissions_and_secrets(admin_client, shop):
    row, value = add_secret(shop.app, "production")
    page = admin_client.get(f"{CHANGELIST}{shop.app.pk}/change/").content.decode()
    assert 'name="is_enabled"' in page
    assert shop.client_id in page
    # Effective permissions per resource: what a token request would be granted.
    permissions = page[page.index("field-effective_permissions") :]
    assert "https://shopping.api" in permissions[:2000]
    assert "read:products" in permissions[:2000] and "write:products" not in permissions[:2000]
    # Named secrets: metadata, never the value.
    assert "production" in page
    assert value not in page and row.secret_hash not in page and shop.secret not in page
    assert "Add a secret" in page


def test_change_page_renames_the_oauth_application(admin_client, shop):
    data = {
        "name": "Order statistics",
        "description": "",
        "is_enabled": "on",
        "roles": [shop.role.pk],
        "secrets-TOTAL_FORMS": "0",
        "secrets-INITIAL_FORMS": "0",
        "secrets-MIN_NUM_FORMS": "0",
        "secrets-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(f"{CHANGELIST}{shop.app.pk}/change/", data)
    assert response.status_code == HTTPStatus.FOUND
    shop.app.application.refresh_from_db()
    assert shop.app.application.name == "Order statistics"


def test_add_named_secret_is_shown_once_and_works(admin_client, shop, client):
    url = f"{CHANGELIST}{shop.app.pk}/secrets/add/"
    assert admin_client.get(url).status_code == HTTPStatus.OK
    response = admin_client.post(url, {"name": "rotation 2026", "expires_in": "90"})
    assert response.status_code == HTTPStatus.OK
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    secret = secret_on(page)
    assert "rotation 2026" in page
    row = ApplicationSecret.objects.get(application=shop.app, name="rotation 2026")
    assert row.expires_at is not None
    assert token_request(client, shop.client_id, secret, scope="read:products").status_code == HTTPStatus.OK
    assert secret not in admin_client.get(f"{CHANGELIST}{shop.app.pk}/change/").content.decode()


def test_duplicate_secret_name_is_a_form_error(admin_client, shop):
    add_secret(shop.app, "production")
    response = admin_client.post(f"{CHANGELIST}{shop.app.pk}/secrets/add/", {"name": "production"})
    assert response.status_code == HTTPStatus.OK
    assert "has a secret with this name already" in response.content.decode()
    assert 'id="m2m-client-secret"' not in response.content.decode()


def test_delete_a_named_secret_from_the_change_page(admin_client, shop, client):
    row, value = add_secret(shop.app, "old")
    data = {
        "name": "Order stats",
        "description": "",
        "is_enabled": "on",
        "roles": [shop.role.pk],
        "secrets-TOTAL_FORMS": "1",
        "secrets-INITIAL_FORMS": "1",
        "secrets-MIN_NUM_FORMS": "0",
        "secrets-MAX_NUM_FORMS": "1000",
        "secrets-0-id": row.pk,
        "secrets-0-application": shop.app.pk,
        "secrets-0-DELETE": "on",
    }
    response = admin_client.post(f"{CHANGELIST}{shop.app.pk}/change/", data)
    assert response.status_code == HTTPStatus.FOUND
    assert not ApplicationSecret.objects.filter(pk=row.pk).exists()
    assert token_request(client, shop.client_id, value).status_code == HTTPStatus.UNAUTHORIZED


def test_disable_and_enable_actions(admin_client, shop, client):
    admin_client.post(CHANGELIST, {"action": "disable", "_selected_action": [shop.app.pk]})
    refused = token_request(client, shop.client_id, shop.secret)
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert refused.json()["error"] == "unauthorized_client"
    admin_client.post(CHANGELIST, {"action": "enable", "_selected_action": [shop.app.pk]})
    assert token_request(client, shop.client_id, shop.secret).status_code == HTTPStatus.OK


def test_changelist_shows_roles_and_last_token_time(admin_client, shop, client):
    assert token_request(client, shop.client_id, shop.secret).status_code == HTTPStatus.OK
    create_application("Idle app")
    html = admin_client.get(CHANGELIST).content.decode()
    names = cells(html, "name_column")
    roles = dict(zip(names, cells(html, "roles_column"), strict=True))
    last = dict(zip(names, cells(html, "last_token_column"), strict=True))
    assert roles == {"Order stats": "Shop reader", "Idle app": "—"}
    assert last["Idle app"] == "-"
    assert last["Order stats"] not in ("-", "")
    change = admin_client.get(f"{CHANGELIST}{shop.app.pk}/change/").content.decode()
    shown = re.search(r'field-last_token_column.*?<div class="readonly">([^<]*)</div>', change, re.S)
    assert shown and shown.group(1) == last["Order stats"]  # formatted like the list, not a raw timestamp


def _changelist_queries(admin_client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(CHANGELIST).status_code == HTTPStatus.OK
    return len(queries)


def test_changelist_queries_do_not_grow_with_rows(admin_client, shop, client, django_assert_num_queries):
    token_request(client, shop.client_id, shop.secret)
    baseline = _changelist_queries(admin_client)
    extra_role = Role.objects.create(name="Auditor")
    for n in range(8):
        app, secret = create_application(f"App {n}", roles=[shop.role, extra_role])
        add_secret(app, "named")
        token_request(client, app.client_id, secret)
    with django_assert_num_queries(baseline):
        response = admin_client.get(CHANGELIST)
    assert len(cells(response.content.decode(), "name_column")) == 9


def test_snippets_stay_valid_with_unusual_characters():
    # Scope tokens may contain quotes (RFC 6749 allows %x21 / %x23-5B / %x5D-7E).
    curl = curl_snippet("https://auth.example.com/oidc/token", "app", "s3cret", "urn:x:it's", ["read:a'b", "write"])
    args = shlex.split(curl.replace("\\\n", " "))
    assert args[args.index("--user") + 1] == "app:s3cret"
    assert "resource=urn:x:it's" in args and "scope=read:a'b write" in args
    python = python_snippet("https://auth.example.com/oidc/token", "app", "s3cret", 'urn:"q"', ["a\\b'c"])
    compile(python, "<snippet>", "exec")
    assert '"resource": "urn:\\"q\\""' in python
