"""Identifiers, server-generated secrets and their keyed hash (DOT's CLIENT_SECRET_HASHER)."""

from __future__ import annotations

import math
import string

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.test import override_settings

from logto_m2m_django import secrets

NEW_KEY = "rotated-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def test_generate_id_is_logto_style():
    ids = {secrets.generate_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 21 and set(i) <= set(string.digits + string.ascii_lowercase) for i in ids)
    assert len(secrets.generate_id(12)) == 12


def test_generate_secret_has_at_least_256_bits():
    values = {secrets.generate_secret() for _ in range(200)}
    assert len(values) == 200
    alphabet = set(string.digits + string.ascii_letters)
    for value in values:
        assert set(value) <= alphabet
        assert len(value) * math.log2(len(alphabet)) >= 256


def test_hash_format_and_random_salt():
    # A secret long enough that its appearing in the random salt or digest by chance is impossible in practice
    # ("abc" did once, in CI: a 3-character run of base64 turns up about once in 5,000 hashes).
    plain = "plain-secret-0123456789"
    first, second = secrets.hash_secret(plain), secrets.hash_secret(plain)
    assert first != second
    algorithm, salt, _digest = first.split("$")
    assert algorithm == "logto_m2m_hmac_sha256"
    assert len(salt) == 16
    assert plain not in first


def test_verify_secret():
    encoded = secrets.hash_secret("correct horse")
    assert secrets.verify_secret("correct horse", encoded) is True
    assert secrets.verify_secret("correct hors", encoded) is False
    assert secrets.verify_secret("", encoded) is False


@pytest.mark.parametrize(
    "encoded", ["", "logto_m2m_hmac_sha256$", "logto_m2m_hmac_sha256$salt-only", "not-a-hash", "md5$x$y"]
)
def test_verify_secret_against_malformed_hashes_is_false(encoded):
    assert secrets.verify_secret("anything", encoded) is False


def test_hash_is_keyed_by_secret_key():
    encoded = secrets.hash_secret("value")
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
        assert secrets.verify_secret("value", encoded) is False


def test_secret_key_fallbacks_still_verify():
    encoded = secrets.hash_secret("value")
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[settings.SECRET_KEY]):
        assert secrets.verify_secret("value", encoded) is True
        # New hashes use the new key: they verify without the fallback afterwards.
        fresh = secrets.hash_secret("value")
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
        assert secrets.verify_secret("value", fresh) is True


def test_explicit_secret_hash_key_replaces_secret_key():
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "SECRET_HASH_KEY": "dedicated-hash-key"}):
        encoded = secrets.hash_secret("value")
        with override_settings(SECRET_KEY=NEW_KEY):
            assert secrets.verify_secret("value", encoded) is True
    assert secrets.verify_secret("value", encoded) is False


def test_django_hasher_round_trip():
    encoded = make_password("client-secret", hasher="logto_m2m_hmac_sha256")
    assert encoded.startswith("logto_m2m_hmac_sha256$")
    assert isinstance(identify_hasher(encoded), secrets.HMACSecretHasher)
    assert check_password("client-secret", encoded) is True
    assert check_password("other", encoded) is False


def test_hasher_never_reveals_the_hash():
    hasher = secrets.HMACSecretHasher()
    encoded = hasher.encode("value", hasher.salt())
    summary = hasher.safe_summary(encoded)
    assert encoded.split("$")[2] not in str(summary.values())
    assert hasher.decode(encoded)["algorithm"] == "logto_m2m_hmac_sha256"
    assert hasher.must_update(encoded) is False


@pytest.mark.parametrize("salt", ["", "with$dollar"])
def test_hasher_refuses_unusable_salts(salt):
    with pytest.raises(ValueError):
        secrets.HMACSecretHasher().encode("value", salt)


def test_dummy_hash_is_well_formed_and_matches_nothing():
    assert secrets.DUMMY_HASH.count("$") == 2
    assert secrets.verify_secret("", secrets.DUMMY_HASH) is False
    assert secrets.verify_secret(secrets.generate_secret(), secrets.DUMMY_HASH) is False


def test_non_ascii_and_surrogate_secrets_do_not_crash():
    encoded = secrets.hash_secret("caf\u00e9")
    assert secrets.verify_secret("caf\u00e9", encoded) is True
    assert secrets.verify_secret("\ud800", encoded) is False
