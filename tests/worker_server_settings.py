"""Settings of the example project for tests that must reach every gunicorn worker.

The security servers' settings (``tests.security.server_settings``), plus a middleware that names the
worker process answering each request in an ``X-Worker-Pid`` header. Test settings only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tests.security.server_settings import *  # noqa: F403
from tests.security.server_settings import MIDDLEWARE


def worker_pid_middleware(get_response: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def middleware(request: Any) -> Any:
        response = get_response(request)
        response["X-Worker-Pid"] = str(os.getpid())
        return response

    return middleware


MIDDLEWARE = ["tests.worker_server_settings.worker_pid_middleware", *MIDDLEWARE]
