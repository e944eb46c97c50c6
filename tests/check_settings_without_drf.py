"""tests.settings without Django REST framework in INSTALLED_APPS (tests/test_project_checks.py)."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "rest_framework"]
