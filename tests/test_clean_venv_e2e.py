"""The built wheels in new virtualenvs: the getting-started page followed to the letter, and the client alone.

The server wheel and the client wheel are built (``pip wheel --no-deps``, not editable) from this checkout.
One new virtualenv gets the server (its dependencies from the package index), a ``django-admin startproject``
and the files and commands of docs/getting-started.md, then serves it with ``runserver``; the seed's flow
(``m2m demo``, a token, the protected view) runs against it over HTTP. A second new virtualenv gets only the
client wheel, with ``--no-index``: no Django is installed, and it fetches a token from that server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import pytest
import requests

from tests.e2e_support import REPO, _stop, _wait_until_ready, free_port

pytestmark = pytest.mark.e2e

PAGE = REPO / "docs" / "getting-started.md"
INSTALL_TIMEOUT = 900
COPY_IGNORE = (".git", ".venv*", "build", "site", "*.egg-info", "__pycache__", "test-artifacts", "node_modules")
_BLOCK = re.compile(r'^```(\w+) title="([^"]+)"\n(.*?)^```', re.MULTILINE | re.DOTALL)


def page_blocks() -> list[tuple[str, str]]:
    """(title, text) of the page's titled code blocks, in order."""
    return [(title, text) for _, title, text in _BLOCK.findall(PAGE.read_text())]


def page_commands() -> list[str]:
    return [line for title, text in page_blocks() if title == "Terminal" for line in text.splitlines()]


def page_file(name: str) -> str:
    (text,) = [text for title, text in page_blocks() if title == name]
    return text


def clean_env() -> dict[str, str]:
    """This process's environment less what points at the test suite (its settings, database, path)."""
    ours = ("DJANGO_", "DATABASE_URL", "REDIS_URL", "PYTHONPATH", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(ours)}


def run(*args: str | Path, cwd: Path | None = None, timeout: float = 120) -> str:
    env = clean_env()
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (
        f"{args} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # From a copy of the sources: setuptools builds in place and a build/ left in the checkout would be reused.
    source = tmp_path_factory.mktemp("source") / "logto-m2m-django"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*COPY_IGNORE))
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, source / "client", source,
        timeout=INSTALL_TIMEOUT)  # fmt: skip
    assert sorted(p.name.split("-")[0] for p in dist.glob("*.whl")) == ["logto_m2m_client", "logto_m2m_django"]
    return dist


@dataclass
class Project:
    base_url: str
    python: Path
    demo: dict[str, str]


@pytest.fixture(scope="module")
def project(wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A startproject in a new virtualenv, set up by the getting-started page, served by runserver."""
    root = tmp_path_factory.mktemp("newproject")
    commands = page_commands()
    # The page's install step, with the wheels built from this checkout in place of the clone.
    assert "pip install ./logto-m2m-django/client ./logto-m2m-django" in commands
    assert "python3 -m venv .venv" in commands
    run(sys.executable, "-m", "venv", root / ".venv")
    python = root / ".venv" / "bin" / "python"
    (server_wheel,) = wheels.glob("logto_m2m_django-*.whl")
    run(python, "-m", "pip", "install", "--quiet", "--find-links", wheels, server_wheel, timeout=INSTALL_TIMEOUT)
    where = "import logto_m2m_django, logto_m2m_client; print(logto_m2m_django.__file__, logto_m2m_client.__file__)"
    installed = run(python, "-c", where, cwd=root)
    assert installed.count(str(root / ".venv")) == 2, "the packages must come from the wheels, not this checkout"

    assert "django-admin startproject mysite ." in commands
    run(root / ".venv" / "bin" / "django-admin", "startproject", "mysite", ".", cwd=root)
    settings = root / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + "\n" + page_file("mysite/settings.py"))
    (root / "mysite" / "views.py").write_text(page_file("mysite/views.py"))
    (root / "mysite" / "urls.py").write_text(page_file("mysite/urls.py"))

    for command in ("python manage.py migrate", "python manage.py check", "python manage.py m2m demo"):
        assert command in commands
    run(python, "manage.py", "migrate", "--noinput", cwd=root)
    assert "System check identified no issues" in run(python, "manage.py", "check", cwd=root)
    demo = json.loads(run(python, "manage.py", "m2m", "demo", "--json", cwd=root))

    assert "python manage.py runserver" in commands
    port = free_port()
    log = root / "runserver.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(python), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=root,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_ready(server, f"{base}/oidc/jwks", log)
        yield Project(base, python, demo)
    finally:
        _stop(server)


def test_the_getting_started_page_gives_a_token_and_a_protected_call(project: Project) -> None:
    demo, base = project.demo, project.base_url
    assert demo["issuer"] == "http://127.0.0.1:8000/oidc"  # the page's ISSUER
    response = requests.post(
        f"{base}/oidc/token",
        auth=(demo["client_id"], demo["client_secret"]),
        data={
            "grant_type": "client_credentials",
            "resource": "https://shopping.api",
            "scope": "read:products write:products",
        },
        timeout=30,
    )
    assert response.status_code == HTTPStatus.OK, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read:products"  # write:products is not held by the role, so it is dropped
    bearer = {"Authorization": f"Bearer {body['access_token']}"}

    products = requests.get(f"{base}/products", headers=bearer, timeout=30)
    assert products.status_code == HTTPStatus.OK, products.text
    assert products.json()["client_id"] == demo["client_id"]

    anonymous = requests.get(f"{base}/products", timeout=30)
    assert anonymous.status_code == HTTPStatus.UNAUTHORIZED
    assert anonymous.headers["WWW-Authenticate"].startswith('Bearer realm="api"')
    refused = requests.post(f"{base}/products", headers=bearer, timeout=30)
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
    assert 'scope="write:products"' in refused.headers["WWW-Authenticate"]


CLIENT_SCRIPT = """
import json, sys, urllib.request
from logto_m2m_client import TokenSource

base, client_id, client_secret = sys.argv[1:4]
source = TokenSource(token_endpoint=base + "/oidc/token", client_id=client_id, client_secret=client_secret,
                     resource="https://shopping.api", scopes=["read:products"])
token = source.get_token()
request = urllib.request.Request(base + "/products", headers={"Authorization": "Bearer " + token.value})
with urllib.request.urlopen(request, timeout=30) as response:
    print(json.dumps({"scope": token.scope, "status": response.status, "body": json.load(response)}))
"""


def test_the_client_installs_alone_and_fetches_a_token(wheels: Path, project: Project, tmp_path: Path) -> None:
    run(sys.executable, "-m", "venv", tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    (client_wheel,) = wheels.glob("logto_m2m_client-*.whl")
    # --no-index: the client has no dependencies at all.
    run(python, "-m", "pip", "install", "--quiet", "--no-index", client_wheel, timeout=INSTALL_TIMEOUT)

    listing = "import importlib.metadata as m, json; print(json.dumps([d.metadata['Name'] for d in m.distributions()]))"
    distributions = {name.lower() for name in json.loads(run(python, "-c", listing, cwd=tmp_path))}
    assert "logto-m2m-client" in distributions
    assert not distributions & {"django", "djangorestframework", "django-oauth-toolkit", "logto-m2m-django"}
    no_django = subprocess.run(
        [str(python), "-c", "import django"], cwd=tmp_path, capture_output=True, timeout=60, check=False
    )
    assert no_django.returncode != 0

    answer = json.loads(
        run(
            python,
            "-c",
            CLIENT_SCRIPT,
            project.base_url,
            project.demo["client_id"],
            project.demo["client_secret"],
            cwd=tmp_path,
        )
    )
    assert answer["scope"] == "read:products"
    assert answer["status"] == HTTPStatus.OK
    assert answer["body"]["client_id"] == project.demo["client_id"]
