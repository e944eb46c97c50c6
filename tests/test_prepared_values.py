"""logto_m2m_django._internal.prepared: a values() query compiled once, with the ORM's own results."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db.models import Q
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone
from oauth2_provider.models import get_application_model

from logto_m2m_django._internal.prepared import PreparedValues
from logto_m2m_django.models import ApplicationSecret
from logto_m2m_django.oauth.validator import _client_query
from logto_m2m_django.provisioning import add_secret, create_application

pytestmark = pytest.mark.django_db


@pytest.fixture
def query() -> PreparedValues:
    return PreparedValues(get_application_model, _client_query)


def test_rows_equal_what_the_orm_returns(query: PreparedValues) -> None:
    m2m, _ = create_application("Order stats")
    add_secret(m2m, "ci", expires_at=timezone.now() + timedelta(days=1))
    add_secret(m2m, "old")
    ApplicationSecret.objects.filter(name="old").update(last_used_at=timezone.now())

    rows = query(m2m.client_id)

    expected = list(_client_query(m2m.client_id))
    assert sorted(rows, key=repr) == sorted(expected, key=repr)
    assert len(rows) == 2
    # Converted as the ORM converts them (SQLite hands back strings and integers).
    assert all(row["m2m__secrets__expires_at"] is None or row["m2m__secrets__expires_at"].tzinfo for row in rows)
    assert {type(row["m2m__is_enabled"]) for row in rows} == {bool}


def test_an_unknown_value_gives_no_row(query: PreparedValues) -> None:
    assert query("no-such-client") == []


def test_one_query_per_call_and_one_compilation(query: PreparedValues, django_assert_num_queries: Any) -> None:
    m2m, _ = create_application("Order stats")
    with mock.patch.object(SQLCompiler, "as_sql", autospec=True, side_effect=SQLCompiler.as_sql) as compiled:
        with django_assert_num_queries(1):
            assert query(m2m.client_id)[0]["client_id"] == m2m.client_id
        first = compiled.call_count  # the query and its subqueries (the unknown-ID stand-in)
        for _ in range(3):
            with django_assert_num_queries(1):
                assert query(m2m.client_id)[0]["client_id"] == m2m.client_id
    assert first >= 1 and compiled.call_count == first


def test_a_query_it_cannot_prepare_still_runs(django_assert_num_queries: Any) -> None:
    m2m, _ = create_application("Order stats")
    # The value appears twice among the SQL parameters: the helper lets the ORM run it every time.
    either = PreparedValues(
        get_application_model,
        lambda value: get_application_model().objects.filter(Q(client_id=value) | Q(name=value)).values("client_id"),
    )
    for _ in range(2):
        with django_assert_num_queries(1):
            assert either(m2m.client_id) == [{"client_id": m2m.client_id}]
