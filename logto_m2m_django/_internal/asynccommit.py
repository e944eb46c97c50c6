"""One INSERT that commits without waiting for PostgreSQL's WAL flush, in a single statement.

PostgreSQL docs, 28.4 "Asynchronous Commit": with ``synchronous_commit = off`` a COMMIT returns
before its WAL is flushed to disk; the data stays consistent, and a crash of the server (not of
a client) can lose the last transactions, at most about three times ``wal_writer_delay``.

``SET LOCAL synchronous_commit = off`` inside ``BEGIN ... COMMIT`` would cost three round trips
more than the INSERT itself. :func:`insert_without_flush_wait` sends one autocommitted statement
instead: Django compiles the row's INSERT as ``save()`` would (``pre_save`` hooks, expressions such
as a subquery, value adaptation), and its ``VALUES (...)`` becomes a ``SELECT ...`` from a
one-row subquery calling ``set_config('synchronous_commit', 'off', true)``, the function form of
``SET LOCAL``: the setting applies to that statement's own transaction and ends with it.
Model signals are not sent (rows written this way have no receivers).
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models import Model
from django.db.models.sql import InsertQuery

_VALUES = " VALUES ("
_ASYNC = "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS logto_m2m_async_commit"


def insert_sql(row: Model, alias: str) -> tuple[str, list[Any]] | None:
    """The single-statement asynchronous INSERT of ``row``; None when Django's SQL has another shape."""
    meta = row._meta
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field and not getattr(f, "generated", False)]
    query = InsertQuery(type(row))
    query.insert_values(fields, [row])
    compiled = query.get_compiler(using=alias).as_sql()
    if len(compiled) != 1:
        return None
    sql, params = compiled[0]
    head, found, values = sql.partition(_VALUES)
    if not found or _VALUES in values or not head.startswith("INSERT INTO ") or not values.endswith(")"):
        return None
    return f"{head} SELECT {values[:-1]} {_ASYNC}", list(params)


def insert_without_flush_wait(row: Model, alias: str) -> bool:
    """Write ``row`` in one autocommitted statement that does not wait for the WAL flush.

    Returns False (nothing written) when that is not possible here: not PostgreSQL, inside a
    transaction (whose durability belongs to its owner), or an INSERT of an unexpected shape.
    """
    connection = connections[alias]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    statement = insert_sql(row, alias)
    if statement is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute(*statement)
    return True
