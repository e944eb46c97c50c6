"""Settings of the example project as ``make load-cluster`` serves it behind HAProxy and PgBouncer.

The security e2e servers' settings (throttle rates and cache prefix from the environment), plus:
THROTTLE_NUM_PROXIES = 1 (HAProxy appends the caller's address to ``X-Forwarded-For``), and an
``X-Served-By`` response header naming the instance (``LOGTO_M2M_INSTANCE``), so that the load run
can show that both instances answered. ``DATABASE_TRANSACTION_POOLING=1`` (set by the launcher) makes
``example_project.database`` fit PgBouncer's transaction pooling.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tests.security.server_settings import *  # noqa: F403
from tests.security.server_settings import LOGTO_M2M, MIDDLEWARE

LOGTO_M2M = {**LOGTO_M2M, "THROTTLE_NUM_PROXIES": 1}
INSTANCE = os.environ.get("LOGTO_M2M_INSTANCE", "")


def served_by_middleware(get_response: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def middleware(request: Any) -> Any:
        response = get_response(request)
        response["X-Served-By"] = f"{INSTANCE}/{os.getpid()}"
        return response

    return middleware


MIDDLEWARE = ["bench.cluster_settings.served_by_middleware", *MIDDLEWARE]
