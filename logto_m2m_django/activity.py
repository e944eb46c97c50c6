"""Recording token requests in the activity log (``TokenActivity``), one INSERT each.

The token endpoint calls :func:`record_token_request` with the request and
its response. Everything the row needs is read from them: on success the
issued token's own claims (decoded, not re-verified: this server just signed
it), on failure the error code and what the client asked for. The
application is the one the validator authenticated (it notes its pk on the
request); a request refused before that (unknown client, wrong secret)
resolves it inside the INSERT, with one fixed sub-select on the client ID.
So a request costs exactly one statement more, and nothing when
``LOGTO_M2M["TOKEN_ACTIVITY_LOG"]`` is False. Secrets are never recorded.
The INSERT's SQL is compiled once per database (``_internal/asynccommit.py``).
A failure to record is logged and never changes the response.

Growth is bounded: requests refused with 429 (and 405) write no row, a failed
request's resource and scopes are cut to :data:`FAILED_TEXT_LIMIT` characters,
and :func:`prune` (``manage.py m2m prune-activity``) deletes rows older than
``LOGTO_M2M["TOKEN_ACTIVITY_RETENTION_DAYS"]``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Subquery
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from ._internal.asynccommit import insert_row
from .conf import m2m_settings
from .models import M2MApplication, Outcome, TokenActivity

logger = logging.getLogger("logto_m2m_django.activity")

#: Throttled requests are not recorded: a flood must not turn into as many writes.
NOT_RECORDED_STATUSES = frozenset({405, 429})
#: Characters kept of the resource and scopes a failed request sent (the caller's text, not ours).
FAILED_TEXT_LIMIT = 100
#: Characters kept of the User-Agent header.
USER_AGENT_LIMIT = 256
#: The attribute on which the validator notes the pk of the application it authenticated (None: not an M2M app).
APPLICATION_NOTE = "m2m_application_pk"
#: Rows deleted per statement by :func:`prune`.
PRUNE_BATCH_SIZE = 1000


def _field_length(name: str) -> int:
    field: Any = TokenActivity._meta.get_field(name)
    return int(field.max_length or 0)


def _clean(value: Any, field: str, limit: int | None = None) -> str:
    """A printable string that fits the column (PostgreSQL refuses NUL characters), cut to ``limit``.

    A cut string ends with "…" so that the admin shows it was cut.
    """
    if not isinstance(value, str):
        return ""
    bound = min(limit or _field_length(field), _field_length(field))
    text = "".join(ch for ch in value[: bound * 4] if ch.isprintable())
    if len(text) > bound and limit is not None:
        return text[: bound - 1] + "…"
    return text[:bound]


def _json(content: bytes) -> dict[str, Any]:
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _token_claims(access_token: Any) -> dict[str, Any]:
    """The payload of a token this server has just signed (no verification needed)."""
    if not isinstance(access_token, str) or access_token.count(".") != 2:
        return {}
    payload = access_token.split(".")[1]
    try:
        return _json(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return {}


def _basic_client_id(request: HttpRequest) -> str | None:
    """The client ID of a Basic Authorization header; None when malformed (never the secret)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or len(value) > 2048:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    raw_id, sep, _secret = decoded.partition(":")
    if not sep:
        return None  # without the separator the whole value might be the secret
    try:
        return unquote_plus(raw_id, errors="strict")
    except ValueError:
        return None


def _valid_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def build_activity(request: HttpRequest, response: HttpResponse, client_ip: str | None = None) -> TokenActivity:
    """The row for one token request (not saved).

    ``client_ip`` is the caller's address as the endpoint sees it (behind proxies, from
    ``X-Forwarded-For``); ``REMOTE_ADDR`` when not given.
    """
    params = dict(getattr(request, "m2m_params", None) or ())
    body = _json(response.content)
    status = response.status_code
    requested = params.get("scope", "")
    claims = _token_claims(body.get("access_token")) if status == 200 else {}
    if claims:
        aud = claims.get("aud")
        client_id = claims.get("client_id")
        resource = aud if isinstance(aud, str) else " ".join(a for a in aud or () if isinstance(a, str))
        scopes = claims.get("scope") or ""
        outcome, error = Outcome.SUCCESS, ""
    else:
        # The request failed, so nothing was granted; requested_scopes keeps what was asked.
        client_id = _basic_client_id(request) or params.get("client_id")
        resource = params.get("resource", "")
        scopes = ""
        outcome, error = Outcome.FAILURE, body.get("error") or f"http_{status}"
    # The custom-claims hook failed (the token was issued without its claims, or refused).
    error = getattr(request, "m2m_custom_claims_error", None) or error
    # What a failed request asked for is the caller's text, stored short; success rows hold what was granted.
    limit = None if outcome == Outcome.SUCCESS else FAILED_TEXT_LIMIT
    client_id = _clean(client_id, "client_id")
    # The application the validator authenticated; when it did not (a refusal before that), the
    # INSERT looks it up by client ID (see _save).
    application_id = getattr(request, APPLICATION_NOTE, None)
    return TokenActivity(
        application_id=application_id,
        client_id=client_id,
        resource=_clean(resource, "resource", limit),
        organization_id=_clean(params.get("organization_id", ""), "organization_id", limit),
        scopes=_clean(scopes, "scopes", limit),
        requested_scopes=_clean(requested, "requested_scopes", limit),
        outcome=outcome,
        error=_clean(error, "error"),
        status_code=status,
        client_ip=_valid_ip(client_ip or request.META.get("REMOTE_ADDR")),
        # The caller's text: cut short. The secret's name, never its value (the validator notes it).
        user_agent=_clean(request.META.get("HTTP_USER_AGENT"), "user_agent", USER_AGENT_LIMIT),
        secret_name=_clean(getattr(request, "m2m_secret_name", ""), "secret_name"),
    )


_LOOKUP_SQL: dict[tuple[str, str], str | None] = {}


def _application_by_client_id(connection: Any) -> str | None:
    """``(SELECT <m2m pk> FROM <m2m> JOIN <application> ... WHERE <client_id> = %s LIMIT 1)``, from model meta.

    One fixed fragment, the same for an unknown client and a known one, so that neither refusal is
    cheaper than the other (DESIGN §3). None on a database without ``LIMIT``.
    """
    key = (connection.alias, connection.vendor)
    try:
        return _LOOKUP_SQL[key]
    except KeyError:
        pass
    fragment = None
    if connection.vendor in {"postgresql", "sqlite", "mysql"}:
        quote = connection.ops.quote_name
        link: Any = M2MApplication._meta.get_field("application")
        app_meta = link.related_model._meta
        m2m, app = quote(M2MApplication._meta.db_table), quote(app_meta.db_table)
        # Identifiers from the models' meta, quoted by the backend; the client ID is a parameter.
        fragment = (
            f"(SELECT {m2m}.{quote(link.column)} FROM {m2m} INNER JOIN {app}"  # noqa: S608
            f" ON {app}.{quote(link.target_field.column)} = {m2m}.{quote(link.column)}"
            f" WHERE {app}.{quote(app_meta.get_field('client_id').column)} = %s LIMIT 1)"
        )
    _LOOKUP_SQL[key] = fragment
    return fragment


def _orm_save(row: TokenActivity, alias: str, lookup: bool) -> None:
    """The same row through ``Model.save()`` (a backend or field the compiled INSERT does not handle)."""
    if lookup:
        applications = M2MApplication.objects.using(alias).filter(application__client_id=row.client_id)
        row.application_id = Subquery(applications.order_by().values("pk")[:1])
    connection = connections[alias]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        row.save(using=alias)
        return
    with transaction.atomic(using=alias):
        # PostgreSQL docs, 28.4 "Asynchronous Commit": for this transaction only, COMMIT
        # returns without waiting for the WAL flush; the data stays consistent.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
        row.save(using=alias)


def _insert(row: TokenActivity, alias: str, lookup: bool) -> None:
    connection = connections[alias]
    fragment = _application_by_client_id(connection) if lookup else None
    if lookup and fragment is None:
        _orm_save(row, alias, lookup)
        return
    fragments = {"application_id": (fragment, row.client_id)} if fragment else None
    # PostgreSQL, autocommit: one statement whose commit does not wait for the WAL flush.
    no_flush_wait = connection.vendor == "postgresql" and not connection.in_atomic_block
    if not insert_row(row, alias, no_flush_wait=no_flush_wait, fragments=fragments):
        _orm_save(row, alias, lookup)


def _save(row: TokenActivity, *, lookup: bool = False) -> None:
    """INSERT the row in a transaction that does not wait for the disk.

    ``lookup``: the application is not known; the INSERT resolves it from the row's client ID.

    The row is visible to every connection when the INSERT returns and it survives the death of
    the worker process (the database server holds it); only a crash of the database server itself
    can lose the last commits (PostgreSQL: at most about 3 x ``wal_writer_delay``, 600 ms by
    default; SQLite in WAL mode with ``synchronous=NORMAL``: the commits since the last checkpoint
    on power loss, none on an application crash). The transaction's other statements are never
    affected: inside a transaction the caller opened (``ATOMIC_REQUESTS``, tests) the row joins it
    through a savepoint and commits with it, at the durability the caller chose.
    """
    alias = router.db_for_write(TokenActivity)
    connection = connections[alias]
    try:
        if connection.in_atomic_block:
            with transaction.atomic(using=alias):  # a failed INSERT must not doom the caller's transaction
                _insert(row, alias, lookup)
        else:
            _insert(row, alias, lookup)
    except IntegrityError:
        if lookup or row.application_id is None:
            raise
        # The application was deleted since it authenticated: record the request without it.
        row.application_id = None
        _save(row)


def record_token_request(request: HttpRequest, response: HttpResponse, *, client_ip: str | None = None) -> None:
    """Write the activity row for a token request; never raises."""
    if not m2m_settings.TOKEN_ACTIVITY_LOG or response.status_code in NOT_RECORDED_STATUSES:
        return
    try:
        row = build_activity(request, response, client_ip)
        _save(row, lookup=bool(row.client_id) and not hasattr(request, APPLICATION_NOTE))
    except Exception:
        logger.exception("Could not record token activity (the token response is unaffected)")


def prune(days: float, *, batch_size: int = PRUNE_BATCH_SIZE, dry_run: bool = False) -> int:
    """Delete the rows older than ``days`` days, ``batch_size`` per statement; the number deleted.

    Each batch is its own short transaction, so a large backlog never holds a long lock. With
    ``dry_run`` nothing is deleted and the number that would be is returned.
    """
    if days <= 0 or batch_size < 1:
        raise ValueError("days and batch_size must be positive")
    old = TokenActivity.objects.filter(created_at__lt=timezone.now() - timedelta(days=days))
    if dry_run:
        return old.count()
    alias = router.db_for_write(TokenActivity)
    deleted = 0
    while True:
        # The oldest first, through the created_at index; deleting by primary key keeps each statement small.
        batch = list(old.using(alias).order_by("created_at").values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        with transaction.atomic(using=alias):
            count, _ = TokenActivity.objects.using(alias).filter(pk__in=batch).delete()
        deleted += count
        if len(batch) < batch_size:
            return deleted
