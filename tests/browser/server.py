"""The example project under gunicorn for the browser tests: an empty database and a superuser.

Built on :mod:`tests.e2e_support` (free port, own database, bounded start and stop), with two
differences: no demo data (the browser creates it) and ``DJANGO_DEBUG=1`` so that the admin's CSS
and JS are served (``staticfiles_urlpatterns`` in the example project's URLs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e_support import _environment, free_port, manage, scratch_database, serve

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
        with serve(env, port, workdir) as (base_url, log):
            yield AdminServer(base_url, env, log)
