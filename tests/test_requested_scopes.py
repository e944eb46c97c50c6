"""Scopes asked but not granted are visible: the activity row keeps both lists, and the opt-in
LOGTO_M2M["REJECT_UNKNOWN_SCOPES"] answers invalid_scope (RFC 6749 §5.2) for scopes the resource lacks."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from logto_m2m_django.models import Outcome, TokenActivity
from tests.conftest import SHOP

pytestmark = pytest.mark.django_db


def test_success_row_records_requested_and_granted_scopes(shop, request_token):
    response = request_token(shop, scope="read:products write:products raed:products")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["scope"] == "read:products"
    row = TokenActivity.objects.get()
    assert row.scopes == "read:products"
    assert row.requested_scopes == "read:products write:products raed:products"
    assert row.not_granted_scopes == ["write:products", "raed:products"]


def test_failed_row_grants_nothing_and_records_what_was_asked(shop, request_token):
    response = request_token(shop, resource="https://unknown.api", scope="read:products")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    row = TokenActivity.objects.get()
    assert (row.outcome, row.scopes, row.requested_scopes) == (Outcome.FAILURE, "", "read:products")


def test_unknown_scopes_are_dropped_by_default(shop, request_token):
    response = request_token(shop, scope="read:products nope")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["scope"] == "read:products"


def m2m_reject(value=True):
    return override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "REJECT_UNKNOWN_SCOPES": value})


def test_opt_in_invalid_scope_for_a_scope_the_resource_does_not_define(shop, request_token):
    with m2m_reject():
        response = request_token(shop, scope="read:products raed:products")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == "invalid_scope"
    assert "raed:products" in body["error_description"]
    assert SHOP in body["error_description"]
    row = TokenActivity.objects.get()
    assert (row.error, row.requested_scopes, row.scopes) == ("invalid_scope", "read:products raed:products", "")


def test_opt_in_still_drops_existing_scopes_the_app_does_not_hold(shop, request_token):
    with m2m_reject():
        response = request_token(shop, scope="read:products write:products")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["scope"] == "read:products"


def test_opt_in_costs_no_query_when_every_scope_is_granted(shop, request_token):
    request_token(shop, scope="read:products")  # warm the key cache
    with m2m_reject(False), CaptureQueriesContext(connection) as off:
        request_token(shop, scope="read:products")
    with m2m_reject(), CaptureQueriesContext(connection) as on:
        request_token(shop, scope="read:products")
    assert len(on.captured_queries) == len(off.captured_queries)


def test_the_activity_list_shows_asked_but_not_granted_scopes(admin_client, shop, request_token):
    request_token(shop, scope="read:products raed:products")
    html = admin_client.get("/admin/logto_m2m/tokenactivity/").content.decode()
    assert "<code class='m2m-scope'>read:products</code>" in html
    assert "m2m-not-granted' title='asked, not granted'>raed:products</code>" in html
    assert "1 token request" in html and "token activity" not in html.lower().replace("token activity log", "")
