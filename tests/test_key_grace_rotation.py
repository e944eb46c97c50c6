"""Grace-period rotation in the key store: a staged Next key signs from its ``effective_at`` on, in every
process, by itself; the promotion is persisted once, whoever notices first (issue 14 §3).

"Processes" are separate :class:`KeyStore` instances over the same database; the wall clock deciding
when a key is due is injected (``keys.clock``), never waited for.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError

from logto_m2m_django import keys
from logto_m2m_django.keys import KeyStore
from logto_m2m_django.models import ChangeCounter, KeyStatus, SigningKey

pytestmark = pytest.mark.django_db

T0 = 1_800_000_000.0
GRACE = 600


class Wall:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> Wall:
    fake = Wall()
    monkeypatch.setattr(keys, "clock", fake)
    return fake


def _version() -> int:
    row = ChangeCounter.objects.filter(channel="keys").first()
    return row.version if row else 0


def _statuses() -> dict[str, str]:
    return dict(SigningKey.objects.values_list("kid", "status"))


def test_every_process_signs_with_the_staged_key_once_due_and_one_persists_it(
    wall: Wall, django_capture_on_commit_callbacks: Any
) -> None:
    admin, worker_a, worker_b = KeyStore(), KeyStore(), KeyStore()
    old = admin.signing_material().kid
    staged = admin.rotate(grace_period=GRACE)
    assert staged.status == KeyStatus.NEXT
    for worker in (worker_a, worker_b):
        assert worker.signing_material().kid == old
        assert worker.find(staged.kid) is not None  # published: validators know it before it signs
        assert staged.kid in [key["kid"] for key in worker.jwks()["keys"]]

    wall.now = T0 + GRACE - 0.001
    assert {worker_a.signing_material().kid, worker_b.signing_material().kid} == {old}
    assert _statuses()[staged.kid] == KeyStatus.NEXT

    before = _version()
    wall.now = T0 + GRACE
    assert worker_a.signing_material().kid == staged.kid
    assert worker_b.signing_material().kid == staged.kid  # finds the promotion done: nothing to persist
    assert _statuses() == {staged.kid: KeyStatus.CURRENT, old: KeyStatus.PREVIOUS}
    assert _version() == before + 1  # one promotion, one announcement
    assert worker_b.promote_due() is None  # idempotent


def test_before_it_is_due_signing_costs_no_query(wall: Wall, django_assert_num_queries: Any) -> None:
    store = KeyStore()
    store.signing_material()
    store.rotate(grace_period=GRACE)
    store.signing_material()
    wall.now = T0 + GRACE - 1
    with django_assert_num_queries(0):
        for _ in range(5):
            store.signing_material()
            store.jwks()


def test_the_promotion_costs_queries_once_then_none(wall: Wall, django_assert_num_queries: Any) -> None:
    store = KeyStore()
    store.signing_material()
    staged = store.rotate(grace_period=GRACE)
    store.signing_material()
    wall.now = T0 + GRACE + 1
    assert store.signing_material().kid == staged.kid
    with django_assert_num_queries(0):
        for _ in range(5):
            assert store.signing_material().kid == staged.kid


def test_a_process_loading_after_the_date_signs_with_the_staged_key_at_once(wall: Wall) -> None:
    admin = KeyStore()
    admin.signing_material()
    staged = admin.rotate(grace_period=GRACE)
    wall.now = T0 + GRACE * 10
    assert KeyStore().signing_material().kid == staged.kid  # a new worker started long after


def test_a_promotion_that_cannot_be_saved_still_switches_signing(wall: Wall, monkeypatch: pytest.MonkeyPatch) -> None:
    store = KeyStore()
    old = store.signing_material().kid
    staged = store.rotate(grace_period=GRACE)
    store.signing_material()

    def unavailable() -> None:
        raise OperationalError("the database is unavailable")

    monkeypatch.setattr(store, "promote_due", unavailable)
    wall.now = T0 + GRACE
    assert store.signing_material().kid == staged.kid
    assert _statuses() == {old: KeyStatus.CURRENT, staged.kid: KeyStatus.NEXT}  # saved by the next process


def test_an_immediate_rotation_promotes_a_staged_key_before_its_date(wall: Wall) -> None:
    store = KeyStore()
    old = store.signing_material().kid
    staged = store.rotate(grace_period=GRACE)
    promoted = store.rotate()
    assert promoted.kid == staged.kid
    assert _statuses() == {staged.kid: KeyStatus.CURRENT, old: KeyStatus.PREVIOUS}
    assert SigningKey.objects.get(kid=staged.kid).effective_at.timestamp() == T0 + GRACE


def test_a_staged_key_without_a_date_waits_for_a_manual_promotion(wall: Wall) -> None:
    store = KeyStore()
    old = store.signing_material().kid
    store.rotate(staged=True)
    wall.now = T0 + 10**8
    assert store.signing_material().kid == old
    assert store.promote_due() is None
