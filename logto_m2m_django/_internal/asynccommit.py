"""A model's INSERT compiled once per database, sent as one statement that need not wait for the disk.

Compiling an INSERT with the ORM (``InsertQuery`` and its compiler) on every token request cost about
a quarter of the request (issue 16). :func:`insert_row` builds the statement's text once per
(model, database alias, vendor) from the model's meta: the table and the concrete columns in order,
each quoted by the backend, one ``%s`` per column. Per row it computes only the parameters, as the
ORM's compiler does: each field's ``pre_save(row, add=True)`` (``auto_now_add`` sets the time) then
``get_db_prep_save(value, connection)`` (the backend's adaptation of dates, addresses...). A field the
compiler would treat otherwise (a custom placeholder, an expression as value) makes :func:`insert_row`
return False, and the caller lets the ORM write the row.

A column can take a fixed SQL fragment with one ``%s`` instead of its plain placeholder (for example a
sub-select that resolves a foreign key inside the statement); the fragment is part of the compiled text.

PostgreSQL docs, 28.4 "Asynchronous Commit": with ``synchronous_commit = off`` a COMMIT returns
before its WAL is flushed to disk; the data stays consistent, and a crash of the server (not of
a client) can lose the last transactions, at most about three times ``wal_writer_delay``.
``SET LOCAL synchronous_commit = off`` inside ``BEGIN ... COMMIT`` would cost three round trips
more than the INSERT itself, so the no-wait form is one autocommitted statement: its ``VALUES (...)``
becomes a ``SELECT ...`` from a one-row subquery calling ``set_config('synchronous_commit', 'off',
true)``, the function form of ``SET LOCAL``: the setting applies to that statement's own transaction
and ends with it. Model signals are not sent (rows written this way have no receivers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Model

_ASYNC = "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS logto_m2m_async_commit"


@dataclass(frozen=True)
class _Insert:
    fields: tuple[Any, ...]
    #: ``INSERT INTO t (a, b) VALUES (%s, %s)``: any database, inside or outside a transaction.
    plain: str
    #: PostgreSQL only: the same row, in a statement whose own commit does not wait for the WAL flush.
    no_flush_wait: str | None


_compiled: dict[tuple[Any, ...], _Insert | None] = {}


def _compile(model: type[Model], alias: str, fragments: tuple[tuple[str, str], ...]) -> _Insert | None:
    """The statement's text for ``model`` on ``alias``; None when the ORM must build it (see the module)."""
    connection = connections[alias]
    meta = model._meta
    fields = tuple(
        f for f in meta.local_concrete_fields if f is not meta.auto_field and not getattr(f, "generated", False)
    )
    if any(hasattr(f, "get_placeholder") for f in fields):
        return None  # e.g. geometry columns: the value is wrapped in SQL the compiler writes
    by_attname = dict(fragments)
    if not set(by_attname) <= {f.attname for f in fields}:
        return None
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    values = ", ".join(by_attname.get(f.attname, "%s") for f in fields)
    head = f"INSERT INTO {quote(meta.db_table)} ({columns})"
    no_flush_wait = f"{head} SELECT {values} {_ASYNC}" if connection.vendor == "postgresql" else None
    return _Insert(fields, f"{head} VALUES ({values})", no_flush_wait)


def _statement(model: type[Model], alias: str, fragments: tuple[tuple[str, str], ...]) -> _Insert | None:
    key = (model._meta.label, alias, connections[alias].vendor, fragments)
    try:
        return _compiled[key]
    except KeyError:
        entry = _compiled[key] = _compile(model, alias, fragments)
        return entry


def clear() -> None:
    """Forget every compiled statement (e.g. after the database settings changed)."""
    _compiled.clear()


def insert_row(
    row: Model,
    alias: str,
    *,
    no_flush_wait: bool = False,
    fragments: Mapping[str, tuple[str, Any]] | None = None,
) -> bool:
    """INSERT ``row`` on ``alias`` in one statement; False (nothing written) when the ORM must do it.

    ``fragments`` maps a field's attname to (SQL with one ``%s``, its parameter), used instead of the
    field's own value. ``no_flush_wait`` asks for the statement whose commit does not wait for the
    disk: PostgreSQL only, and only outside a transaction (whose durability belongs to its owner).
    The row's primary key is not read back.
    """
    connection = connections[alias]
    if no_flush_wait and (connection.vendor != "postgresql" or connection.in_atomic_block):
        return False
    fragments = fragments or {}
    entry = _statement(type(row), alias, tuple(sorted((name, sql) for name, (sql, _) in fragments.items())))
    sql = None if entry is None else entry.no_flush_wait if no_flush_wait else entry.plain
    if entry is None or sql is None:
        return False
    params = []
    for field in entry.fields:
        if field.attname in fragments:
            params.append(fragments[field.attname][1])
            continue
        value = field.pre_save(row, add=True)
        if hasattr(value, "resolve_expression"):
            return False  # an expression (a subquery, a database default): the compiler's job
        params.append(field.get_db_prep_save(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return True
