"""Settings of the example project as the security e2e tests and ``make load`` serve it.

The example project's settings, plus from the environment:
LOGTO_M2M_THROTTLE_RATES   JSON for LOGTO_M2M["THROTTLE_RATES"] (unset: the package defaults)
LOGTO_M2M_CACHE_PREFIX     KEY_PREFIX of the Redis cache, so that each run counts afresh
LOGTO_M2M_KEY_CHANGE_CHECK_SECONDS   KEY_CHANGE_CHECK_SECONDS (unset: the package default)
"""

from __future__ import annotations

import json
import os

from example_project.settings import *  # noqa: F403
from example_project.settings import CACHES, LOGTO_M2M

if "LOGTO_M2M_THROTTLE_RATES" in os.environ:
    LOGTO_M2M = {**LOGTO_M2M, "THROTTLE_RATES": json.loads(os.environ["LOGTO_M2M_THROTTLE_RATES"])}

if "LOGTO_M2M_KEY_CHANGE_CHECK_SECONDS" in os.environ:
    LOGTO_M2M = {**LOGTO_M2M, "KEY_CHANGE_CHECK_SECONDS": float(os.environ["LOGTO_M2M_KEY_CHANGE_CHECK_SECONDS"])}

if os.environ.get("LOGTO_M2M_CACHE_PREFIX"):
    CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": os.environ["LOGTO_M2M_CACHE_PREFIX"]}}
