"""The example project's settings plus a test-only header naming the worker process that answered."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from example_project.settings import *  # noqa: F403
from example_project.settings import MIDDLEWARE


def worker_pid_middleware(get_response: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def middleware(request: Any) -> Any:
        response = get_response(request)
        response["X-Worker-Pid"] = str(os.getpid())
        return response

    return middleware


MIDDLEWARE = ["tests.worker_pid_settings.worker_pid_middleware", *MIDDLEWARE]
