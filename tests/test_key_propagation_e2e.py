"""End to end: key changes made with the CLI reach every gunicorn worker; a dead or hung Redis is survived.

The example project under gunicorn (3 sync workers, ``tests.worker_server_settings``: each response says
which worker answered in ``X-Worker-Pid``), the ``m2m`` command in another process, requests over loopback
with ``Connection: close`` so that they spread over the workers. Once with LocMemCache + SQLite (no shared
cache: the database counter carries the notice) and once with Redis + PostgreSQL (issue 12, "Done means").
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

pytest.importorskip("gunicorn", reason="the end-to-end tests serve the example project with gunicorn")

from logto_m2m_django._internal.sharedcache import RETRY_SECONDS
from logto_m2m_django.conf import DEFAULTS

from .e2e_support import free_port, manage, run_manage, scratch_database, serve

pytestmark = pytest.mark.e2e

SHOP = "https://shopping.api"
WORKERS = 3
#: Issue 12: every worker refuses, signs with and publishes the new state within 6 s of the CLI's change.
PROPAGATION_DEADLINE = 6.0
READY_DEADLINE = 60.0
TIMEOUT = 10
#: The deployments here keep the package default.
DEFAULT_CHECK_SECONDS = float(DEFAULTS["KEY_CHANGE_CHECK_SECONDS"])
CLOSE = {"Connection": "close"}  # a new connection per request: the workers take turns accepting


@dataclass
class Deployment:
    base_url: str
    env: dict[str, str]
    demo: dict[str, Any]

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)


@contextmanager
def deployment(
    workdir: Path,
    *,
    database_url: str,
    redis_url: str | None,
    workers: int = WORKERS,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Deployment]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LOGTO_M2M_", "REDIS_URL"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.worker_server_settings",
            "DATABASE_URL": database_url,
            "LOGTO_M2M_ISSUER": f"http://127.0.0.1:{port}/oidc",
            "LOGTO_M2M_CACHE_PREFIX": f"logto-m2m-keys-{secrets.token_hex(6)}",
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
            "CONN_MAX_AGE": "60",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra_env or {})
    manage(env, "migrate", "--noinput", "-v0")
    demo = json.loads(manage(env, "m2m", "demo", "--json").strip().splitlines()[-1])
    with serve(env, port, workdir, workers) as (base_url, _log):
        yield Deployment(base_url, env, demo)


@contextmanager
def _running(shape: str, tmp_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[Deployment]:
    with ExitStack() as stack:
        if shape == "locmem-sqlite":
            database_url, redis_url = f"sqlite:///{tmp_path / 'keys.sqlite3'}", None
        else:
            database_url, redis_url = stack.enter_context(scratch_database(tmp_path, "keys")), os.environ["REDIS_URL"]
        yield stack.enter_context(
            deployment(tmp_path, database_url=database_url, redis_url=redis_url, extra_env=extra_env)
        )


@pytest.fixture(
    params=[
        pytest.param("locmem-sqlite"),
        pytest.param("redis-postgres", marks=[pytest.mark.redis, pytest.mark.postgres]),
    ]
)
def unthrottled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    """A deployment without token endpoint rate limits: the tests using it ask for tokens non-stop."""
    with _running(request.param, tmp_path, {"LOGTO_M2M_THROTTLE_RATES": "null"}) as app:
        yield app


# -- what a request shows ------------------------------------------------------------------------------------


def token_response(app: Deployment) -> requests.Response:
    basic = base64.b64encode(f"{app.demo['client_id']}:{app.demo['client_secret']}".encode()).decode()
    return requests.post(
        app.url("/oidc/token"),
        data={"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products"},
        headers={"Authorization": f"Basic {basic}", **CLOSE},
        timeout=TIMEOUT,
    )


def new_token(app: Deployment) -> str:
    response = token_response(app)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def kid_of(token: str) -> str:
    head = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"])


def products(app: Deployment, token: str) -> requests.Response:
    return requests.get(app.url("/products"), headers={"Authorization": f"Bearer {token}", **CLOSE}, timeout=TIMEOUT)


def pid(response: requests.Response) -> int:
    return int(response.headers["X-Worker-Pid"])


def observe_until(
    probes: dict[str, Callable[[], tuple[int, bool]]], done: Callable[[dict[str, set[int]]], bool], deadline: float
) -> dict[str, set[int]]:
    """Run the probes concurrently (each answers ``(worker pid, in the expected state)``) until ``done``
    or the deadline; returns, per probe, the workers seen in the expected state."""
    seen: dict[str, set[int]] = {name: set() for name in probes}
    lock = threading.Lock()

    def run(name: str) -> None:
        worker, ok = probes[name]()
        if ok:
            with lock:
                seen[name].add(worker)

    with ThreadPoolExecutor(max_workers=2 * WORKERS) as pool:
        while time.monotonic() < deadline:
            list(pool.map(run, [name for name in probes for _ in range(WORKERS)]))
            with lock:
                if done(seen):
                    break
    return seen


# -- rotate + delete with the CLI reaches every worker ----------------------------------------------------------


def test_rotate_and_delete_from_the_cli_reach_every_worker(unthrottled: Deployment) -> None:
    # Unthrottled: the probes ask for tokens non-stop, and with Redis the client's budget (600/minute) is
    # shared by the workers; a 429 would hide which key a worker signs with.
    app = unthrottled
    cached = new_token(app)  # verified and cached by every worker below
    unseen = new_token(app)  # never shown to any worker before the key is deleted
    old_kid = kid_of(cached)
    assert kid_of(unseen) == old_kid

    def serves_cached() -> tuple[int, bool]:
        response = products(app, cached)
        return pid(response), response.status_code == 200

    warm = observe_until(
        {"cached": serves_cached},
        lambda seen: len(seen["cached"]) >= WORKERS,
        time.monotonic() + READY_DEADLINE,
    )
    workers = warm["cached"]
    assert len(workers) == WORKERS, f"only workers {workers} answered"

    # The operator's incident procedure, each command its own process.
    rotated = app.manage("m2m", "rotate-keys")
    new_kid = next(line.split()[2] for line in rotated.splitlines() if line.startswith("Current key:"))
    app.manage("m2m", "delete-key", "--", old_kid)  # "--": a kid may start with "-"
    changed_at = time.monotonic()

    def refuses(token: str) -> Callable[[], tuple[int, bool]]:
        def probe() -> tuple[int, bool]:
            response = products(app, token)
            return pid(response), response.status_code == 401 and "unknown key" in response.headers.get(
                "WWW-Authenticate", ""
            )

        return probe

    def signs_with_the_new_key() -> tuple[int, bool]:
        response = token_response(app)
        return pid(response), response.status_code == 200 and kid_of(response.json()["access_token"]) == new_kid

    def publishes_the_new_key() -> tuple[int, bool]:
        response = requests.get(app.url("/oidc/jwks"), headers=CLOSE, timeout=TIMEOUT)
        return pid(response), [key["kid"] for key in response.json()["keys"]] == [new_kid]

    probes = {
        "refuses the cached token": refuses(cached),
        "refuses the unseen token": refuses(unseen),
        "signs with the new key": signs_with_the_new_key,
        "publishes the new key": publishes_the_new_key,
    }
    seen = observe_until(
        probes, lambda seen: all(workers <= pids for pids in seen.values()), changed_at + PROPAGATION_DEADLINE
    )
    elapsed = time.monotonic() - changed_at

    missing = {name: sorted(workers - pids) for name, pids in seen.items() if not workers <= pids}
    assert not missing, f"workers not in the new state {PROPAGATION_DEADLINE} s after the CLI: {missing}"
    print(f"every worker in the new state {elapsed:.2f} s after `m2m delete-key` returned")


# -- a dead or hung Redis ------------------------------------------------------------------------------------


class HungRedis:
    """A TCP listener that accepts connections and never answers (a hung Redis); counts the connections."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:  # the accept timeout, so that stop() is noticed
                continue
            self.accepted.append(conn)  # held open, never read, never answered

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.mark.parametrize("failure", ["hung", "dead"])
def test_a_dead_or_hung_redis_leaves_tokens_and_protected_views_answering(failure: str, tmp_path: Path) -> None:
    hung = HungRedis() if failure == "hung" else None
    port = hung.port if hung else free_port()  # "dead": nothing listens there
    workers = 2
    try:
        with deployment(
            tmp_path,
            database_url=f"sqlite:///{tmp_path / 'redis-down.sqlite3'}",
            redis_url=f"redis://127.0.0.1:{port}/0",
            workers=workers,
        ) as app:
            before = len(hung.accepted) if hung else 0
            started = time.monotonic()
            statuses = []
            token = new_token(app)
            for _ in range(30):
                statuses.append(token_response(app).status_code)
                statuses.append(products(app, token).status_code)
            elapsed = time.monotonic() - started
            after = len(hung.accepted) if hung else 0
            app.manage("m2m", "rotate-keys")  # the CLI too: its notice still reaches the database counter
            assert token_response(app).status_code == 200
    finally:
        if hung:
            hung.stop()

    assert statuses == [200] * 60
    if hung:
        # Each process pays a hung Redis once per breaker and retry period (the throttle counters and the
        # change notices each have one today), never once per request.
        periods = int(elapsed // RETRY_SECONDS) + 2
        connections = after - before
        assert connections <= workers * 2 * periods, (connections, elapsed)


# -- a grace-period rotation finishes itself in every worker (issue 14 §3) -------------------------------------

#: Longer than the propagation deadline, so that every worker can be seen publishing the Next key before it signs.
GRACE_SECONDS = int(PROPAGATION_DEADLINE) + 2


def iat_of(token: str) -> int:
    body = token.split(".")[1]
    return int(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["iat"])


def test_a_grace_period_rotation_finishes_itself_in_every_worker(unthrottled: Deployment) -> None:
    from datetime import datetime, timezone

    app = unthrottled
    old_kid = kid_of(new_token(app))

    def signs_with(kid: str) -> Callable[[], tuple[int, bool]]:
        def probe() -> tuple[int, bool]:
            response = token_response(app)
            return pid(response), response.status_code == 200 and kid_of(response.json()["access_token"]) == kid

        return probe

    warm = observe_until(
        {"old": signs_with(old_kid)}, lambda seen: len(seen["old"]) >= WORKERS, time.monotonic() + READY_DEADLINE
    )
    workers = warm["old"]
    assert len(workers) == WORKERS, f"only workers {workers} answered"

    # The one and only command: stage the new key with a short grace period.
    output = app.manage("m2m", "rotate-keys", "--grace-period", f"{GRACE_SECONDS}s")
    new_kid = next(line.split()[2] for line in output.splitlines() if line.startswith("Next key:"))
    stamp = output.split("signs new tokens from ", 1)[1].split(" UTC", 1)[0]
    # Printed to the second: the key is due within [effective_floor, effective_floor + 1).
    effective_floor = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()

    samples: list[tuple[float, int, str, int]] = []  # (received at, worker, kid, iat)
    lock = threading.Lock()

    def sample() -> tuple[int, bool]:
        response = token_response(app)
        received = time.time()
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        with lock:
            samples.append((received, pid(response), kid_of(token), iat_of(token)))
        return pid(response), kid_of(token) == new_kid

    def publishes_the_next_key() -> tuple[int, bool]:
        response = requests.get(app.url("/oidc/jwks"), headers=CLOSE, timeout=TIMEOUT)
        return pid(response), {old_kid, new_kid} <= {key["kid"] for key in response.json()["keys"]}

    # Before the date: every worker publishes the Next key, and tokens are still signed by the old one.
    published = observe_until(
        {"publishes": publishes_the_next_key, "signs": sample},
        lambda seen: workers <= seen["publishes"],
        min(time.monotonic() + PROPAGATION_DEADLINE, time.monotonic() + effective_floor - time.time()),
    )
    assert workers <= published["publishes"], f"Next key not in every worker's JWKS: {published['publishes']}"
    assert time.time() < effective_floor, "the test machine is too slow for this grace period"

    # After the date, with no command: every worker signs with the new key.
    while time.time() < effective_floor:
        sample()
    switched = observe_until(
        {"signs": sample},
        lambda seen: workers <= seen["signs"],
        time.monotonic() + (effective_floor + 1 - time.time()) + PROPAGATION_DEADLINE,
    )
    assert workers <= switched["signs"], f"workers not signing with the new key: {workers - switched['signs']}"

    early = [s for s in samples if s[2] == new_kid and s[3] < effective_floor]
    assert not early, f"the new key signed before its effectiveAt: {early}"
    before = [s for s in samples if s[0] < effective_floor]
    assert before and all(s[2] == old_kid for s in before)
    statuses = app.manage("m2m", "keys")  # the promotion was saved: read it (after the fact) with the CLI
    assert any(line.startswith("Current") and new_kid in line for line in statuses.splitlines()), statuses
    assert any(line.startswith("Previous") and old_kid in line for line in statuses.splitlines()), statuses


# -- a CLI whose notice the cache missed (Redis up for the workers) --------------------------------------------


@pytest.mark.redis
@pytest.mark.postgres
def test_a_deletion_the_cache_missed_reaches_every_worker_after_announce_change(tmp_path: Path) -> None:
    """The workers read their notices from Redis; the CLI that deletes the key cannot reach it (here it is given a
    Redis nobody listens on). It says so and exits; the workers, trusting the cache, keep the deleted key until
    `m2m announce-change`, run once the cache answers, brings every one of them to the new state."""
    with _running("redis-postgres", tmp_path, {"LOGTO_M2M_THROTTLE_RATES": "null"}) as app:
        cached = new_token(app)
        old_kid = kid_of(cached)

        def serves_cached() -> tuple[int, bool]:
            response = products(app, cached)
            return pid(response), response.status_code == 200

        rotated = app.manage("m2m", "rotate-keys")  # notice delivered: every worker holds the new cache number
        new_kid = next(line.split()[2] for line in rotated.splitlines() if line.startswith("Current key:"))

        def signs_with_the_new_key() -> tuple[int, bool]:
            response = token_response(app)
            return pid(response), response.status_code == 200 and kid_of(response.json()["access_token"]) == new_kid

        ready = observe_until(
            {"cached": serves_cached, "new key": signs_with_the_new_key},
            lambda seen: all(len(pids) >= WORKERS for pids in seen.values()),
            time.monotonic() + READY_DEADLINE,
        )
        workers = ready["cached"] & ready["new key"]
        assert len(workers) == WORKERS, f"workers in the rotated state: {ready}"

        cut_off = {**app.env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}  # nothing listens there
        deleted = run_manage(cut_off, "m2m", "delete-key", "--", old_kid)
        assert deleted.returncode == 0, deleted.stderr
        assert "did not take the change notice (keys)" in deleted.stderr
        assert "m2m announce-change" in deleted.stderr

        # Longer than a check interval: the workers looked at the cache, found the rotation's number, kept the key.
        still = observe_until(
            {"cached": serves_cached},
            lambda seen: False,
            time.monotonic() + DEFAULT_CHECK_SECONDS + 1,
        )
        assert workers <= still["cached"], f"workers that dropped the key without a notice: {workers - still['cached']}"

        app.manage("m2m", "announce-change")
        announced_at = time.monotonic()

        def refuses_cached() -> tuple[int, bool]:
            response = products(app, cached)
            return pid(response), response.status_code == 401 and "unknown key" in response.headers.get(
                "WWW-Authenticate", ""
            )

        seen = observe_until(
            {"refuses": refuses_cached},
            lambda seen: workers <= seen["refuses"],
            announced_at + PROPAGATION_DEADLINE,
        )
        assert workers <= seen["refuses"], f"workers still accepting the deleted key: {workers - seen['refuses']}"
        print(f"every worker refused the deleted key {time.monotonic() - announced_at:.2f} s after announce-change")
