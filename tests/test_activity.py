"""Bounded growth of the activity log: attacker text truncated, old rows pruned (m2m prune-activity)."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from io import StringIO
from urllib.parse import urlencode

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from logto_m2m_django.models import Outcome, TokenActivity
from tests.conftest import FORM, SHOP

pytestmark = pytest.mark.django_db


def _post(api_client, shop, **data):
    return api_client.post("/oidc/token", urlencode(data), content_type=FORM, HTTP_AUTHORIZATION=shop.basic())


def test_unsupported_grant_type_stores_a_short_excerpt_of_what_was_sent(api_client, shop):
    response = _post(api_client, shop, grant_type="x" * 2000, resource="https://" + "r" * 240, scope="s" * 2000)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "unsupported_grant_type"
    row = TokenActivity.objects.get()
    assert row.outcome == Outcome.FAILURE
    assert row.scopes == ""  # nothing was granted
    assert len(row.requested_scopes) == 100 and row.requested_scopes == "s" * 99 + "…"
    assert len(row.resource) == 100 and row.resource.endswith("r…")
    stored = sum(len(str(v)) for v in TokenActivity.objects.values().get().values())
    assert stored < 400


def test_failed_request_text_is_truncated_but_short_text_kept_whole(api_client, shop):
    _post(api_client, shop, grant_type="client_credentials", resource="https://unknown.api", scope="a " * 500)
    _post(api_client, shop, grant_type="client_credentials", resource="https://unknown.api", scope="read:products")
    long_row, short_row = TokenActivity.objects.order_by("pk")
    assert long_row.error == short_row.error == "invalid_target"
    assert len(long_row.requested_scopes) == 100
    assert (short_row.resource, short_row.requested_scopes) == ("https://unknown.api", "read:products")


def test_success_rows_keep_what_was_granted(api_client, shop):
    response = _post(api_client, shop, grant_type="client_credentials", resource=SHOP, scope="read:products")
    assert response.status_code == HTTPStatus.OK
    assert TokenActivity.objects.get().scopes == "read:products"


# -- m2m prune-activity ---------------------------------------------------------------------------


def _rows(*ages_in_days: float) -> list[int]:
    now = timezone.now()
    pks = []
    for age in ages_in_days:
        row = TokenActivity.objects.create(client_id="app", outcome=Outcome.SUCCESS, status_code=200)
        TokenActivity.objects.filter(pk=row.pk).update(created_at=now - timedelta(days=age))
        pks.append(row.pk)
    return pks


def _prune(*args: str) -> str:
    out = StringIO()
    call_command("m2m", "prune-activity", *args, stdout=out)
    return out.getvalue()


def test_prune_deletes_rows_older_than_the_retention(settings):
    old_a, old_b, recent, fresh = _rows(91, 400, 89, 0)
    output = _prune()
    assert set(TokenActivity.objects.values_list("pk", flat=True)) == {recent, fresh}
    assert "Deleted 2 token activity rows older than 90 days" in output
    assert old_a and old_b


def test_prune_follows_the_setting_and_days_option(settings):
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "TOKEN_ACTIVITY_RETENTION_DAYS": 30}
    _rows(31, 29, 5)
    assert "Deleted 1 " in _prune()
    assert "Deleted 1 " in _prune("--days", "10")
    assert TokenActivity.objects.count() == 1


def test_prune_dry_run_deletes_nothing(settings):
    _rows(100, 200, 1)
    output = _prune("--dry-run")
    assert "Would delete 2 token activity rows older than 90 days" in output
    assert TokenActivity.objects.count() == 3


def test_prune_deletes_in_batches():
    _rows(*([100] * 7), 1)
    with CaptureQueriesContext(connection) as queries:
        output = _prune("--batch-size", "3")
    assert "Deleted 7 " in output
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].upper().startswith("DELETE")]
    assert len(deletes) == 3  # 3 + 3 + 1
    assert TokenActivity.objects.count() == 1


def test_prune_with_retention_off_keeps_everything(settings):
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "TOKEN_ACTIVITY_RETENTION_DAYS": None}
    _rows(1000)
    assert 'TOKEN_ACTIVITY_RETENTION_DAYS"] is None' in _prune()
    assert TokenActivity.objects.count() == 1
    assert "Deleted 1 " in _prune("--days", "365")


@pytest.mark.parametrize("args", [("--days", "0"), ("--days", "-3"), ("--batch-size", "0")])
def test_prune_refuses_nonsense(args):
    with pytest.raises(CommandError):
        _prune(*args)


@pytest.mark.parametrize(
    ("value", "ids"),
    [(90, []), (0.5, []), (None, []), (0, ["logto_m2m.E022"]), (-1, ["logto_m2m.E022"]), ("90", ["logto_m2m.E022"])],
)
def test_system_check_of_the_retention(settings, value, ids):
    from logto_m2m_django.checks import check_activity_retention

    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "TOKEN_ACTIVITY_RETENTION_DAYS": value}
    assert [problem.id for problem in check_activity_retention()] == ids
