"""Logto's search parameters, read from the raw query string.

``search=v`` matches any default field, ``search.<field>=v`` one field; ``search_params[search]=v`` and
``search_params[search.<field>]=v`` (the SDK's deepObject form) mean the same. ``mode`` / ``mode.<field>`` is
``like`` (default; SQL LIKE wildcards ``%`` and ``_`` supplied by the client, ``\\`` escapes) or ``exact``;
``similar_to`` and ``posix`` are refused with 400. ``joint`` is ``or`` (default) or ``and``;
``isCaseSensitive`` is ``false`` (default) or ``true``. Several values of one key are alternatives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from django.db.models import Q, QuerySet
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


def like_to_regex(pattern: str) -> str:
    """SQL LIKE (``%``, ``_``, ``\\`` escape) as an anchored regular expression."""
    out, i = ["^"], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    out.append("$")
    return "".join(out)


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
    return Q(**{f"{path}__regex" if case_sensitive else f"{path}__iregex": like_to_regex(value)})


def searched(request: Request, queryset: _QS, fields: Mapping[str, str]) -> _QS:
    """``queryset`` narrowed by the request's search parameters (unchanged when there are none)."""
    condition = search_filter(request, fields)
    return queryset if condition is None else queryset.filter(condition)
