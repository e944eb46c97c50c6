"""The example project under gunicorn for the browser tests: an empty database and a superuser.

Built on :mod:`tests.e2e_support` (free port, own database, bounded start and stop), with two
differences: no demo data (the browser creates it) and ``DJANGO_DEBUG=1`` so that the admin's CSS
and JS are served (``staticfiles_urlpatterns`` in the example project's URLs).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e_support import REPO, _environment, _stop, _wait_until_ready, free_port, manage, scratch_database

ADMIN_USER = "admin"
ADMIN_PASSWORD = "browser-test-password-0f3c"  # a throw-away account in a throw-away database


@dataclass(frozen=True)
class AdminServer:
    base_url: str
    env: dict[str, str]
    log: Path

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)


@contextmanager
def admin_server(workdir: Path) -> Iterator[AdminServer]:
    port = free_port()
    with scratch_database(workdir) as database_url:
        env = _environment(database_url, port)
        env.update({"DJANGO_DEBUG": "1", "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD})
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "createsuperuser", "--noinput", "--username", ADMIN_USER, "--email", "admin@example.com")
        log = workdir / "gunicorn.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--timeout",
                    "30",
                    "--graceful-timeout",
                    "5",
                    "example_project.wsgi:application",
                ],
                cwd=REPO,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_ready(process, f"{base_url}/oidc/.well-known/openid-configuration", log)
            yield AdminServer(base_url, env, log)
        finally:
            _stop(process)
