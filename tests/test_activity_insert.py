"""The activity row's INSERT: its SQL is compiled once per database, and it writes what ``row.save()`` would.

The token endpoint writes one activity row per request. Building the INSERT with the ORM on every
request cost a quarter of a token request (issue 16); the row's SQL is now built once from the
model's meta and only its parameters are computed per request. These tests hold that shortcut to
the ORM's own result, column by column, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLInsertCompiler
from django.http import HttpResponse
from django.test import RequestFactory

from logto_m2m_django import activity
from logto_m2m_django._internal import asynccommit
from logto_m2m_django.models import M2MApplication, Outcome, TokenActivity

from .conftest import FORM, SHOP, Shop

pytestmark = pytest.mark.django_db(transaction=True)

FROZEN = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=timezone.utc)
CASES = ("success", "unknown_client", "wrong_secret")


def _post(api_client: Any, shop: Shop, case: str) -> Any:
    body = urlencode({"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products write:x"})
    basic = {
        "success": shop.basic(),
        "unknown_client": shop.basic(client_id="no-such-client"),
        "wrong_secret": shop.basic(secret="not-the-secret"),
    }[case]
    return api_client.post(
        "/oidc/token", body, content_type=FORM, HTTP_AUTHORIZATION=basic, HTTP_USER_AGENT="insert-test/1.0"
    )


def _quoted_table() -> str:
    return connection.ops.quote_name(TokenActivity._meta.db_table)


@pytest.fixture
def orm_insert_compilations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables Django's INSERT compiler builds SQL for while the test runs."""
    seen: list[str] = []
    original = SQLInsertCompiler.as_sql

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(self.query.model._meta.db_table)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLInsertCompiler, "as_sql", counting)
    return seen


def test_the_insert_is_compiled_once_per_database(
    api_client: Any, shop: Shop, monkeypatch: pytest.MonkeyPatch, orm_insert_compilations: list[str]
) -> None:
    assert _post(api_client, shop, "success").status_code == HTTPStatus.OK  # the first signing key is created
    asynccommit.clear()
    compiled: list[tuple[str, Any]] = []
    original = asynccommit._compile

    def counting(model: Any, alias: str, fragments: Any) -> Any:
        compiled.append((alias, fragments))
        return original(model, alias, fragments)

    monkeypatch.setattr(asynccommit, "_compile", counting)
    orm_insert_compilations.clear()
    statuses = [_post(api_client, shop, case).status_code for case in CASES * 3]
    assert statuses == [200, 401, 401] * 3
    assert TokenActivity.objects.count() == 10
    # Built once per database for each of its two forms (application known, looked up by client ID),
    # never again, and never by the ORM per request.
    assert [alias for alias, _ in compiled] == ["default", "default"]
    assert len(set(compiled)) == 2
    assert TokenActivity._meta.db_table not in orm_insert_compilations


def test_success_knows_its_application_and_refusals_all_take_the_same_statement(api_client: Any, shop: Shop) -> None:
    assert _post(api_client, shop, "success").status_code == HTTPStatus.OK  # the first signing key is created
    statements = {}
    for case in CASES:
        sent: list[str] = []  # the SQL text as sent, parameters apart

        def collect(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            sent.append(sql)  # noqa: B023 (used within the loop's own request)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(collect):
            _post(api_client, shop, case)
        (statements[case],) = [sql for sql in sent if sql.startswith(f"INSERT INTO {_quoted_table()}")]
    app_table = M2MApplication._meta.db_table
    # The validator knew the application: no lookup inside the INSERT.
    assert app_table not in statements["success"]
    # Unknown ID and wrong secret: the same SQL (the lookup by client ID), so neither is cheaper.
    assert app_table in statements["unknown_client"]
    assert statements["unknown_client"] == statements["wrong_secret"]
    unknown, wrong = TokenActivity.objects.filter(outcome=Outcome.FAILURE).order_by("pk")
    assert (unknown.client_id, unknown.application_id) == ("no-such-client", None)
    assert (wrong.client_id, wrong.application_id) == (shop.client_id, shop.app.pk)


@pytest.mark.parametrize("case", CASES)
def test_rows_are_what_save_would_write(
    api_client: Any, shop: Shop, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    assert _post(api_client, shop, "success").status_code == HTTPStatus.OK  # the first signing key is created
    TokenActivity.objects.all().delete()
    monkeypatch.setattr("django.utils.timezone.now", lambda: FROZEN)
    built: list[TokenActivity] = []
    original = activity.build_activity

    def keep(*args: Any, **kwargs: Any) -> TokenActivity:
        row = original(*args, **kwargs)
        built.append(copy.copy(row))
        return row

    monkeypatch.setattr(activity, "build_activity", keep)
    response = _post(api_client, shop, case)
    assert response.status_code == (HTTPStatus.OK if case == "success" else HTTPStatus.UNAUTHORIZED)
    (written,) = TokenActivity.objects.values()

    # The reference: the same row saved by the ORM, its application looked up by the ORM.
    (reference,) = built
    reference.pk = None
    reference.application_id = (
        M2MApplication.objects.filter(application__client_id=reference.client_id).values_list("pk", flat=True).first()
    )
    reference.save()
    saved = TokenActivity.objects.filter(pk=reference.pk).values().get()
    assert written.pop("id") != saved.pop("id")
    assert written == saved
    assert written["created_at"] == FROZEN
    assert written["user_agent"] == "insert-test/1.0"
    assert written["application_id"] == (None if case == "unknown_client" else shop.app.pk)
    assert written["outcome"] == (Outcome.SUCCESS if case == "success" else Outcome.FAILURE)


def test_an_application_deleted_after_it_authenticated_is_recorded_without_it(shop: Shop) -> None:
    # The validator noted the pk, then the application was deleted before the row was written:
    # the foreign key refuses that pk, and the row is written without an application (as a lookup would).
    request = RequestFactory().post("/oidc/token", HTTP_AUTHORIZATION=shop.basic())
    request.m2m_params = {"grant_type": "client_credentials", "resource": "https://unknown.api"}  # type: ignore[attr-defined]
    setattr(request, activity.APPLICATION_NOTE, shop.app.pk)
    gone = shop.app.pk
    shop.app.application.delete()
    assert not M2MApplication.objects.filter(pk=gone).exists()
    response = HttpResponse(b'{"error": "invalid_target"}', status=400, content_type="application/json")
    activity.record_token_request(request, response)
    row = TokenActivity.objects.get()
    assert (row.client_id, row.application_id, row.error) == (shop.client_id, None, "invalid_target")
