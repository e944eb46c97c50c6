"""The LOGTO_M2M settings object: defaults, typed values, live reload."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from logto_m2m_django import conf
from logto_m2m_django.conf import DEFAULTS, SUPPORTED_ALGORITHMS, m2m_settings


def m2m(**values):
    return override_settings(LOGTO_M2M={**settings.LOGTO_M2M, **values})


def hook_for(pytest_request):
    calls = []

    def hook():
        calls.append(1)

    conf.on_reload(hook)
    pytest_request.addfinalizer(lambda: conf._reload_hooks.remove(hook))
    return calls


def test_defaults():
    with override_settings(LOGTO_M2M={"ISSUER": "https://auth.example.com/oidc"}):
        assert m2m_settings.SIGNING_ALGORITHM == "ES384"
        assert m2m_settings.ACCEPTED_ALGORITHMS == SUPPORTED_ALGORITHMS
        assert m2m_settings.AUDIENCE is None
        assert m2m_settings.LEEWAY == 30
        assert m2m_settings.MAX_TOKEN_LENGTH == 8192
        assert m2m_settings.MAX_TOKEN_REQUEST_BYTES == 16_384
        assert m2m_settings.LAST_USED_WRITE_INTERVAL == 60
        assert m2m_settings.KEY_CACHE_SECONDS == 300
        assert m2m_settings.REALM == "api"
        assert m2m_settings.EXTRA_CLAIMS is None


def test_missing_setting_uses_defaults_and_no_issuer():
    with override_settings(LOGTO_M2M=None):
        assert m2m_settings.ISSUER is None
        algorithm = m2m_settings.SIGNING_ALGORITHM
        assert algorithm == DEFAULTS["SIGNING_ALGORITHM"]
        assert m2m_settings.user_keys() == set()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://auth.example.com/oidc/", "https://auth.example.com/oidc"),
        ("https://auth.example.com/oidc", "https://auth.example.com/oidc"),
        ("", None),
        (None, None),
    ],
)
def test_issuer_is_normalised(value, expected):
    with m2m(ISSUER=value):
        issuer = m2m_settings.ISSUER
        assert issuer == expected


def test_values_are_typed():
    with m2m(LEEWAY="10", MAX_TOKEN_REQUEST_BYTES="2048", ACCEPTED_ALGORITHMS=["RS256"], KEY_CACHE_SECONDS=5):
        assert m2m_settings.LEEWAY == 10
        assert m2m_settings.MAX_TOKEN_REQUEST_BYTES == 2048
        assert m2m_settings.ACCEPTED_ALGORITHMS == ("RS256",)
        assert m2m_settings.KEY_CACHE_SECONDS == 5.0


def test_settings_are_read_live():
    assert m2m_settings.REALM == "api"
    with m2m(REALM="shop"):
        assert m2m_settings.REALM == "shop"
    assert m2m_settings.REALM == "api"


def test_extra_claims_accepts_an_import_path_or_a_callable():
    with m2m(EXTRA_CLAIMS="tests.test_conf.sample_hook"):
        assert m2m_settings.EXTRA_CLAIMS is sample_hook
    with m2m(EXTRA_CLAIMS=sample_hook):
        assert m2m_settings.EXTRA_CLAIMS is sample_hook


def sample_hook(claims, context):
    return {}


def test_secret_hash_keys_follow_secret_key_and_fallbacks():
    with override_settings(SECRET_KEY="new-key", SECRET_KEY_FALLBACKS=["old-1", "old-2"]):
        assert m2m_settings.SECRET_HASH_KEYS == ["new-key", "old-1", "old-2"]
    with m2m(SECRET_HASH_KEY="dedicated"), override_settings(SECRET_KEY_FALLBACKS=["old"]):
        assert m2m_settings.SECRET_HASH_KEYS == ["dedicated"]


@pytest.mark.parametrize("setting", ["LOGTO_M2M", "SECRET_KEY", "SECRET_KEY_FALLBACKS", "DEBUG"])
def test_reload_hooks_run_when_a_relevant_setting_changes(request, setting):
    calls = hook_for(request)
    value = {"LOGTO_M2M": {**settings.LOGTO_M2M, "REALM": "x"}, "SECRET_KEY": "other-key"}.get(setting, [])
    if setting == "DEBUG":
        value = not settings.DEBUG
    with override_settings(**{setting: value}):
        assert calls  # on entering
    assert len(calls) == 2  # and on leaving


def test_reload_hooks_ignore_unrelated_settings(request):
    calls = hook_for(request)
    with override_settings(TIME_ZONE="Europe/Paris"):
        pass
    assert calls == []


def test_on_reload_works_as_a_decorator(request):
    calls = []

    @conf.on_reload
    def hook():
        calls.append(1)

    request.addfinalizer(lambda: conf._reload_hooks.remove(hook))
    m2m_settings.reload()
    assert calls == [1]


def test_user_keys_lists_what_the_project_set():
    with override_settings(LOGTO_M2M={"ISSUER": "https://a.example/oidc", "LEEWAY": 5}):
        assert m2m_settings.user_keys() == {"ISSUER", "LEEWAY"}
        assert m2m_settings.get("LEEWAY") == 5
        assert m2m_settings.get("REALM") == "api"


def test_oauthlib_debug_log_of_issued_tokens_is_dropped(shop, request_token, caplog):
    """oauthlib logs the issued token dict at DEBUG; the app's filter keeps the bearer token out of logs."""
    import logging

    with caplog.at_level(logging.DEBUG, logger="oauthlib"):
        response = request_token(shop, scope="read:products")
    token = response.json()["access_token"]
    assert caplog.records  # oauthlib did log at DEBUG ...
    assert all(token not in record.getMessage() for record in caplog.records)  # ... but not the token
