"""System checks logto_m2m.E050-E055 / W050: wiring mistakes found by `manage.py check`, not by a 500."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import checks as django_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from logto_m2m_django import project_checks
from logto_m2m_django.drf import view_checks

ROOT = Path(__file__).resolve().parent.parent


def m2m(**values):
    return override_settings(LOGTO_M2M={**settings.LOGTO_M2M, **values})


def ids(messages):
    return [message.id for message in messages]


def run_check(settings_module: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_e050_unknown_key_with_did_you_mean():
    with m2m(AUDIANCE="https://shopping.api", FOO=1):
        messages = project_checks.check_unknown_settings()
        assert "logto_m2m.E050" in [m.id for m in django_checks.run_checks()]
    assert ids(messages) == ["logto_m2m.E050", "logto_m2m.E050"]
    audiance = next(m for m in messages if "AUDIANCE" in m.msg)
    assert audiance.hint == 'Did you mean "AUDIENCE"?'
    assert "Settings reference" in next(m for m in messages if "FOO" in m.msg).hint


def test_e050_known_keys_pass():
    with m2m(AUDIENCE="https://shopping.api", THROTTLE_RATES=None):
        assert project_checks.check_unknown_settings() == []


def test_e051_missing_oauth2_provider_is_a_clear_error_not_a_runtime_error():
    result = run_check("tests.check_settings_without_dot")
    assert result.returncode != 0
    assert "logto_m2m.E051" in result.stderr
    assert '"oauth2_provider" is not in INSTALLED_APPS' in result.stderr
    assert "RuntimeError" not in result.stderr


def test_e052_missing_rest_framework():
    result = run_check("tests.check_settings_without_drf")
    assert result.returncode != 0
    assert "(logto_m2m.E052)" in result.stderr
    assert 'Add "rest_framework" to INSTALLED_APPS' in result.stderr


def test_e053_unknown_client_secret_hasher():
    with override_settings(OAUTH2_PROVIDER={"CLIENT_SECRET_HASHER": "logto_m2m_hmac_sha265"}):
        messages = project_checks.check_client_secret_hasher()
        with pytest.raises(SystemCheckError, match=r"logto_m2m\.E053"):
            call_command("check")
    assert ids(messages) == ["logto_m2m.E053"]
    assert messages[0].hint.startswith('Did you mean "logto_m2m_hmac_sha256"?')


@pytest.mark.parametrize("value", ["default", "logto_m2m_hmac_sha256", "pbkdf2_sha256"])
def test_e053_known_hashers_pass(value):
    with override_settings(OAUTH2_PROVIDER={"CLIENT_SECRET_HASHER": value}):
        assert project_checks.check_client_secret_hasher() == []


LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
REDIS = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}


@pytest.mark.parametrize("caches", [LOCMEM, DUMMY])
def test_w050_per_process_throttle_cache_in_production(caches):
    with override_settings(CACHES=caches, DEBUG=False), m2m(THROTTLE_RATES={}):
        # THROTTLE_RATES {} is off; the defaults are on:
        assert project_checks.check_throttle_cache_is_shared() == []
    with override_settings(CACHES=caches, DEBUG=False), m2m(THROTTLE_RATES={"client": "10/minute"}):
        messages = project_checks.check_throttle_cache_is_shared()
    assert ids(messages) == ["logto_m2m.W050"]
    assert "RedisCache" in messages[0].hint


@pytest.mark.parametrize(("caches", "debug"), [(LOCMEM, True), (REDIS, False)])
def test_w050_not_for_debug_or_a_shared_cache(caches, debug):
    with override_settings(CACHES=caches, DEBUG=debug), m2m(THROTTLE_RATES={"client": "10/minute"}):
        assert project_checks.check_throttle_cache_is_shared() == []


def test_e054_e055_views_without_scopes_or_audience():
    # tests.drf_support routes NoScopesView (RequiredScopes, no required_scopes) and NoAudienceView.
    with override_settings(ROOT_URLCONF="tests.drf_support"):
        messages = view_checks.check_protected_views()
        with pytest.raises(SystemCheckError) as raised:
            call_command("check")
    by_id = {m.id: m for m in messages}
    assert sorted(by_id) == ["logto_m2m.E054", "logto_m2m.E055"]
    assert "tests.drf_support.NoScopesView (/no-scopes)" in by_id["logto_m2m.E054"].msg
    assert "tests.drf_support.NoAudienceView (/no-audience)" in by_id["logto_m2m.E055"].msg
    assert "logto_m2m.E054" in str(raised.value)


def test_e055_satisfied_by_the_audience_setting():
    with override_settings(ROOT_URLCONF="tests.drf_support"), m2m(AUDIENCE="https://shopping.api"):
        assert ids(view_checks.check_protected_views()) == ["logto_m2m.E054"]


def test_e054_finds_required_scopes_inside_compositions():
    with override_settings(ROOT_URLCONF="tests.check_views"):
        messages = view_checks.check_protected_views()
    assert [m.obj.__name__ for m in messages] == ["ComposedView"]


def test_the_example_project_passes():
    assert view_checks.check_protected_views() == []
