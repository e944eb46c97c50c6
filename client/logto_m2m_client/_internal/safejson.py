"""JSON from untrusted sources, with its nesting bounded before it is parsed.

Python's ``json`` module recurses once per ``[`` or ``{``: a few thousand of them (a 7 KB token
header, a small request body) raise ``RecursionError``, which no caller expects and which
surfaces as a 500. :func:`loads` measures the nesting first, in linear time and without
recursion, and refuses anything deeper than ``max_depth`` with :class:`JSONNestingError`
(a ``ValueError``, so the callers' existing ``except ValueError`` handles it).

Standard library only: the calling-side client imports it too.
"""

from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate
from typing import Any

#: Deepest nesting accepted by default. A token header is 1 level deep, its claims 2 or 3,
#: a JWKS 3, a Management API body 2 or 3.
MAX_DEPTH = 32

# A JSON string: the quote, runs of plain characters and escapes, the closing quote. An unclosed one
# runs to the end. Plain runs and escapes can't match the same character and every quote starts a
# match that succeeds, so the scan is linear: no backtracking, no second attempt from inside a string.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
# Opening brackets become 1, closing ones 255 (-1 as a signed byte), everything else is deleted.
_BRACKETS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


class JSONNestingError(ValueError):
    """The document nests arrays or objects deeper than allowed."""


def depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in ``data`` (brackets inside strings don't count)."""
    if data.count(b"[") + data.count(b"{") <= 1:
        return 1 if b"[" in data or b"{" in data else 0
    stripped = _STRING.sub(b'""', data)
    steps = array("b", stripped.translate(_BRACKETS, _NOT_BRACKETS))
    return max(accumulate(steps), default=0)


def check_depth(data: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`JSONNestingError` if ``data`` nests deeper than ``max_depth``."""
    # Fast path: a document can't be deeper than its number of opening brackets.
    if data.count(b"[") + data.count(b"{") > max_depth and depth(data) > max_depth:
        raise JSONNestingError(f"The JSON is nested too deeply (more than {max_depth} levels).")


def loads(data: bytes | str, max_depth: int = MAX_DEPTH, **options: Any) -> Any:
    """``json.loads(data, **options)`` for untrusted input: :class:`JSONNestingError` beyond ``max_depth`` levels.

    Raises ``ValueError`` (``json.JSONDecodeError``, ``UnicodeDecodeError`` or
    :class:`JSONNestingError`) for anything that is not acceptable JSON.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    check_depth(raw, max_depth)
    try:
        return json.loads(data, **options)
    except RecursionError as exc:  # not reachable after the check; kept so that no caller ever sees one
        raise JSONNestingError("The JSON is nested too deeply.") from exc
