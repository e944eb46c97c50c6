"""Token activity: one row per token request (logto_m2m_django.activity) and its read-only admin."""

from __future__ import annotations

import base64
import logging
from http import HTTPStatus
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import DatabaseError, connection
from django.test import override_settings

from logto_m2m_django.models import Outcome, TokenActivity
from tests.admin_support import ADMIN, cells
from tests.conftest import cold_grant_cache

FORM = "application/x-www-form-urlencoded"
CHANGELIST = f"{ADMIN}/tokenactivity/"


def post_token(client, shop, secret=None, **data):
    body = {"grant_type": "client_credentials", "resource": "https://shopping.api", **data}
    return client.post("/oidc/token", urlencode(body), content_type=FORM, HTTP_AUTHORIZATION=shop.basic(secret=secret))


@pytest.mark.django_db
def test_success_is_recorded_with_granted_scopes(api_client, shop):
    response = post_token(api_client, shop, scope="read:products write:products")
    assert response.status_code == HTTPStatus.OK
    row = TokenActivity.objects.get()
    assert row.application == shop.app
    assert row.client_id == shop.client_id
    assert (row.resource, row.scopes) == ("https://shopping.api", "read:products")
    assert (row.outcome, row.error, row.status_code) == (Outcome.SUCCESS, "", 200)
    assert row.client_ip == "127.0.0.1"


@pytest.mark.django_db
def test_default_resource_is_recorded_as_granted(api_client, shop):
    shop.resource.is_default = True
    shop.resource.save()
    body = urlencode({"grant_type": "client_credentials"})
    api_client.post("/oidc/token", body, content_type=FORM, HTTP_AUTHORIZATION=shop.basic())
    assert TokenActivity.objects.get().resource == "https://shopping.api"


@pytest.mark.django_db
def test_wrong_secret_is_recorded_without_the_secret(api_client, shop):
    response = post_token(api_client, shop, secret="wrong-secret-value", scope="read:products")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    row = TokenActivity.objects.get()
    assert row.application == shop.app  # the app that is failing, by the ID it sent
    assert (row.outcome, row.error, row.status_code) == (Outcome.FAILURE, "invalid_client", 401)
    assert (row.resource, row.requested_scopes, row.scopes) == ("https://shopping.api", "read:products", "")
    values = " ".join(str(v) for v in TokenActivity.objects.values().get().values())
    assert "wrong-secret-value" not in values and shop.secret not in values


@pytest.mark.django_db
def test_unknown_client_and_bad_target_are_recorded(api_client, shop):
    basic = base64.b64encode(b"nobody:secret").decode()
    api_client.post(
        "/oidc/token",
        urlencode({"grant_type": "client_credentials"}),
        content_type=FORM,
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    post_token(api_client, shop, resource="https://unknown.api")
    rows = list(TokenActivity.objects.order_by("id").values_list("client_id", "application", "error"))
    assert rows == [("nobody", None, "invalid_client"), (shop.client_id, shop.app.pk, "invalid_target")]


@pytest.mark.django_db
def test_malformed_request_is_recorded(api_client):
    api_client.post("/oidc/token", "grant_type=client_credentials&grant_type=x", content_type=FORM)
    row = TokenActivity.objects.get()
    assert (row.outcome, row.error, row.status_code, row.application) == (Outcome.FAILURE, "invalid_request", 400, None)


@pytest.mark.django_db
def test_basic_header_without_separator_records_no_client_id(api_client):
    # Whatever a client puts in a malformed header could be its secret: it is not recorded.
    basic = base64.b64encode(b"just-a-secret-value").decode()
    api_client.post(
        "/oidc/token",
        urlencode({"grant_type": "client_credentials"}),
        content_type=FORM,
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert TokenActivity.objects.get().client_id == ""


@pytest.mark.django_db
@override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "THROTTLE_NUM_PROXIES": 1})
def test_client_ip_behind_a_proxy_comes_from_x_forwarded_for(api_client, shop):
    body = urlencode({"grant_type": "client_credentials", "resource": "https://shopping.api"})
    api_client.post(
        "/oidc/token",
        body,
        content_type=FORM,
        HTTP_AUTHORIZATION=shop.basic(),
        HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.2",
    )
    assert TokenActivity.objects.get().client_ip == "198.51.100.2"


@pytest.mark.django_db
@override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "THROTTLE_RATES": {"client": "1/minute"}})
def test_throttled_requests_are_not_recorded(api_client, shop, monkeypatch):
    # Freeze the throttle's clock: two requests must not straddle a window boundary.
    from logto_m2m_django.oauth import throttling

    monkeypatch.setattr(throttling, "clock", lambda: 1_900_000_020.0)
    assert post_token(api_client, shop).status_code == HTTPStatus.OK
    assert post_token(api_client, shop).status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert TokenActivity.objects.count() == 1


@pytest.mark.django_db
@override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "TOKEN_ACTIVITY_LOG": False})
def test_setting_turns_recording_off(api_client, shop):
    assert post_token(api_client, shop).status_code == HTTPStatus.OK
    post_token(api_client, shop, secret="wrong")
    assert not TokenActivity.objects.exists()


@pytest.mark.django_db
def test_recording_failure_never_breaks_the_token_response(api_client, shop, caplog):
    table = connection.ops.quote_name(TokenActivity._meta.db_table)

    def disk_full(execute, sql, params, many, context):
        if sql.startswith(f"INSERT INTO {table}"):
            raise DatabaseError("disk full")
        return execute(sql, params, many, context)

    with (
        connection.execute_wrapper(disk_full),
        caplog.at_level(logging.ERROR, logger="logto_m2m_django.activity"),
    ):
        response = post_token(api_client, shop, scope="read:products")
    assert response.status_code == HTTPStatus.OK
    assert "Could not record token activity" in caplog.text
    assert shop.secret not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_successful_token_request_costs_two_reads_and_one_insert(api_client, shop, django_assert_num_queries):
    assert post_token(api_client, shop).status_code == HTTPStatus.OK  # first key, last-used stamp
    cold_grant_cache()
    with django_assert_num_queries(3) as captured:
        assert post_token(api_client, shop, scope="read:products").status_code == HTTPStatus.OK
    statements = [q["sql"].lstrip().split()[0].upper() for q in captured.captured_queries]
    assert statements == ["SELECT", "SELECT", "INSERT"]
    with django_assert_num_queries(1) as captured:  # the client and its grant from the grant cache
        assert post_token(api_client, shop, scope="read:products").status_code == HTTPStatus.OK
    assert captured.captured_queries[0]["sql"].lstrip().upper().startswith("INSERT")


@pytest.mark.django_db(transaction=True)
@override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "TOKEN_ACTIVITY_LOG": False})
def test_no_insert_when_the_log_is_off(api_client, shop, django_assert_num_queries):
    post_token(api_client, shop)
    cold_grant_cache()
    with django_assert_num_queries(2):
        assert post_token(api_client, shop).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_changelist_is_read_only_and_filterable(admin_client, api_client, shop):
    post_token(api_client, shop, scope="read:products")
    post_token(api_client, shop, secret="wrong")
    html = admin_client.get(CHANGELIST).content.decode()
    assert cells(html, "outcome_column") == ["Failure", "Success"]
    # An empty error code shows as Django's empty-value dash ("" on Django 4.2).
    assert cells(html, "error") in (["invalid_client", "-"], ["invalid_client", ""])
    assert cells(html, "application_column") == ["Order stats", "Order stats"]
    assert cells(html, "client_ip") == ["127.0.0.1", "127.0.0.1"]
    assert "action-checkbox" not in html
    assert "Add token request" not in html
    failures = admin_client.get(CHANGELIST, {"outcome__exact": "failure"}).content.decode()
    assert cells(failures, "error") == ["invalid_client"]
    by_app = admin_client.get(CHANGELIST, {"application": str(shop.app.pk)}).content.decode()
    assert len(cells(by_app, "error")) == 2
    row = TokenActivity.objects.first()
    detail = admin_client.get(f"{CHANGELIST}{row.pk}/change/").content.decode()
    assert 'name="_save"' not in detail
    assert admin_client.post(f"{CHANGELIST}{row.pk}/delete/", {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN


@pytest.mark.django_db
def test_changelist_filters_by_secret_and_user_agent(admin_client, api_client, shop):
    from logto_m2m_django.provisioning import add_secret

    _row, rotated = add_secret(shop.app, "rotated-2025", None)
    body = urlencode({"grant_type": "client_credentials", "resource": "https://shopping.api"})
    for secret, agent in ((shop.secret, "old-cron/1"), (rotated, "new-cron/2"), (rotated, "new-cron/2")):
        api_client.post(
            "/oidc/token", body, content_type=FORM, HTTP_AUTHORIZATION=shop.basic(secret=secret), HTTP_USER_AGENT=agent
        )
    html = admin_client.get(CHANGELIST).content.decode()
    assert "?secret_name=rotated-2025" in html and "?user_agent=old-cron%2F1" in html  # offered as filters
    by_secret = admin_client.get(CHANGELIST, {"secret_name": "rotated-2025"}).content.decode()
    assert cells(by_secret, "user_agent") == ["new-cron/2", "new-cron/2"]
    by_agent = admin_client.get(CHANGELIST, {"user_agent": "old-cron/1"}).content.decode()
    assert cells(by_agent, "secret_name") in (["-"], [""])
    searched = admin_client.get(CHANGELIST, {"q": "rotated-2025"}).content.decode()
    assert len(cells(searched, "secret_name")) == 2
