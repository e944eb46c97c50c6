"""The reference deployment, started for real on loopback: HAProxy -> 2 gunicorn instances -> PgBouncer -> PostgreSQL.

``make load-cluster`` (``scripts/load.py --cluster``) runs its load through :func:`reference_cluster`:

- PostgreSQL: a database of its own on the server of ``DATABASE_URL``, migrated and seeded directly;
- PgBouncer in transaction pooling in front of it (``DATABASE_TRANSACTION_POOLING=1``: no server-side
  cursors, no prepared statements: Debian 12's PgBouncer 1.18 predates their support in 1.21);
- two gunicorn instances of the example project (``bench.cluster_settings``: THROTTLE_NUM_PROXIES=1);
- HAProxy in HTTP mode, round robin, ``option forwardfor`` (it appends the caller's address to
  ``X-Forwarded-For``);
- the Redis of ``REDIS_URL`` shared by both instances, under a key prefix of the run's own.

Ports are chosen free at run time on 127.0.0.1; every configuration file is generated into a temporary
directory; everything started is stopped (SIGINT/SIGTERM, then SIGKILL after a bounded wait) and the
database dropped, whatever happens.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
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
from urllib.parse import urlsplit, urlunsplit

import requests

from tests.e2e_support import free_port, manage, scratch_database

REPO = Path(__file__).resolve().parent.parent
SETTINGS = "bench.cluster_settings"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def _binary(name: str) -> str:
    found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}",) if os.path.exists(p)), None)
    if not found:
        raise RuntimeError(f"{name} is not installed: run `make load-cluster` (it runs scripts/cluster-deps.sh)")
    return found


@dataclass
class ReferenceCluster:
    proxy_url: str
    instance_urls: list[str]
    demo: dict[str, Any]
    env: dict[str, str]
    """The app's environment with DATABASE_URL pointing straight at PostgreSQL (CLI, audit)."""
    workdir: Path
    versions: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)

    def logs(self, lines: int = 40) -> str:
        out = []
        for log in sorted(self.workdir.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"== {log.name}\n" + "\n".join(text))
        return "\n".join(out)

    def tracebacks(self) -> int:
        return sum(log.read_text(errors="replace").count("Traceback") for log in self.workdir.glob("gunicorn-*.log"))


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    running = [p for p in processes.values() if p.poll() is None]
    for process in running:
        # SIGTERM: gunicorn's graceful stop, HAProxy's and PgBouncer's immediate one; to the process
        # group, so that PgBouncer started through runuser gets it too.
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)


def _start(cluster: ReferenceCluster, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
    log = (cluster.workdir / f"{name}.log").open("wb")
    cluster.processes[name] = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()


def _wait_http(cluster: ReferenceCluster, name: str, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if cluster.processes[name].poll() is not None:
            raise RuntimeError(f"{name} exited with {cluster.processes[name].returncode}:\n{cluster.logs()}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)  # polling a starting server, bounded by START_TIMEOUT
    raise RuntimeError(f"{name} did not answer {url} within {START_TIMEOUT:g} s:\n{cluster.logs()}")


def _wait_port(cluster: ReferenceCluster, name: str, port: int) -> None:
    import socket

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if cluster.processes[name].poll() is not None:
            raise RuntimeError(f"{name} exited with {cluster.processes[name].returncode}:\n{cluster.logs()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {port} within {START_TIMEOUT:g} s:\n{cluster.logs()}")


def _pgbouncer(cluster: ReferenceCluster, database_url: str, pool_size: int) -> str:
    """Start PgBouncer (transaction pooling) for ``database_url``; returns the URL through it."""
    parts = urlsplit(database_url)
    dbname, user = parts.path.lstrip("/"), parts.username or "postgres"
    port = free_port()
    conf = cluster.workdir / "pgbouncer.ini"
    (cluster.workdir / "userlist.txt").write_text(f'"{user}" "{parts.password or ""}"\n')
    conf.write_text(
        "[databases]\n"
        f"{dbname} = host={parts.hostname or '127.0.0.1'} port={parts.port or 5432} dbname={dbname} user={user}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = {'trust' if not parts.password else 'plain'}\nauth_file = {cluster.workdir / 'userlist.txt'}\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        "server_reset_query =\n"
    )
    command = [_binary("pgbouncer"), str(conf)]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        user_name = "postgres" if _has_user("postgres") else "nobody"
        command = ["runuser", "-u", user_name, "--", *command]
    _start(cluster, "pgbouncer", command)
    _wait_port(cluster, "pgbouncer", port)
    version = subprocess.run([_binary("pgbouncer"), "--version"], capture_output=True, text=True, check=False)
    cluster.versions["pgbouncer"] = version.stdout.split("\n", 1)[0].strip()
    netloc = f"{user}{':' + parts.password if parts.password else ''}@127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _haproxy(cluster: ReferenceCluster, backends: list[int]) -> int:
    port = free_port()
    conf = cluster.workdir / "haproxy.cfg"
    servers = "".join(f"    server app{i} 127.0.0.1:{p} maxconn 16\n" for i, p in enumerate(backends))
    conf.write_text(
        "global\n    maxconn 1024\n"
        "defaults\n    mode http\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n"
        # The reverse proxy's own contract: the caller's address is appended to X-Forwarded-For.
        "    option forwardfor\n"
        f"frontend m2m\n    bind 127.0.0.1:{port}\n    default_backend gunicorn\n"
        "backend gunicorn\n    balance roundrobin\n" + servers
    )
    _start(cluster, "haproxy", [_binary("haproxy"), "-db", "-f", str(conf)])
    version = subprocess.run([_binary("haproxy"), "-v"], capture_output=True, text=True, check=False)
    cluster.versions["haproxy"] = version.stdout.split("\n", 1)[0].strip()
    return port


@contextmanager
def reference_cluster(
    *, workers: int = 2, threads: int = 4, throttle_rates: dict[str, Any], pool_size: int = 20
) -> Iterator[ReferenceCluster]:
    """The reference deployment, until the block ends. Needs DATABASE_URL (PostgreSQL) and REDIS_URL."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="logto-m2m-cluster-")))
        workdir.chmod(0o755)  # PgBouncer runs as another user and reads its configuration here
        direct_url = stack.enter_context(scratch_database(workdir, "cluster"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LOGTO_M2M_", "DATABASE_"))}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": SETTINGS,
                "DATABASE_URL": direct_url,
                "LOGTO_M2M_CACHE_PREFIX": f"logto-m2m-cluster-{secrets.token_hex(6)}",
                "LOGTO_M2M_THROTTLE_RATES": json.dumps(throttle_rates),
                "DJANGO_DEBUG": "0",
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
                "CONN_MAX_AGE": "60",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(REPO),
            }
        )
        backends = [free_port(), free_port()]
        cluster = ReferenceCluster("", [f"http://127.0.0.1:{p}" for p in backends], {}, env, workdir)
        stack.callback(_stop, cluster.processes)
        proxy_port = _haproxy(cluster, backends)
        cluster.proxy_url = f"http://127.0.0.1:{proxy_port}"
        # One issuer for the deployment: the address clients use, the proxy's.
        env["LOGTO_M2M_ISSUER"] = f"{cluster.proxy_url}/oidc"
        manage(env, "migrate", "--noinput", "-v0")
        cluster.demo = json.loads(manage(env, "m2m", "demo", "--json").strip().splitlines()[-1])
        pooled_url = _pgbouncer(cluster, direct_url, pool_size)
        app_env = {**env, "DATABASE_URL": pooled_url, "DATABASE_TRANSACTION_POOLING": "1"}
        for index, port in enumerate(backends):
            command = [sys.executable, "-m", "gunicorn", "example_project.wsgi:application"]
            command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)]
            command += ["--graceful-timeout", "5", "--timeout", "30"]
            _start(cluster, f"gunicorn-{index}", command, {**app_env, "LOGTO_M2M_INSTANCE": f"app{index}"})
        for index, url in enumerate(cluster.instance_urls):
            _wait_http(cluster, f"gunicorn-{index}", f"{url}/oidc/jwks")
        _wait_http(cluster, "haproxy", f"{cluster.proxy_url}/oidc/jwks")
        try:
            yield cluster
        finally:
            _stop(cluster.processes)
