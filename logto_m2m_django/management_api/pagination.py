"""Logto's pagination: ``page`` (from 1) and ``page_size`` (1-100, default 20) in, bare JSON arrays out,
with ``Total-Number`` and an RFC 8288 ``Link`` header."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from rest_framework.request import Request

from .errors import ApiError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass
class Page:
    items: list[Any]
    headers: dict[str, str] = field(default_factory=dict)


def _positive(request: Request, name: str, default: int, maximum: int | None) -> int:
    raw = request.query_params.getlist(name)
    if not raw:
        return default
    value = raw[-1].strip()
    if not value.isascii() or not value.isdigit() or len(value) > 9 or int(value) < 1:
        raise ApiError(HTTPStatus.BAD_REQUEST, "guard.invalid_pagination", f"`{name}` must be a positive integer.")
    number = int(value)
    if maximum is not None and number > maximum:
        raise ApiError(HTTPStatus.BAD_REQUEST, "guard.invalid_pagination", f"`{name}` must be at most {maximum}.")
    return number


def paginate(request: Request, queryset: QuerySet[Any], *, optional: bool) -> Page:
    """One page of ``queryset``; every row without headers when ``optional`` and no parameter was sent."""
    sent = "page" in request.query_params or "page_size" in request.query_params
    page = _positive(request, "page", 1, None)
    size = _positive(request, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    if optional and not sent:
        return Page(list(queryset))
    total = queryset.count()
    offset = (page - 1) * size
    items = list(queryset[offset : offset + size]) if offset < total else []
    return Page(items, {"Total-Number": str(total), "Link": _links(request, page, size, total)})


def _links(request: Request, page: int, size: int, total: int) -> str:
    last = max(1, -(-total // size))
    params = [(k, v) for k, values in request.query_params.lists() if k not in ("page", "page_size") for v in values]
    base = request.build_absolute_uri(request.path)

    def url(number: int) -> str:
        return f"{base}?{urlencode([*params, ('page', number), ('page_size', size)])}"

    links = [f'<{url(1)}>; rel="first"']
    if page > 1:
        links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
    if page < last:
        links.append(f'<{url(page + 1)}>; rel="next"')
    links.append(f'<{url(last)}>; rel="last"')
    return ", ".join(links)
