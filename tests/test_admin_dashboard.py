"""The admin's M2M dashboard: token requests per app over time, secrets to look at, keys and their ages."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from http import HTTPStatus
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logto_m2m_django.admin import dashboard
from logto_m2m_django.keys import key_store
from logto_m2m_django.models import ApplicationSecret, KeyStatus, Outcome, SigningKey, TokenActivity
from logto_m2m_django.provisioning import add_secret, create_application
from tests.admin_support import staff_user

URL = "/admin/logto_m2m/tokenactivity/dashboard/"
NOW = datetime(2026, 3, 10, 12, 30, tzinfo=dt_timezone.utc)


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(dashboard, "clock", lambda: NOW)
    return NOW


def activity(app: Any, when: datetime, error: str = "", status: int = 0, client_id: str = "") -> TokenActivity:
    row = TokenActivity.objects.create(
        application=app,
        client_id=client_id or (app.client_id if app else "stranger"),
        resource="https://shopping.api",
        outcome=Outcome.FAILURE if error else Outcome.SUCCESS,
        error=error,
        status_code=status or (400 if error else 200),
    )
    TokenActivity.objects.filter(pk=row.pk).update(created_at=when)
    return row


def text(response: Any) -> str:
    """The page's visible text, tags removed and spaces collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def row_of(response: Any, table: str, first_cell: str) -> str:
    """The text of the row of table ``#<table>`` whose first cell is ``first_cell``."""
    html = response.content.decode()
    body = re.search(rf'<table[^>]*id="{table}".*?</table>', html, re.S)
    assert body, f"no table #{table}"
    for row in re.findall(r"<tr\b.*?</tr>", body.group(0), re.S):
        cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<t[dh]\b.*?</t[dh]>", row, re.S)]
        if cells and cells[0] == first_cell:
            return " | ".join(cell for cell in cells if cell)
    raise AssertionError(f"no row {first_cell!r} in #{table}")


@pytest.mark.django_db
def test_requests_per_app_with_refusals_by_error(admin_client: Any, shop: Any) -> None:
    other, _secret = create_application("Billing sync")
    for hours in (1, 2, 30):
        activity(shop.app, NOW - timedelta(hours=hours))
    activity(shop.app, NOW - timedelta(hours=3), "invalid_client", 401)
    activity(shop.app, NOW - timedelta(hours=4), "invalid_target")
    activity(other, NOW - timedelta(days=2), "invalid_target")
    activity(None, NOW - timedelta(hours=5), "invalid_client", 401, client_id="nobody")
    activity(shop.app, NOW - timedelta(days=8))  # outside the 7 days shown by default

    response = admin_client.get(URL)
    assert response.status_code == HTTPStatus.OK
    assert (
        row_of(response, "m2m-apps", "Order stats") == "Order stats | 5 | 3 | 2 | invalid_client 1 · invalid_target 1"
    )
    assert row_of(response, "m2m-apps", "Billing sync") == "Billing sync | 1 | 0 | 1 | invalid_target 1"
    assert row_of(response, "m2m-apps", "Unknown clients") == "Unknown clients | 1 | 0 | 1 | invalid_client 1"
    assert row_of(response, "m2m-errors", "invalid_client") == "invalid_client | 2"
    assert row_of(response, "m2m-errors", "invalid_target") == "invalid_target | 2"
    page = text(response)
    assert "7 token requests in the last 7 days" in page
    # The chart: one bar per day, drawn inline (no script, no external file).
    html = response.content.decode()
    chart = re.search(r'<svg[^>]*id="m2m-requests-chart".*?</svg>', html, re.S)
    assert chart is not None
    assert len(re.findall(r'<g class="m2m-bar"', chart.group(0))) == 7
    # Each bar says what it holds (a tooltip, and text for screen readers).
    assert "<title>10 Mar: 5 requests: 2 successes, 2 invalid_client, 1 invalid_target</title>" in chart.group(0)
    assert "<title>8 Mar: 1 request: 1 invalid_target</title>" in chart.group(0)
    assert "http://" not in chart.group(0).replace("http://www.w3.org/2000/svg", "")
    assert "<script" not in html.split('id="content"', 1)[1]


@pytest.mark.django_db
def test_one_day_is_drawn_by_hour_and_a_bad_range_falls_back(admin_client: Any, shop: Any) -> None:
    activity(shop.app, NOW - timedelta(minutes=10))
    activity(shop.app, NOW - timedelta(hours=2), "invalid_scope")
    activity(shop.app, NOW - timedelta(hours=30))
    day = admin_client.get(URL, {"days": "1"})
    assert day.status_code == HTTPStatus.OK
    assert "2 token requests in the last 24 hours" in text(day)
    chart = re.search(r'<svg[^>]*id="m2m-requests-chart".*?</svg>', day.content.decode(), re.S)
    assert chart is not None and len(re.findall(r'<g class="m2m-bar"', chart.group(0))) == 24

    for bad in ("0", "-3", "x", "99999", "7\x00"):
        response = admin_client.get(URL, {"days": bad, "unused": bad, "expiring": bad})
        assert response.status_code == HTTPStatus.OK
        assert "3 token requests in the last 7 days" in text(response)


@pytest.mark.django_db
def test_throttled_requests_are_said_to_be_unrecorded(admin_client: Any) -> None:
    page = text(admin_client.get(URL))
    assert "429" in page and "not recorded" in page


@pytest.mark.django_db
def test_secrets_unused_and_expiring(admin_client: Any, shop: Any) -> None:
    def secret(name: str, created_days: int, used_days: int | None, expires_days: int | None) -> ApplicationSecret:
        row, _value = add_secret(shop.app, name)
        ApplicationSecret.objects.filter(pk=row.pk).update(
            created_at=NOW - timedelta(days=created_days),
            last_used_at=None if used_days is None else NOW - timedelta(days=used_days),
            expires_at=None if expires_days is None else NOW + timedelta(days=expires_days),
        )
        return row

    secret("forgotten", created_days=100, used_days=45, expires_days=None)
    secret("never used", created_days=40, used_days=None, expires_days=None)
    secret("fresh", created_days=2, used_days=None, expires_days=None)
    secret("busy", created_days=100, used_days=1, expires_days=None)
    secret("rotating soon", created_days=80, used_days=1, expires_days=5)
    secret("later", created_days=80, used_days=1, expires_days=60)
    secret("expired", created_days=80, used_days=50, expires_days=-1)
    # The default (legacy) secret of an app made in the admin, unused for 35 days.
    type(shop.app).objects.filter(pk=shop.app.pk).update(
        created_at=NOW - timedelta(days=200), last_used_at=NOW - timedelta(days=35)
    )

    html = admin_client.get(URL).content.decode()
    unused_table = re.search(r'<table[^>]*id="m2m-unused".*?</table>', html, re.S).group(0)  # type: ignore[union-attr]
    for name in ("forgotten", "never used", "Default secret (legacy)"):
        assert name in unused_table
    for name in ("fresh", "busy", "rotating soon", "expired"):
        assert f">{name}<" not in unused_table
    expiring_table = re.search(r'<table[^>]*id="m2m-expiring".*?</table>', html, re.S).group(0)  # type: ignore[union-attr]
    assert "rotating soon" in expiring_table and "in 5 days" in " ".join(expiring_table.split())
    for name in ("later", "expired", "forgotten"):
        assert f">{name}<" not in expiring_table

    # The thresholds are the page's: unused for 60 days, expiring within 90.
    wider = admin_client.get(URL, {"unused": "60", "expiring": "90"}).content.decode()
    unused_table = re.search(r'<table[^>]*id="m2m-unused".*?</table>', wider, re.S).group(0)  # type: ignore[union-attr]
    assert "forgotten" not in unused_table and "never used" not in unused_table
    expiring_table = re.search(r'<table[^>]*id="m2m-expiring".*?</table>', wider, re.S).group(0)  # type: ignore[union-attr]
    assert "later" in expiring_table


@pytest.mark.django_db
def test_keys_and_their_ages(admin_client: Any) -> None:
    key_store.ensure_current_key()
    key_store.rotate()
    old, new = SigningKey.objects.order_by("created_at")
    SigningKey.objects.filter(pk=old.pk).update(created_at=NOW - timedelta(days=400))
    SigningKey.objects.filter(pk=new.pk).update(created_at=NOW - timedelta(days=12))
    response = admin_client.get(URL)
    assert row_of(response, "m2m-keys", new.kid) == f"{new.kid} | {new.algorithm} | Current | 12 days"
    assert row_of(response, "m2m-keys", old.kid) == f"{old.kid} | {old.algorithm} | Previous | 400 days"
    assert SigningKey.objects.get(pk=new.pk).status == KeyStatus.CURRENT


def _populate(apps: int, rows_per_app: int) -> None:
    from logto_m2m_django.models import M2MApplication

    for _n in range(apps):
        app, _secret = create_application(f"App {M2MApplication.objects.count()}")
        M2MApplication.objects.filter(pk=app.pk).update(created_at=NOW - timedelta(days=100))  # legacy: unused
        for name, expires in (("rotated", None), ("expiring", NOW + timedelta(days=3))):
            row, _value = add_secret(app, name)
            ApplicationSecret.objects.filter(pk=row.pk).update(created_at=NOW - timedelta(days=100), expires_at=expires)
        for i in range(rows_per_app):
            activity(app, NOW - timedelta(hours=3 * i + 1), "invalid_target" if i % 3 == 0 else "")


@pytest.mark.django_db
def test_query_count_does_not_grow_with_apps_or_rows(admin_client: Any, shop: Any) -> None:
    _populate(apps=1, rows_per_app=2)
    admin_client.get(URL)  # sessions, content types: warm
    with CaptureQueriesContext(connection) as small:
        assert admin_client.get(URL).status_code == HTTPStatus.OK
    _populate(apps=12, rows_per_app=20)
    with CaptureQueriesContext(connection) as large:
        response = admin_client.get(URL, {"days": "30"})
        assert response.status_code == HTTPStatus.OK
    assert len(large) == len(small), [q["sql"][:120] for q in large.captured_queries]
    page = text(response)
    assert "App 12" in page and "rotated" in page and "expiring" in page


@pytest.mark.django_db
def test_staff_needs_view_permission_on_token_activity(client: Any) -> None:
    client.force_login(staff_user("roles-only", "view_role"))
    assert client.get(URL).status_code == HTTPStatus.FORBIDDEN
    assert "M2M dashboard" not in client.get("/admin/").content.decode()

    client.force_login(staff_user("watcher", "view_tokenactivity"))
    assert client.get(URL).status_code == HTTPStatus.OK
    index = client.get("/admin/").content.decode()
    assert "M2M dashboard" in index and URL in index

    client.logout()
    response = client.get(URL)
    assert response.status_code == HTTPStatus.FOUND and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_linked_from_the_index_and_the_activity_list(admin_client: Any) -> None:
    index = admin_client.get("/admin/").content.decode()
    section = index.split('class="app-logto_m2m', 1)[1].split("</table>", 1)[0]
    assert f'href="{URL}"' in section and "M2M dashboard" in section
    assert f'href="{URL}"' in admin_client.get("/admin/logto_m2m/").content.decode()
    assert f'href="{URL}"' in admin_client.get("/admin/logto_m2m/tokenactivity/").content.decode()


@pytest.mark.django_db
def test_empty_database(admin_client: Any) -> None:
    response = admin_client.get(URL)
    assert response.status_code == HTTPStatus.OK
    page = text(response)
    assert "0 token requests in the last 7 days" in page
    assert "No secret unused for 30 days" in page and "No secret expires within 14 days" in page
