"""A ``.values()`` query compiled once per thread and database, then run again with other parameter values.

Building a queryset with lookups across relations and compiling it to SQL costs more CPU than running it
on an indexed table (about a fifth of a token request, measured by ``make bench``). Hot paths that run the
same query with one changing value use :class:`PreparedValues`: Django builds and compiles the query once,
and each call executes that SQL with the new value and converts the rows with the converters Django
itself would apply, so the result is the list of dicts ``list(queryset)`` returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.models import Model, QuerySet

_PLACEHOLDER = "logto_m2m_django:prepared-parameter:7c1e0f"
_UNSET: Any = object()


@dataclass
class _Compiled:
    connection: Any
    compiler: Any
    sql: str
    params: tuple[Any, ...]
    slot: int
    names: list[str]
    converters: dict[int, Any]


class PreparedValues:
    """``PreparedValues(Model, lambda v: Model.objects.filter(x=v).values(...))``, called as ``query(value)``.

    ``build(value)`` must return a ``.values(...)`` queryset in which ``value`` appears once among the SQL
    parameters; otherwise every call simply evaluates ``build(value)``.
    """

    def __init__(self, model: Callable[[], type[Model]], build: Callable[[Any], QuerySet[Any, dict[str, Any]]]):
        self._model = model
        self._build = build
        self._local = threading.local()

    def __call__(self, value: Any) -> list[dict[str, Any]]:
        alias = router.db_for_read(self._model())
        connection = connections[alias]
        compiled: dict[str, _Compiled | None] = self._local.__dict__.setdefault("compiled", {})
        entry = compiled.get(alias, _UNSET)
        if entry is _UNSET or (entry is not None and entry.connection is not connection):
            entry = compiled[alias] = self._compile(alias, connection)
        if entry is None:  # a query this helper can't prepare: the ORM runs it every time
            return list(self._build(value))
        params = list(entry.params)
        params[entry.slot] = value
        with connection.cursor() as cursor:
            cursor.execute(entry.sql, params)
            rows: Any = cursor.fetchall()
        if entry.converters:
            rows = entry.compiler.apply_converters(rows, entry.converters)
        names = entry.names
        return [dict(zip(names, row, strict=True)) for row in rows]

    def _compile(self, alias: str, connection: Any) -> _Compiled | None:
        query = self._build(_PLACEHOLDER).using(alias).query
        compiler = query.get_compiler(alias)
        sql, params = compiler.as_sql()
        slots = [i for i, p in enumerate(params) if p == _PLACEHOLDER]
        if len(slots) != 1 or compiler.connection is not connection:
            return None
        columns = [column[0] for column in compiler.select[: compiler.col_count]]
        names = [*query.extra_select, *query.values_select, *query.annotation_select]
        if len(names) != len(columns):
            return None
        return _Compiled(connection, compiler, sql, tuple(params), slots[0], names, compiler.get_converters(columns))

    def clear(self) -> None:
        """Forget the compiled SQL of this thread (e.g. after the database settings changed)."""
        self._local.__dict__.pop("compiled", None)
