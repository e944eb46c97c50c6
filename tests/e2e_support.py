"""The example project under gunicorn, for tests/test_e2e_gunicorn.py.

:func:`example_server` gives the project its own database (a temporary SQLite
file, or a dedicated PostgreSQL database when ``DATABASE_URL`` points at
PostgreSQL), migrates it, seeds the shopping example with ``m2m demo --json``
and serves it with gunicorn on a free loopback port. Everything it starts or
creates is stopped or dropped on exit, within bounded timeouts.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

REPO = Path(__file__).resolve().parent.parent
COMMAND_TIMEOUT = 60
START_TIMEOUT = 30
STOP_TIMEOUT = 10


@dataclass(frozen=True)
class ExampleServer:
    base_url: str
    issuer: str
    demo: dict[str, Any]
    log: Path
    #: The servers' environment, to run ``manage.py`` against the same database.
    env: dict[str, str] = field(default_factory=dict)

    @property
    def client_id(self) -> str:
        return str(self.demo["client_id"])

    @property
    def client_secret(self) -> str:
        return str(self.demo["client_secret"])

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def scratch_database(workdir: Path, label: str = "e2e") -> Iterator[str]:
    """A database URL for test servers alone: a SQLite file in ``workdir``, or (when DATABASE_URL is
    PostgreSQL) a database of its own, created here and dropped afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{workdir / f'{label}.sqlite3'}"
        return
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = f"{(parts.path.lstrip('/') or 'logto_m2m')}_{label}_{os.getpid()}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(drop)


def _environment(database_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LOGTO_M2M_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "example_project.settings",
            "DATABASE_URL": database_url,
            "LOGTO_M2M_ISSUER": f"http://127.0.0.1:{port}/oidc",
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
            "CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``manage.py *args`` in another process, its exit code and both outputs kept (for a test that reads stderr)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def manage(env: dict[str, str], *args: str) -> str:
    result = run_manage(env, *args)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)  # polling a starting server, not waiting for a clock
    raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT}s:\n{log.read_text(errors='replace')}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # gunicorn: graceful shutdown of the master and its workers
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the session gunicorn was started in: master and workers
        process.wait(timeout=STOP_TIMEOUT)


@contextmanager
def serve(env: dict[str, str], port: int, workdir: Path, workers: int = 2) -> Iterator[tuple[str, Path]]:
    """The example project under gunicorn (sync workers) on 127.0.0.1:``port``, until the block ends."""
    log = workdir / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    command += ["--worker-class", "sync", "--timeout", "30", "--graceful-timeout", "5"]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [*command, "example_project.wsgi:application"],
            cwd=REPO,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_ready(process, f"{base_url}/oidc/.well-known/openid-configuration", log)
        yield base_url, log
    finally:
        _stop(process)


@contextmanager
def example_server(workdir: Path, workers: int = 2) -> Iterator[ExampleServer]:
    port = free_port()
    with scratch_database(workdir) as database_url:
        env = _environment(database_url, port)
        manage(env, "migrate", "--noinput", "-v0")
        demo = json.loads(manage(env, "m2m", "demo", "--json").strip().splitlines()[-1])
        with serve(env, port, workdir, workers) as (base_url, log):
            yield ExampleServer(base_url, env["LOGTO_M2M_ISSUER"], demo, log, env)
