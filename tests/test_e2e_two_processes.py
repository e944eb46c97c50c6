"""Two processes for real: the issuer (the example project) and a separate resource server, under gunicorn.

The resource server (``example_resource_server``) knows only the issuer URL: it
has no database and fetches the issuer's JWKS over HTTP. A client gets a token
from one process and calls the other; then the issuer rotates its signing key.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest

from logto_m2m_django.client import RequestsAuth, TokenSource
from tests.e2e_support import free_port, manage

requests = pytest.importorskip("requests")

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **extra)
    return env


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers, even if with an error status
        except OSError:
            time.sleep(0.1)  # not listening yet
    pytest.fail(f"{url} did not start:\n{log.read_text()[-3000:]}")


def gunicorn(port: int, app: str, env: dict[str, str], log: Path, access_log: Path) -> subprocess.Popen[bytes]:
    command = [
        PYTHON, "-m", "gunicorn", app,
        "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "--threads", "4",
        "--timeout", "30", "--graceful-timeout", "2",
        "--access-logfile", str(access_log),
    ]  # fmt: skip
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[dict[str, Any]]:
    issuer_port, api_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{issuer_port}/oidc"
    issuer_env = base_env(
        DJANGO_SETTINGS_MODULE="tests.remote_issuer_settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'issuer.sqlite3'}",
        LOGTO_M2M_ISSUER=issuer,
        DJANGO_DEBUG="0",
    )
    manage(issuer_env, "migrate", "--noinput", "-v0")
    demo = json.loads(manage(issuer_env, "m2m", "demo", "--json"))
    api_env = base_env(
        DJANGO_SETTINGS_MODULE="example_resource_server.settings", LOGTO_M2M_ISSUER=issuer, DJANGO_DEBUG="0"
    )
    processes = []
    try:
        processes.append(
            gunicorn(
                issuer_port,
                "example_project.wsgi:application",
                issuer_env,
                tmp_path / "issuer.log",
                tmp_path / "issuer-access.log",
            )
        )
        processes.append(
            gunicorn(
                api_port,
                "example_resource_server.wsgi:application",
                api_env,
                tmp_path / "api.log",
                tmp_path / "api-access.log",
            )
        )
        wait_until_serving(f"{issuer}/.well-known/openid-configuration", processes[0], tmp_path / "issuer.log")
        wait_until_serving(f"http://127.0.0.1:{api_port}/products", processes[1], tmp_path / "api.log")
        yield {
            "issuer": issuer,
            "issuer_env": issuer_env,
            "demo": demo,
            "api": f"http://127.0.0.1:{api_port}",
            "issuer_access_log": tmp_path / "issuer-access.log",
        }
    finally:
        for process in processes:
            stop(process)


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def jwks_fetches(access_log: Path) -> int:
    return sum(1 for line in access_log.read_text().splitlines() if "GET /oidc/jwks" in line)


def test_token_from_the_issuer_works_at_the_resource_server_across_key_rotation(two_processes: dict[str, Any]) -> None:
    env, demo, api = two_processes["issuer_env"], two_processes["demo"], two_processes["api"]
    source = TokenSource(
        issuer=two_processes["issuer"],  # the token endpoint is discovered
        client_id=demo["client_id"],
        client_secret=demo["client_secret"],
        resource="https://shopping.api",
        scopes=["read:products", "write:products"],
        timeout=10,
    )
    with requests.Session() as session:
        session.auth = RequestsAuth(source)
        response = session.get(f"{api}/products", timeout=10)
        assert response.status_code == HTTPStatus.OK, response.text
        assert response.json()["client_id"] == demo["client_id"]
        # The demo role holds read:products only.
        denied = session.post(f"{api}/products", json={"name": "Desk lamp"}, timeout=10)
        assert denied.status_code == HTTPStatus.FORBIDDEN
        assert 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]
        assert 'scope="write:products"' in denied.headers["WWW-Authenticate"]
        assert jwks_fetches(two_processes["issuer_access_log"]) == 1

        old_token = source.token()
        manage(env, "m2m", "rotate-keys")
        source.invalidate()
        new_token = source.token()
        assert kid_of(new_token) != kid_of(old_token)

        # The resource server meets the new kid, fetches the JWKS once, and accepts it.
        response = session.get(f"{api}/products", timeout=10)
        assert response.status_code == HTTPStatus.OK, response.text
        assert response.request.headers["Authorization"] == f"Bearer {new_token}"
        assert jwks_fetches(two_processes["issuer_access_log"]) == 2

    # The token signed by the previous key still works, without another fetch.
    response = requests.get(f"{api}/products", headers={"Authorization": f"Bearer {old_token}"}, timeout=10)
    assert response.status_code == HTTPStatus.OK, response.text
    assert jwks_fetches(two_processes["issuer_access_log"]) == 2
    # And a made-up token still gets a clean 401.
    response = requests.get(f"{api}/products", headers={"Authorization": "Bearer a.b.c"}, timeout=10)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
