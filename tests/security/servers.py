"""Several gunicorn instances of the example project sharing one database and one Redis.

Used by the cross-process throttling test and by ``scripts/load.py``. Everything started
is stopped (SIGTERM, then SIGKILL after a bounded wait) and a PostgreSQL database created
for the run is dropped.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from tests.e2e_support import free_port, manage, scratch_database

REPO = Path(__file__).resolve().parents[2]
SETTINGS = "tests.security.server_settings"
COMMAND_TIMEOUT = 120
START_TIMEOUT = 30
STOP_TIMEOUT = 10


class SourceAddressAdapter(HTTPAdapter):
    """Connects from a given local address: 127.0.0.2, 127.0.0.3... stand in for other machines."""

    def __init__(self, source: str, **kwargs: Any) -> None:
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(source: str) -> requests.Session:
    """A requests session whose connections come from ``source`` (a loopback address)."""
    session = requests.Session()
    adapter = SourceAddressAdapter(source)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass
class Cluster:
    """N servers of one deployment: same database, same cache, same SECRET_KEY."""

    ports: list[int]
    demo: dict[str, Any]
    env: dict[str, str]
    logs: list[Path]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def url(self, index: int, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[index % len(self.ports)]}{path}"

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for log in self.logs:
            try:
                out.append("\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
            except OSError:
                out.append("(no log)")
        return "\n---\n".join(out)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGINT (gunicorn's quick shutdown) to every server at once, SIGKILL to any still running later."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


def _wait_ready(cluster: Cluster, index: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{cluster.log_tail()}")
        try:
            if requests.get(cluster.url(index, "/oidc/jwks"), timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn on port {cluster.ports[index]} did not start:\n{cluster.log_tail()}")


@contextmanager
def cluster(
    instances: int = 2,
    *,
    workers: int = 1,
    threads: int = 1,
    throttle_rates: dict[str, Any] | None = None,
    label: str = "security",
    key_change_check_seconds: float | None = None,
) -> Iterator[Cluster]:
    """Start ``instances`` gunicorn servers (``workers`` x ``threads`` each) on free loopback ports."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="logto-m2m-")))
        database_url = stack.enter_context(scratch_database(workdir, label))
        ports = [free_port() for _ in range(instances)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LOGTO_M2M_"))}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": SETTINGS,
                "DATABASE_URL": database_url,
                # One issuer for the deployment, as behind a load balancer.
                "LOGTO_M2M_ISSUER": f"http://127.0.0.1:{ports[0]}/oidc",
                "LOGTO_M2M_CACHE_PREFIX": f"logto-m2m-{label}-{secrets.token_hex(6)}",
                "DJANGO_DEBUG": "0",
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
                "CONN_MAX_AGE": "60",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if throttle_rates is not None:
            env["LOGTO_M2M_THROTTLE_RATES"] = json.dumps(throttle_rates)
        if key_change_check_seconds is not None:
            env["LOGTO_M2M_KEY_CHANGE_CHECK_SECONDS"] = str(key_change_check_seconds)
        manage(env, "migrate", "--noinput", "-v0")
        demo = json.loads(manage(env, "m2m", "demo", "--json"))
        logs = [workdir / f"gunicorn-{port}.log" for port in ports]
        result = Cluster(ports, demo, env, logs)
        stack.callback(_stop, result.processes)
        for index, port in enumerate(ports):
            log = stack.enter_context(logs[index].open("wb"))
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "example_project.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(workers),
                    "--threads",
                    str(threads),
                    "--graceful-timeout",
                    "5",
                    "--timeout",
                    "30",
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            result.processes.append(process)
        for index, process in enumerate(result.processes):
            _wait_ready(result, index, process)
        yield result
