"""Which HTTP redirects may be followed, for the library's own outgoing requests (standard library only).

Used by the calling-side client (token requests, discovery) and by remote mode (discovery, JWKS).
urllib's own handler re-sends every header, ``Authorization`` included, to any redirect target, follows
https down to plain http, and turns a redirected POST into a GET. :class:`SafeRedirectHandler` instead:

- never follows a redirect to a non-http(s) URL, nor from https down to http;
- lets a request carrying credentials (an ``Authorization`` header or a body) follow only within its
  origin (RFC 6454: scheme, host, port), or from http up to https on the same host;
- follows a POST only on 307/308, which keep the method and body (RFC 9110 §15.4.8, §15.4.9).

Every refusal raises :class:`RedirectRefusedError` before anything is sent to the new URL.
"""

from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


class RedirectRefusedError(ValueError):
    """Following this redirect would downgrade to plain http or carry credentials to another origin."""


def origin(url: str) -> tuple[str, str, int | None]:
    """The RFC 6454 origin of ``url``: scheme, host (lower case) and port (the scheme's default if none)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def credentials_may_follow(from_url: str, to_url: str) -> bool:
    """Whether a request with credentials may follow a redirect from ``from_url`` to ``to_url``."""
    old, new = origin(from_url), origin(to_url)
    if old == new:
        return True
    return old[0] == "http" and new[0] == "https" and old[1] == new[1] and new[2] == _DEFAULT_PORTS["https"]


def check_redirect(from_url: str, to_url: str, *, method: str, code: int, with_credentials: bool) -> None:
    """Raise :class:`RedirectRefusedError` unless the redirect from ``from_url`` to ``to_url`` is safe to follow."""
    scheme = urlsplit(to_url).scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise RedirectRefusedError(f"{from_url} redirected to {to_url}: refused (not an http(s) URL).")
    if urlsplit(from_url).scheme.lower() == "https" and scheme != "https":
        raise RedirectRefusedError(f"{from_url} redirected to {to_url}: refused (https down to plain http).")
    if with_credentials and not credentials_may_follow(from_url, to_url):
        raise RedirectRefusedError(
            f"{from_url} redirected to {to_url}, another origin: the credentials were not sent there. "
            "Configure the final URL."
        )
    if method not in ("GET", "HEAD") and code not in (307, 308):
        raise RedirectRefusedError(f"{from_url} answered {code} to a {method}; only 307 or 308 keep the request.")


#: Python 3.11 taught urllib's redirect handler 308 (RFC 9110 §15.4.9); 3.10's treats it as an error.
_KNOWS_308 = hasattr(urllib.request.HTTPRedirectHandler, "http_error_308")


class SafeRedirectHandler(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handling with :func:`check_redirect` applied to every hop."""

    # On Python 3.10, 308 is followed like 307 (below), as newer Pythons do.
    http_error_308 = urllib.request.HTTPRedirectHandler.http_error_302

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        method = req.get_method()
        with_credentials = req.has_header("Authorization") or req.data is not None
        check_redirect(req.full_url, newurl, method=method, code=code, with_credentials=with_credentials)
        if method in ("GET", "HEAD") and (code != 308 or _KNOWS_308):
            return super().redirect_request(req, fp, code, msg, headers, newurl)
        # A 307/308 within the origin (or a 308 on Python 3.10): the same method, headers and body.
        return urllib.request.Request(  # noqa: S310 - the scheme is checked above
            newurl, data=req.data, headers=dict(req.headers), method=method, origin_req_host=req.origin_req_host
        )


def build_opener() -> urllib.request.OpenerDirector:
    """An opener (proxies from the environment as usual) whose redirects go through :class:`SafeRedirectHandler`."""
    return urllib.request.build_opener(SafeRedirectHandler)
