"""The Management API's JSON parser: bodies bounded in size and nesting before they are parsed.

DRF's ``JSONParser`` hands the body to ``json.load``, which recurses once per ``[`` or ``{``: a
body of a few thousand brackets raises ``RecursionError`` (a 500). This parser reads at most
``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes, measures the nesting (linear, no recursion), then parses
strict JSON (RFC 8259: no ``NaN`` or ``Infinity``). Every refusal is a 400 ``guard.invalid_input``
(413 for a body too large), in Logto's error body.
"""

from __future__ import annotations

import codecs
from http import HTTPStatus
from typing import IO, Any

from django.conf import settings
from logto_m2m_client._internal import safejson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .errors import ApiError

#: Deepest nesting a Management API body may have (real ones have 2 or 3 levels).
MAX_BODY_DEPTH = 32
_CHUNK = 65_536


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value.")


class BoundedJSONParser(JSONParser):
    """``application/json`` bodies, refused with a clear 400 when too deep, malformed or not UTF-8."""

    def parse(self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = _read_bounded(stream)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            codecs.lookup(encoding)
            text = raw.decode(encoding)
            return safejson.loads(text, MAX_BODY_DEPTH, parse_constant=_no_constants)
        except safejson.JSONNestingError as exc:
            raise ParseError(f"The JSON body is nested too deeply (more than {MAX_BODY_DEPTH} levels).") from exc
        except (LookupError, UnicodeDecodeError) as exc:
            raise ParseError(f"The body is not valid {encoding} text.") from exc
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc


def _read_bounded(stream: IO[bytes] | None) -> bytes:
    if stream is None:
        return b""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if limit is not None and size > limit:
            raise ApiError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "guard.invalid_input",
                f"The request body is larger than {limit} bytes.",
            )
        chunks.append(chunk)
