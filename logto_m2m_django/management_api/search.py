"""Logto's search parameters, read from the raw query string.

``search=v`` matches any default field, ``search.<field>=v`` one field; ``search_params[search]=v`` and
``search_params[search.<field>]=v`` (the SDK's deepObject form) mean the same. ``mode`` / ``mode.<field>`` is
``like`` (default; SQL LIKE wildcards ``%`` and ``_`` supplied by the client, ``\\`` escapes) or ``exact``;
``similar_to`` and ``posix`` are refused with 400. ``joint`` is ``or`` (default) or ``and``;
``isCaseSensitive`` is ``false`` (default) or ``true``. Several values of one key are alternatives.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from django.db.models import F, Lookup, Q, QuerySet
from rest_framework.request import Request

from .errors import ApiError

_QS = TypeVar("_QS", bound="QuerySet[Any]")

SUPPORTED_MODES = ("like", "exact")
KNOWN_MODES = (*SUPPORTED_MODES, "similar_to", "posix")
MAX_VALUE_LENGTH = 256


def _bad(message: str) -> ApiError:
    return ApiError(HTTPStatus.BAD_REQUEST, "request.invalid_input", message)


def _unwrap(key: str) -> str:
    if key.startswith("search_params[") and key.endswith("]"):
        inner = key[len("search_params[") : -1]
        # search_params[name]=v is a field search too.
        if inner in ("search", "mode", "joint", "isCaseSensitive") or inner.startswith(("search.", "mode.")):
            return inner
        return f"search.{inner}"
    return key


def _pattern_parts(pattern: str) -> list[str]:
    """Logto's LIKE pattern as parts: ``"%"`` and ``"_"`` wildcards, or one literal character.

    ``\\`` escapes the next character; a lone trailing ``\\`` is a literal backslash.
    """
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            parts.append("\\" + pattern[i + 1])
            i += 2
            continue
        parts.append(ch if ch in "%_" else "\\" + ch)
        i += 1
    return parts


def like_pattern(pattern: str) -> str:
    """The pattern for ``LIKE ... ESCAPE '\\'``, every literal wildcard or backslash escaped."""
    out = []
    for part in _pattern_parts(pattern):
        literal = part[1:]
        out.append(part if part in ("%", "_") else ("\\" + literal if literal in "%_\\" else literal))
    return "".join(out)


def glob_pattern(pattern: str) -> str:
    """The same pattern for SQLite's case-sensitive ``GLOB`` (``*``, ``?``; ``[x]`` quotes a character)."""
    out = []
    for part in _pattern_parts(pattern):
        if part in ("%", "_"):
            out.append("*" if part == "%" else "?")
        else:
            literal = part[1:]
            out.append(f"[{literal}]" if literal in "*?[" else literal)
    return "".join(out)


class _Like(Lookup):  # type: ignore[type-arg]
    """``<column> LIKE <Logto pattern>``, used directly as a filter: ``Q(Like(F("name"), "%a%"))``.

    The search stays linear whatever the pattern: SQLite's LIKE and GLOB and PostgreSQL's LIKE stop
    trying the positions of a ``%`` once the rest of the pattern can't match, where the regular
    expression this replaced backtracked (``%a%a%ab`` took seconds on SQLite).
    """

    lookup_name = "logto_like"
    prepare_rhs = False
    case_sensitive = False

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        params = [*lhs_params]
        if connection.vendor == "sqlite":
            if self.case_sensitive:
                return f"{lhs} GLOB %s", [*params, glob_pattern(self.rhs)]
            # SQLite's LIKE ignores the case of ASCII letters (as Django's icontains there).
            return f"{lhs} LIKE %s ESCAPE '\\'", [*params, like_pattern(self.rhs)]
        if connection.vendor == "postgresql":
            operator = "LIKE" if self.case_sensitive else "ILIKE"
            return f"({lhs})::text {operator} %s ESCAPE '\\'", [*params, like_pattern(self.rhs)]
        if self.case_sensitive:
            return f"{lhs} LIKE %s ESCAPE '\\'", [*params, like_pattern(self.rhs)]
        return f"UPPER({lhs}) LIKE UPPER(%s) ESCAPE '\\'", [*params, like_pattern(self.rhs)]


class _CaseSensitiveLike(_Like):
    lookup_name = "logto_like_cs"
    case_sensitive = True


def search_filter(request: Request, fields: Mapping[str, str]) -> Q | None:
    """A filter for the search parameters of ``request``; ``fields`` maps Logto names to ORM paths.

    The first entries of ``fields`` that are ``id``, ``name`` and ``description`` are the default fields.
    """
    terms: dict[str | None, list[str]] = {}
    modes: dict[str | None, str] = {}
    joint, case_sensitive = "or", False
    for raw_key, value in parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True):
        key = _unwrap(raw_key)
        if "\x00" in value or len(value) > MAX_VALUE_LENGTH:
            raise _bad(f"`{raw_key}` is too long or contains a NUL character.")
        if key == "search" or key.startswith("search."):
            name = key[len("search.") :] if key != "search" else None
            if name is not None and name not in fields:
                raise _bad(f"Searching by `{name}` is not supported; fields: {', '.join(fields)}.")
            if value:
                terms.setdefault(name, []).append(value)
        elif key == "mode" or key.startswith("mode."):
            name = key[len("mode.") :] if key != "mode" else None
            if name is not None and name not in fields:
                raise _bad(f"Searching by `{name}` is not supported; fields: {', '.join(fields)}.")
            if value not in KNOWN_MODES:
                raise _bad(f"Unknown search mode `{value}`; use like or exact.")
            if value not in SUPPORTED_MODES:
                raise _bad(f"The search mode `{value}` is not supported here; use like or exact.")
            modes[name] = value
        elif key == "joint":
            if value not in ("or", "and"):
                raise _bad("`joint` must be `or` or `and`.")
            joint = value
        elif key == "isCaseSensitive":
            if value not in ("true", "false"):
                raise _bad("`isCaseSensitive` must be `true` or `false`.")
            case_sensitive = value == "true"
    if not terms:
        return None
    combined: Q | None = None
    for name, values in terms.items():
        targets = [name] if name is not None else [f for f in fields if f in ("id", "name", "description")]
        mode = modes.get(name, modes.get(None, "like"))
        clause = Q()
        for value in values:
            for target in targets:
                clause |= _match(fields[target], value, mode, case_sensitive)
        combined = clause if combined is None else (combined & clause if joint == "and" else combined | clause)
    return combined


def _match(path: str, value: str, mode: str, case_sensitive: bool) -> Q:
    if mode == "exact":
        return Q(**{f"{path}__exact" if case_sensitive else f"{path}__iexact": value})
    return Q((_CaseSensitiveLike if case_sensitive else _Like)(F(path), value))


def searched(request: Request, queryset: _QS, fields: Mapping[str, str]) -> _QS:
    """``queryset`` narrowed by the request's search parameters (unchanged when there are none)."""
    condition = search_filter(request, fields)
    return queryset if condition is None else queryset.filter(condition)
