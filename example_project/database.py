"""Database options of the example project: no disk-flush wait on the token path, plans kept per connection.

SQLite: WAL journal with ``synchronous=NORMAL`` (a commit no longer waits for an fsync; after an
application crash nothing committed is lost, after a power loss at most the commits since the last
checkpoint) and ``BEGIN IMMEDIATE`` for write transactions, so that several workers queue for the
write lock instead of failing with "database is locked". Django 5.1+ applies them through
``OPTIONS["init_command"]`` / ``["transaction_mode"]``; on Django 4.2 a ``connection_created``
receiver runs the same PRAGMAs.

PostgreSQL (psycopg 3): server-side prepared statements (``prepare_threshold``): a query run that
many times on a connection is planned once and then executed from its plan. Behind PgBouncer in
transaction pooling, prepared statements need PgBouncer >= 1.21 with ``max_prepared_statements`` > 0.
``DATABASE_TRANSACTION_POOLING=1`` says the connections go through such a pooler: server-side cursors
are turned off (Django's requirement) and so are prepared statements, unless
``DATABASE_PREPARED_STATEMENTS=1`` says the pooler supports them (Debian 12 ships PgBouncer 1.18,
which does not). ``DATABASE_PREPARED_STATEMENTS=0`` turns them off in any case.
"""

from __future__ import annotations

import os
from typing import Any

import django

SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")
#: Runs of one query on a connection before psycopg prepares it on the server.
PREPARE_THRESHOLD = 2


def tune(database: Any) -> Any:
    """``database`` (a ``DATABASES`` entry) with the options above added to its OPTIONS."""
    engine = str(database.get("ENGINE", ""))
    options = dict(database.get("OPTIONS") or {})
    if engine.endswith("sqlite3"):
        if django.VERSION >= (5, 1):
            options.setdefault("init_command", ";".join(SQLITE_PRAGMAS))
            options.setdefault("transaction_mode", "IMMEDIATE")
        else:
            _connect_sqlite_receiver()
    elif engine.endswith("postgresql"):
        pooled = _flag("DATABASE_TRANSACTION_POOLING", default=False)
        if pooled:
            database = {**database, "DISABLE_SERVER_SIDE_CURSORS": True}
        if _flag("DATABASE_PREPARED_STATEMENTS", default=not pooled):
            # psycopg prepares only with server-side binding (Django's default is client-side binding).
            options.setdefault("server_side_binding", True)
            options.setdefault("prepare_threshold", PREPARE_THRESHOLD)
    return {**database, "OPTIONS": options}


def _flag(name: str, *, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value not in ("0", "false", "no", "off")


def _on_sqlite_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)


def _connect_sqlite_receiver() -> None:
    from django.db.backends.signals import connection_created

    connection_created.connect(_on_sqlite_connection, dispatch_uid="example_project.database.sqlite")
