"""The activity row's write: no wait for a disk flush in the request, and no row lost with a worker.

In-process: the statements the token endpoint sends (PostgreSQL: the row's own transaction with
``SET LOCAL synchronous_commit = off``, also under ``ATOMIC_REQUESTS``) and the options the example
project ships (SQLite in WAL mode with ``synchronous=NORMAL``; psycopg prepared statements).
End to end: gunicorn answers a token request, the worker that answered is SIGKILLed at once,
and the row is in the database.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logto_m2m_django.models import Outcome, TokenActivity

from .conftest import FORM, SHOP, Shop
from .e2e_support import _environment, free_port, manage, scratch_database, serve

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")


def _post_token(api_client: Any, shop: Shop) -> Any:
    body = urlencode({"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products"})
    return api_client.post("/oidc/token", body, content_type=FORM, HTTP_AUTHORIZATION=shop.basic())


ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true)"


def _activity_inserts(captured: CaptureQueriesContext) -> list[str]:
    table = TokenActivity._meta.db_table
    return [q["sql"] for q in captured.captured_queries if q["sql"].startswith("INSERT") and table in q["sql"]]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_activity_row_commits_without_waiting_for_the_wal_flush(api_client: Any, shop: Shop) -> None:
    assert _post_token(api_client, shop).status_code == HTTPStatus.OK  # the first signing key is created
    TokenActivity.objects.all().delete()
    with CaptureQueriesContext(connection) as captured:
        response = _post_token(api_client, shop)
    assert response.status_code == HTTPStatus.OK
    sql = [q["sql"] for q in captured.captured_queries]
    # One autocommitted statement whose own transaction has synchronous_commit = off (SET LOCAL's
    # function form), not BEGIN / SET LOCAL / INSERT / COMMIT: one INSERT in all (the client and its grant
    # come from the grant cache).
    assert len(sql) == 1, sql
    (insert,) = _activity_inserts(captured)
    assert ASYNC_COMMIT in insert
    assert TokenActivity.objects.filter(outcome=Outcome.SUCCESS, client_id=shop.client_id).count() == 1
    row = TokenActivity.objects.get(client_id=shop.client_id)
    assert (row.application_id, row.status_code, str(row.client_ip)) == (shop.app.pk, 200, "127.0.0.1")
    # The setting ended with that statement: the connection's other writes still wait for the flush.
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_atomic_requests_does_not_make_the_request_wait(
    api_client: Any, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ATOMIC_REQUESTS would wrap the view in one transaction whose COMMIT waits for the flush;
    # the token endpoint opts out, so the row still gets its own asynchronous commit.
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    assert _post_token(api_client, shop).status_code == HTTPStatus.OK  # the first signing key is created
    TokenActivity.objects.all().delete()
    with CaptureQueriesContext(connection) as captured:
        response = _post_token(api_client, shop)
    assert response.status_code == HTTPStatus.OK
    (insert,) = _activity_inserts(captured)
    assert ASYNC_COMMIT in insert
    assert not [q for q in captured.captured_queries if q["sql"].upper().startswith(("BEGIN", "SAVEPOINT"))]
    assert TokenActivity.objects.filter(client_id=shop.client_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_atomic_requests_still_records_refusals(api_client: Any, shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    body = urlencode({"grant_type": "client_credentials", "resource": "https://unknown.api"})
    response = api_client.post("/oidc/token", body, content_type=FORM, HTTP_AUTHORIZATION=shop.basic())
    assert response.status_code == HTTPStatus.BAD_REQUEST
    row = TokenActivity.objects.get(client_id=shop.client_id)
    assert (row.outcome, row.error) == (Outcome.FAILURE, "invalid_target")


def _shell(env: dict[str, str], code: str) -> Any:
    return json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])


def _example_env(database_url: str) -> dict[str, str]:
    return _environment(database_url, free_port())


def test_shipped_sqlite_settings_use_wal_without_a_flush_per_commit(tmp_path: Path) -> None:
    env = _example_env(f"sqlite:///{tmp_path / 'shipped.sqlite3'}")
    code = (
        "import json; from django.db import connection; c = connection.cursor(); "
        "print(json.dumps([c.execute('PRAGMA journal_mode').fetchone()[0], "
        "c.execute('PRAGMA synchronous').fetchone()[0]]))"
    )
    journal_mode, synchronous = _shell(env, code)
    assert journal_mode == "wal"
    assert synchronous == 1  # NORMAL (FULL is 2)


PREPARED = (
    "import json; from django.db import connection; from logto_m2m_django.models import Resource; "
    "[list(Resource.objects.filter(indicator='x')) for _ in range(5)]; c = connection.cursor(); "
    "c.execute('SELECT count(*) FROM pg_prepared_statements'); print(json.dumps(c.fetchone()[0]))"
)


@pytest.mark.postgres
def test_shipped_postgres_settings_prepare_statements(tmp_path: Path) -> None:
    with scratch_database(tmp_path, "prepared") as url:
        env = _example_env(url)
        manage(env, "migrate", "--noinput", "-v0")
        assert _shell(env, PREPARED) >= 1
        # Behind a PgBouncer without prepared-statement support (< 1.21): turned off.
        assert _shell({**env, "DATABASE_PREPARED_STATEMENTS": "0"}, PREPARED) == 0


# --- a worker killed right after it answered -------------------------------------------------------

KILL_DEADLINE = 10.0


@pytest.fixture
def pid_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, Any], dict[str, str]]]:
    port = free_port()
    with scratch_database(tmp_path, "kill") as url:
        env = _environment(url, port)
        env["DJANGO_SETTINGS_MODULE"] = "tests.worker_pid_settings"
        manage(env, "migrate", "--noinput", "-v0")
        demo = json.loads(manage(env, "m2m", "demo", "--json").strip().splitlines()[-1])
        with serve(env, port, tmp_path, workers=2) as (base_url, _log):
            yield base_url, demo, env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.e2e
def test_no_row_lost_when_the_worker_that_answered_is_killed(
    pid_server: tuple[str, dict[str, Any], dict[str, str]],
) -> None:
    pytest.importorskip("gunicorn")
    base_url, demo, env = pid_server
    answered = []
    for _ in range(3):
        response = requests.post(
            f"{base_url}/oidc/token",
            data={"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products"},
            auth=(demo["client_id"], demo["client_secret"]),
            timeout=10,
        )
        assert response.status_code == HTTPStatus.OK, response.text
        pid = int(response.headers["X-Worker-Pid"])
        os.kill(pid, signal.SIGKILL)  # at once, before anything it might have deferred could run
        deadline = time.monotonic() + KILL_DEADLINE
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the kill, bounded
        answered.append(response.json()["access_token"])
        # gunicorn replaces the worker; the next request may reach the new one or the other.
        deadline = time.monotonic() + KILL_DEADLINE
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base_url}/oidc/jwks", timeout=2).status_code == HTTPStatus.OK:
                    break
            except requests.RequestException:
                time.sleep(0.05)
    code = (
        "import json; from logto_m2m_django.models import TokenActivity; "
        "print(json.dumps(TokenActivity.objects.filter(outcome='success').count()))"
    )
    assert _shell(env, code) == len(answered)


def test_django_42_gets_the_same_sqlite_pragmas_from_a_receiver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, django_db_blocker: Any
) -> None:
    # Django < 5.1 has no OPTIONS["init_command"] for SQLite: a connection_created receiver runs the PRAGMAs.
    from django.db.backends.signals import connection_created
    from django.db.backends.sqlite3.base import DatabaseWrapper

    from example_project import database

    monkeypatch.setattr(database.django, "VERSION", (4, 2, 0, "final", 0))
    settings = database.tune({"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "old.sqlite3")})
    assert "init_command" not in settings["OPTIONS"]
    wrapper = DatabaseWrapper(
        {
            **settings,
            "TIME_ZONE": None,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "AUTOCOMMIT": True,
            "ATOMIC_REQUESTS": False,
            "USER": "",
            "PASSWORD": "",
            "HOST": "",
            "PORT": "",
            "TEST": {},
        },
        alias="old",
    )
    with django_db_blocker.unblock():
        try:
            wrapper.ensure_connection()
            with wrapper.cursor() as cursor:
                cursor.execute("PRAGMA journal_mode")
                assert cursor.fetchone()[0] == "wal"
                cursor.execute("PRAGMA synchronous")
                assert cursor.fetchone()[0] == 1
        finally:
            wrapper.close()
            connection_created.disconnect(dispatch_uid="example_project.database.sqlite")
