"""System checks: each configuration mistake has its stable id."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import checks as django_checks
from django.core.management import call_command
from django.test import override_settings

from logto_m2m_django import checks

#: A URLconf without this app's URLs (used through ROOT_URLCONF="tests.test_checks").
urlpatterns: list = []

HASHER = "logto_m2m_django.secrets.HMACSecretHasher"
PBKDF2 = "django.contrib.auth.hashers.PBKDF2PasswordHasher"


def m2m(**values):
    return override_settings(LOGTO_M2M={**settings.LOGTO_M2M, **values})


def ids(messages):
    return [message.id for message in messages]


def all_m2m_ids():
    return [m.id for m in django_checks.run_checks() if m.id and m.id.startswith("logto_m2m.")]


def test_the_test_settings_pass_every_check():
    assert all_m2m_ids() == []
    call_command("check", "--fail-level", "WARNING")


def test_checks_are_registered_with_django():
    with m2m(ISSUER=None):
        assert "logto_m2m.E001" in all_m2m_ids()


@pytest.mark.parametrize("issuer", [None, ""])
def test_e001_issuer_missing(issuer):
    with m2m(ISSUER=issuer):
        assert ids(checks.check_issuer()) == ["logto_m2m.E001"]


@pytest.mark.parametrize(
    "issuer",
    [
        "ftp://auth.example.com/oidc",
        "auth.example.com/oidc",
        "https:///oidc",
        "https://a.example/oidc?x=1",
        "https://a.example/oidc#f",
    ],
)
def test_e002_issuer_not_an_http_url(issuer):
    with m2m(ISSUER=issuer):
        assert ids(checks.check_issuer()) == ["logto_m2m.E002"]


def test_e003_http_issuer_with_debug_off():
    with m2m(ISSUER="http://auth.example.com/oidc"), override_settings(DEBUG=False):
        assert ids(checks.check_issuer()) == ["logto_m2m.E003"]


@pytest.mark.parametrize(
    ("issuer", "debug"),
    [
        ("http://auth.example.com/oidc", True),
        ("http://127.0.0.1:8000/oidc", False),
        ("http://localhost:8000/oidc", False),
        ("http://[::1]:8000/oidc", False),
        ("https://auth.example.com/oidc", False),
    ],
)
def test_http_issuer_is_fine_with_debug_on_or_on_loopback(issuer, debug):
    with m2m(ISSUER=issuer), override_settings(DEBUG=debug):
        assert checks.check_issuer() == []


@pytest.mark.parametrize("algorithm", ["HS256", "RS512", "none", "es384"])
def test_e004_unknown_signing_algorithm(algorithm):
    with m2m(SIGNING_ALGORITHM=algorithm):
        assert ids(checks.check_algorithms()) == ["logto_m2m.E004"]


@pytest.mark.parametrize("accepted", [["ES384", "HS256"], ["none"], ["RS384"]])
def test_e005_unsupported_accepted_algorithm(accepted):
    with m2m(ACCEPTED_ALGORITHMS=accepted):
        messages = checks.check_algorithms()
    assert ids(messages) == ["logto_m2m.E005"]
    assert all(alg in messages[0].msg for alg in accepted if alg != "ES384")


def test_e006_urls_not_included():
    with override_settings(ROOT_URLCONF="tests.test_checks"):
        assert ids(checks.check_urls()) == ["logto_m2m.E006"]
    assert checks.check_urls() == []


@pytest.mark.parametrize(
    "issuer", ["https://auth.example.com", "https://auth.example.com/auth", "https://a.example/oidc2"]
)
def test_w002_issuer_not_where_the_urls_are_served(issuer):
    with m2m(ISSUER=issuer):
        messages = checks.check_urls()
    assert ids(messages) == ["logto_m2m.W002"]
    assert messages[0].level == django_checks.WARNING


@pytest.mark.parametrize("issuer", ["https://auth.example.com/oidc", "https://example.com/behind/a/proxy/oidc/"])
def test_issuer_ending_where_the_urls_are_served_is_fine(issuer):
    with m2m(ISSUER=issuer):
        assert checks.check_urls() == []


def test_e007_hasher_missing():
    with override_settings(PASSWORD_HASHERS=[PBKDF2]):
        assert ids(checks.check_secret_hasher()) == ["logto_m2m.E007"]


def test_e008_hasher_first():
    with override_settings(PASSWORD_HASHERS=[HASHER, PBKDF2]):
        assert ids(checks.check_secret_hasher()) == ["logto_m2m.E008"]


@pytest.mark.parametrize("dot", [{}, {"CLIENT_SECRET_HASHER": "pbkdf2_sha256"}])
def test_w001_dot_secret_hasher_not_ours(dot):
    with override_settings(OAUTH2_PROVIDER=dot):
        messages = checks.check_secret_hasher()
    assert ids(messages) == ["logto_m2m.W001"]
    assert messages[0].level == django_checks.WARNING


def test_errors_are_errors():
    with m2m(ISSUER=None, SIGNING_ALGORITHM="HS256"), override_settings(PASSWORD_HASHERS=[PBKDF2]):
        messages = checks.check_issuer() + checks.check_algorithms() + checks.check_secret_hasher()
    assert ids(messages) == ["logto_m2m.E001", "logto_m2m.E004", "logto_m2m.E007"]
    assert all(m.level == django_checks.ERROR for m in messages)


# -- key rotation grace period ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"KEY_ROTATION_GRACE_PERIOD": 0}, []),
        ({"KEY_ROTATION_GRACE_PERIOD": 3600}, []),
        ({"KEY_ROTATION_GRACE_PERIOD": 300}, []),
        ({"KEY_ROTATION_GRACE_PERIOD": 60}, ["logto_m2m.W060"]),
        ({"KEY_ROTATION_GRACE_PERIOD": 600, "JWKS_CACHE_SECONDS": 900}, ["logto_m2m.W060"]),
        ({"KEY_ROTATION_GRACE_PERIOD": -1}, ["logto_m2m.E060"]),
        ({"KEY_ROTATION_GRACE_PERIOD": "4h"}, ["logto_m2m.E060"]),
        ({"KEY_ROTATION_GRACE_PERIOD": True}, ["logto_m2m.E060"]),
        ({"KEY_ROTATION_GRACE_PERIOD": 10**9}, ["logto_m2m.E060"]),
    ],
)
def test_the_rotation_grace_period_is_checked(values, expected):
    with m2m(**values):
        assert ids(checks.check_rotation_grace_period()) == expected
        assert [i for i in all_m2m_ids() if i.endswith("060")] == expected


@pytest.mark.django_db
def test_w061_a_staged_key_due_sooner_than_the_jwks_cache_lifetime():
    from logto_m2m_django.keys import key_store
    from logto_m2m_django.models import KeyStatus, SigningKey

    key_store.signing_material()
    assert checks.check_staged_key_grace_period(databases=["default"]) == []
    key_store.rotate(grace_period=60)
    [warning] = checks.check_staged_key_grace_period(databases=["default"])
    assert warning.id == "logto_m2m.W061"
    assert SigningKey.objects.get(status=KeyStatus.NEXT).kid in warning.msg
    assert checks.check_staged_key_grace_period() == []  # only with `check --database`
    key_store.delete(SigningKey.objects.get(status=KeyStatus.NEXT).kid)
    key_store.rotate(grace_period=3600)
    assert checks.check_staged_key_grace_period(databases=["default"]) == []
