"""django-oauth-toolkit kept out of sight: no DOT admin pages, no DOT deploy warnings that don't apply."""

from __future__ import annotations

import os
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from django.contrib import admin
from oauth2_provider.models import get_access_token_model, get_application_model

from logto_m2m_django.admin.oauth_application import hide_oauth_toolkit_admin

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_the_admin_index_lists_no_dot_models(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert "/admin/oauth2_provider/" not in html
    assert "Django OAuth Toolkit" not in html
    assert admin_client.get("/admin/oauth2_provider/application/").status_code == HTTPStatus.NOT_FOUND
    assert "/admin/logto_m2m/m2mapplication/" in html


def test_a_setting_keeps_them(settings):
    site = admin.AdminSite(name="keep")
    site.register(get_application_model())
    site.register(get_access_token_model())
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "OAUTH_TOOLKIT_ADMIN": True}
    hide_oauth_toolkit_admin(site)
    assert site.is_registered(get_application_model()) and site.is_registered(get_access_token_model())
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "OAUTH_TOOLKIT_ADMIN": False}
    hide_oauth_toolkit_admin(site)
    assert not site.is_registered(get_application_model()) and not site.is_registered(get_access_token_model())


def test_check_deploy_of_the_example_project_shows_no_dot_warning():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings", "DJANGO_DEBUG": "0"}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert "System check identified" in output
    assert "oauth2_provider.W00" not in output
