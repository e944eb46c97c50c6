"""``manage.py m2m rotate-keys`` and ``m2m delete-key``: what an operator runs when a key leaks."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from logto_m2m_django.keys import key_store
from logto_m2m_django.models import ChangeCounter, KeyStatus, SigningKey

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("m2m", *args, stdout=out)
    return out.getvalue()


def delete_key(kid: str) -> str:
    return run("delete-key", "--", kid)  # a kid may start with "-" (base64url)


def keys_version() -> int:
    return ChangeCounter.objects.get(channel="keys").version


def test_rotate_then_delete_the_leaked_key(django_capture_on_commit_callbacks):
    leaked = key_store.signing_material().kid
    before = keys_version()

    run("rotate-keys")
    output = delete_key(leaked)

    assert leaked in output and "deleted" in output.lower()
    assert not SigningKey.objects.filter(kid=leaked).exists()
    assert SigningKey.objects.get().status == KeyStatus.CURRENT
    assert keys_version() > before  # announced: every process drops the key within the check interval


def test_delete_key_refuses_the_current_key_with_a_clear_message():
    current = key_store.signing_material().kid
    with pytest.raises(CommandError, match="Current key can't be deleted; rotate first"):
        delete_key(current)
    assert SigningKey.objects.filter(kid=current).exists()


def test_delete_key_refuses_the_last_key():
    key_store.signing_material()
    only = SigningKey.objects.get()
    SigningKey.objects.filter(pk=only.pk).update(status=KeyStatus.PREVIOUS)  # no Current key: a broken table
    with pytest.raises(CommandError, match="last key can't be deleted"):
        delete_key(only.kid)
    assert SigningKey.objects.count() == 1


def test_delete_key_with_an_unknown_kid():
    key_store.signing_material()
    with pytest.raises(CommandError, match="No such key"):
        delete_key("no-such-kid")


def test_delete_key_can_remove_a_staged_next_key():
    key_store.signing_material()
    staged = key_store.rotate(staged=True).kid
    delete_key(staged)
    assert list(SigningKey.objects.values_list("status", flat=True)) == [KeyStatus.CURRENT]


def test_a_kid_that_looks_like_an_option_gets_a_hint():
    with pytest.raises(CommandError, match="goes after '--'"):
        run("delete-key", "-AbC")
    key_store.signing_material()
    staged = key_store.rotate(staged=True)
    SigningKey.objects.filter(pk=staged.pk).update(kid="-" + staged.kid[1:])
    assert "Deleted key -" in delete_key("-" + staged.kid[1:])


# -- grace-period rotation -------------------------------------------------------------------------------------


@pytest.fixture
def wall(monkeypatch):
    from logto_m2m_django import keys

    now = [1_800_000_000.0]
    monkeypatch.setattr(keys, "clock", lambda: now[0])
    return now


@pytest.mark.parametrize(
    ("text", "seconds"), [("4h", 14400), ("30m", 1800), ("90s", 90), ("2d", 172800), ("600", 600), ("1.5h", 5400)]
)
def test_rotate_keys_grace_period_stages_a_dated_next_key(wall, text, seconds):
    current = key_store.signing_material().kid
    output = run("rotate-keys", "--grace-period", text)
    staged = SigningKey.objects.get(status=KeyStatus.NEXT)
    assert staged.effective_at.timestamp() == wall[0] + seconds
    assert SigningKey.objects.get(status=KeyStatus.CURRENT).kid == current
    assert f"Next key: {staged.kid}" in output and "signs new tokens from" in output
    assert "signs from" in run("keys")


def test_rotate_keys_grace_period_zero_rotates_at_once():
    old = key_store.signing_material().kid
    output = run("rotate-keys", "--grace-period", "0")
    assert output.startswith("Current key:")
    assert SigningKey.objects.get(kid=old).status == KeyStatus.PREVIOUS


def test_rotate_keys_default_grace_period_comes_from_the_setting(wall, settings):
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "KEY_ROTATION_GRACE_PERIOD": 3600}
    key_store.signing_material()
    run("rotate-keys")
    assert SigningKey.objects.get(status=KeyStatus.NEXT).effective_at.timestamp() == wall[0] + 3600


@pytest.mark.parametrize("text", ["soon", "4x", "-1h", "", "31d", "nan", "h"])
def test_rotate_keys_refuses_a_bad_grace_period(text):
    key_store.signing_material()
    with pytest.raises(CommandError, match=r"(Invalid duration|between 0 and)"):
        run("rotate-keys", f"--grace-period={text}")
    assert SigningKey.objects.count() == 1


def test_rotate_keys_warns_when_the_grace_period_is_shorter_than_the_jwks_cache():
    key_store.signing_material()
    err = io.StringIO()
    call_command("m2m", "rotate-keys", "--grace-period", "60s", stdout=io.StringIO(), stderr=err)
    assert "shorter than the 300 s a remote validator may keep the JWKS" in err.getvalue()
    err = io.StringIO()
    key_store.delete(SigningKey.objects.get(status=KeyStatus.NEXT).kid)
    call_command("m2m", "rotate-keys", "--grace-period", "10m", stdout=io.StringIO(), stderr=err)
    assert err.getvalue() == ""


def test_rotate_keys_refuses_staged_with_a_grace_period():
    key_store.signing_material()
    with pytest.raises(CommandError, match="choose one"):
        run("rotate-keys", "--staged", "--grace-period", "4h")
