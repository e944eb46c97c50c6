"""Rate limits of the token endpoint, held in Django's cache and shared by every process.

Four fixed-window counters (``LOGTO_M2M["THROTTLE_RATES"]``), built so that nobody can
lock out a client they are not:

``client``
    a client's own budget: token requests that present its credentials. The counter is
    keyed by the client ID *and* a keyed hash of the secret presented, so only a caller
    holding the secret can spend it (an app calling with two secrets at once, during a
    rotation, has one budget per secret);
``ip``
    every token request from an address, malformed ones included, counted before the
    body is read;
``failed``
    failed client authentications (401 ``invalid_client``) per (address, claimed client
    ID): guessing under a client's ID blocks that ID at the guesser's address only;
``failed_ip``
    failed client authentications per address, whatever the ID: the ceiling, well above
    one client's, that stops an address from guessing under many IDs.

A request refused with 429 spends nothing but the ``ip`` count of its address: no
client budget, no failure allowance.

Cost: on Django's ``RedisCache`` a request with Basic credentials costs one pipelined
round trip (``client_secret_post`` one more: its credentials are in the body, read only
after the address check); a failed authentication adds the one that counts it, and a
refused request the one that takes its client increment back. Other caches have no
multi-key operations: each counter is one call, which is free for the local-memory cache
and one network round trip each for memcached.

When the cache is unreachable the endpoint fails open (requests are served unthrottled)
through the shared circuit breaker of :mod:`logto_m2m_django._internal.sharedcache`:
one warning per outage, the cache left alone for its retry period.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse

from .._internal.counters import Counter, Step, exchange, increment
from ..changes import UNAVAILABLE
from ..conf import m2m_settings, on_reload
from ..secrets import credential_digest
from .errors import error_response
from .validator import decode_basic

logger = logging.getLogger("logto_m2m_django.throttling")

#: The ``error`` code of a throttled request (429).
THROTTLED_ERROR = "too_many_requests"
#: The address of requests that arrive with an empty ``REMOTE_ADDR`` (a unix socket) and no
#: trusted ``X-Forwarded-For``: they share one address's limits.
UNIX_SOCKET_ADDRESS = "unix"

_PERIODS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_STATE_ATTR = "_logto_m2m_throttle"
_IP_ATTR = "_logto_m2m_client_ip"
#: Wall clock of the windows (tests replace it to freeze time).
clock = time.time


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` requests per ``period`` seconds."""

    limit: int
    period: int

    def window(self, now: float) -> tuple[int, int]:
        """The current window's index and the seconds left in it (at least 1)."""
        index = int(now // self.period)
        return index, max(1, int((index + 1) * self.period - now + 0.999))


def parse_rate(text: Any) -> Rate:
    """``"10/minute"``, ``"100/h"``, ``"5/30s"`` (5 per 30 seconds) or ``(10, 60)``."""
    if isinstance(text, (tuple, list)) and len(text) == 2:
        limit, period = int(text[0]), int(text[1])
    elif isinstance(text, str) and "/" in text:
        count, _, unit = text.strip().partition("/")
        unit = unit.strip().lower()
        digits = unit.rstrip("abcdefghijklmnopqrstuvwxyz")
        name = unit[len(digits) :] or "s"
        if name.endswith("s") and name[:-1] in _PERIODS:
            name = name[:-1]
        if name not in _PERIODS or not count.strip().isdigit() or (digits and not digits.isdigit()):
            raise ValueError(f"Not a rate: {text!r} (expected e.g. '10/minute').")
        limit, period = int(count), int(digits or 1) * _PERIODS[name]
    else:
        raise ValueError(f"Not a rate: {text!r} (expected e.g. '10/minute').")
    if limit < 1 or period < 1:
        raise ValueError(f"Not a rate: {text!r} (the count and the period must be positive).")
    return Rate(limit, period)


_rates: dict[str, Rate] | None = None
_warned: set[str] = set()


def configured_rates() -> dict[str, Rate]:
    """The enabled limits, parsed once per settings change."""
    global _rates
    rates = _rates
    if rates is None:
        rates = _rates = {kind: parse_rate(text) for kind, text in m2m_settings.THROTTLE_RATES.items()}
    return rates


@on_reload
def reset() -> None:
    """Forget parsed rates and the one-time warnings (settings changed)."""
    global _rates
    _rates = None
    _warned.clear()


def _warn_once(topic: str, message: str) -> None:
    if topic not in _warned:
        _warned.add(topic)
        logger.warning(message)


# -- who is asking -------------------------------------------------------------


def client_ip(request: HttpRequest) -> str:
    """The address the limits count (worked out once per request).

    ``REMOTE_ADDR``; with ``THROTTLE_NUM_PROXIES`` = n, the n-th ``X-Forwarded-For`` entry
    from the right (the one the outermost trusted proxy added). An empty ``REMOTE_ADDR``
    (a unix socket) counts as the one address :data:`UNIX_SOCKET_ADDRESS`, so the address
    limits still hold, shared by every client; a warning says to set ``THROTTLE_NUM_PROXIES``.
    """
    known = getattr(request, _IP_ATTR, None)
    if known is not None:
        return str(known)
    proxies = m2m_settings.THROTTLE_NUM_PROXIES
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR") or "")
    ip = ""
    if proxies > 0:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            ip = hops[-min(proxies, len(hops))][:64]
    elif forwarded:
        _warn_once(
            "forwarded",
            'A token request arrived with X-Forwarded-For while LOGTO_M2M["THROTTLE_NUM_PROXIES"] is 0: '
            "the header is ignored and the address limits count REMOTE_ADDR. Behind a reverse proxy every "
            "client then shares the proxy's address; set THROTTLE_NUM_PROXIES to the number of proxies.",
        )
    if not ip:
        ip = str(request.META.get("REMOTE_ADDR") or "")[:64]
    if not ip:
        _warn_once(
            "unix",
            "A token request arrived with an empty REMOTE_ADDR (a unix socket): every such request counts as "
            f'the one address "{UNIX_SOCKET_ADDRESS}" for the address limits. Behind a proxy on a unix socket '
            'set LOGTO_M2M["THROTTLE_NUM_PROXIES"] so that each client is counted by its own address.',
        )
        ip = UNIX_SOCKET_ADDRESS
    setattr(request, _IP_ATTR, ip)
    return ip


def _credentials_from_header(request: HttpRequest) -> tuple[str, str] | None:
    """``(claimed client ID, secret)`` of a Basic header; ``("", "")`` for another or malformed one."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    scheme, _, value = str(header).strip().partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    return decode_basic(value) or ("", "")


def _key(kind: str, ident: str, rate: Rate, index: int) -> str:
    # Hashed: any client-supplied string becomes a short key that every cache accepts.
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"logto_m2m:throttle:{kind}:{rate.period}:{index}:{digest}"


# -- the decision --------------------------------------------------------------


@dataclass
class _Throttle:
    """What one request's throttling has established so far (kept on the request)."""

    rates: dict[str, Rate]
    now: float
    ip: str
    claimed: str = ""
    credentials_counted: bool = False
    retry_after: int = 0
    #: Plain keys read in the first round trip (see :func:`check_request`'s ``peek``).
    peeked: dict[str, int | None] | None = None

    def counter(self, kind: str, ident: str) -> tuple[Counter, Rate, int] | None:
        rate = self.rates.get(kind)
        if rate is None or not ident:
            return None
        index, left = rate.window(self.now)
        return Counter(_key(kind, ident, rate, index), rate.period + 1), rate, left

    def run(
        self, increments: list[str], reads: list[str], client: tuple[str, str] | None, peek: tuple[str, ...] = ()
    ) -> HttpResponse | None:
        """Count (kinds in ``increments``), read (kinds in ``reads``) and then spend the client's budget.

        ``ip`` and ``failed_ip`` are keyed by the address, ``failed`` by (address, claimed ID).
        """
        idents = {"ip": self.ip, "failed_ip": self.ip, "failed": f"{self.ip}\x00{self.claimed}" if self.claimed else ""}
        first_incr = [c for c in (self.counter(kind, idents[kind]) for kind in increments) if c]
        first_read = [c for c in (self.counter(kind, idents[kind]) for kind in reads) if c]
        own = self.counter("client", credential_digest(*client)) if client and client[0] else None
        if not first_incr and not first_read and own is None and not peek:
            return None
        # Increments are over the limit past it; reads (failures already counted) at it.
        checks = [(rate, left, rate.limit + 1) for _c, rate, left in first_incr]
        checks += [(rate, left, rate.limit) for _c, rate, left in first_read]

        def refused(values: list[int]) -> bool:
            return any(value >= bound for (_r, _l, bound), value in zip(checks, values, strict=True))

        result = exchange(
            m2m_settings.THROTTLE_CACHE,
            Step([c for c, _r, _l in first_incr], [c.key for c, _r, _l in first_read]),
            Step([own[0]] if own else []),
            refused,
            peek,
        )
        if result is None:  # the cache is unavailable: fail open
            return None
        values, spent, self.peeked = result
        for (_rate, left, bound), value in zip(checks, values, strict=True):
            if value >= bound:
                self.retry_after = max(self.retry_after, left)
        if own is not None and spent and spent[0] > own[1].limit:
            self.retry_after = max(self.retry_after, own[2])
        return _throttled(self.retry_after) if self.retry_after else None


def _throttled(retry_after: int) -> HttpResponse:
    # RFC 6585 §4: 429 Too Many Requests, with Retry-After (RFC 9110 §10.2.3) in seconds.
    return error_response(
        THROTTLED_ERROR,
        "Too many token requests; retry after the time given in Retry-After.",
        429,
        {"Retry-After": str(retry_after)},
    )


def check_request(request: HttpRequest, peek: tuple[str, ...] = ()) -> HttpResponse | None:
    """Before the body is read: count the address, check its failures; a 429 response, or None.

    With Basic credentials this also checks the (address, client) failures and spends the
    client's own budget, all in the same round trip, which also reads the plain keys of ``peek``
    (:func:`peeked` returns them).
    """
    rates = configured_rates()
    if not rates:
        return None
    state = _Throttle(rates, clock(), client_ip(request))
    setattr(request, _STATE_ATTR, state)
    credentials = _credentials_from_header(request)
    reads = ["failed_ip"]
    if credentials is not None:
        state.claimed = credentials[0]
        state.credentials_counted = True
        reads.append("failed")
    return state.run(["ip"], reads, credentials, peek)


def peeked(request: HttpRequest, key: str) -> object:
    """The value of ``key`` read by :func:`check_request` (an int, or None when missing), or
    ``changes.UNAVAILABLE`` when it was not read there (throttling off, the cache unavailable)."""
    state: _Throttle | None = getattr(request, _STATE_ATTR, None)
    if state is None or state.peeked is None or key not in state.peeked:
        return UNAVAILABLE
    return state.peeked[key]


def check_credentials(request: HttpRequest, params: list[tuple[str, str]]) -> HttpResponse | None:
    """After the body is read: the same for ``client_secret_post`` credentials (RFC 6749 §2.3.1)."""
    state: _Throttle | None = getattr(request, _STATE_ATTR, None)
    if state is None or state.credentials_counted:
        return None
    found = dict(params)
    client_id, secret = found.get("client_id", ""), found.get("client_secret", "")
    if not client_id:
        return None
    state.claimed = client_id
    state.credentials_counted = True
    return state.run([], ["failed"], (client_id, secret) if secret else None)


def record_failure(request: HttpRequest) -> None:
    """Count a failed client authentication (401 ``invalid_client``): per (address, ID) and per address."""
    state: _Throttle | None = getattr(request, _STATE_ATTR, None)
    if state is None:
        return
    state.now = clock()
    idents = [("failed", f"{state.ip}\x00{state.claimed}" if state.claimed else ""), ("failed_ip", state.ip)]
    counters = [c[0] for c in (state.counter(kind, ident) for kind, ident in idents) if c]
    increment(m2m_settings.THROTTLE_CACHE, counters)
