"""The example project as the issuer of the two-process test, re-reading its keys on every use.

A key rotation made by ``manage.py m2m rotate-keys`` in another process then
reaches the running gunicorn worker at once, instead of after ``KEY_CACHE_SECONDS``.
"""

from example_project.settings import *  # noqa: F403
from example_project.settings import LOGTO_M2M

LOGTO_M2M = {**LOGTO_M2M, "KEY_CACHE_SECONDS": 0}
