"""Querysets of the models the token endpoint caches: their bulk writes announce the change.

``Model.save()`` and ``delete()`` send Django's signals, which ``logto_m2m_django.signals`` turns into a
change notice of the grant cache (:mod:`logto_m2m_django.grant_cache`). A queryset's ``update()``,
``bulk_create()`` and ``bulk_update()`` send none, so these querysets announce the change themselves,
after the write and in its transaction, when it touched a row. Writes of the "last used" stamps only,
which the token endpoint makes itself and which change no grant, announce nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)

#: Fields whose change alters no answer of the token endpoint.
QUIET_FIELDS = frozenset({"last_used_at"})


def _announce() -> None:
    from ..grant_cache import announce_change  # the models load before the rest of the package

    announce_change()


class AnnouncingQuerySet(models.QuerySet[M]):
    """A queryset whose bulk writes tell every process that clients or grants changed."""

    def update(self, **kwargs: Any) -> int:
        rows = super().update(**kwargs)
        if rows and not set(kwargs) <= QUIET_FIELDS:
            _announce()
        return rows

    def bulk_create(self, objs: Iterable[M], *args: Any, **kwargs: Any) -> list[M]:
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            _announce()
        return created

    def bulk_update(self, objs: Iterable[M], fields: Iterable[str], *args: Any, **kwargs: Any) -> int:
        fields = list(fields)
        rows = super().bulk_update(objs, fields, *args, **kwargs)
        if rows and not set(fields) <= QUIET_FIELDS:
            _announce()
        return rows
