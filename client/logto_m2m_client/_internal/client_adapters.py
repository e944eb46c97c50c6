"""``RequestsAuth`` and ``HTTPXAuth``: a :class:`~logto_m2m_client.TokenSource` in requests and httpx.

Import them from :mod:`logto_m2m_client` (or :mod:`logto_m2m_django.client`). Each adds
``Authorization: Bearer <token>`` and, on a 401 from the origin the request was addressed to (never from a
host a redirect led to), drops the cached token and sends the request once more with a new one.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Generator
from typing import Any

from . import redirects

try:
    from requests.auth import AuthBase as _RequestsAuthBase
except ImportError:  # pragma: no cover - the [requests] extra is not installed
    _RequestsAuthBase = object  # type: ignore[misc,assignment]

try:
    import httpx as _httpx
except ImportError:  # pragma: no cover - the [httpx] extra is not installed
    _httpx = None  # type: ignore[assignment]


def _bearer(value: str) -> str:
    return f"Bearer {value}"


class RequestsAuth(_RequestsAuthBase):
    """``requests`` authentication with a :class:`TokenSource` (extra ``[requests]``).

    ``session.auth = RequestsAuth(source)``. On a 401 from the API the cached
    token is dropped and the request is sent once more with a new token.
    """

    def __init__(self, source: Any) -> None:
        if _RequestsAuthBase is object:  # pragma: no cover
            raise ImportError("RequestsAuth needs requests: pip install 'logto-m2m-client[requests]'.")
        self.source = source

    def __call__(self, request: Any) -> Any:
        token = self.source.token()
        request.headers["Authorization"] = _bearer(token)
        # The hook travels with the request through redirects (requests copies it to each hop):
        # it remembers where the token was meant to go.
        request.register_hook(
            "response", functools.partial(self._retry_once_on_401, origin=redirects.origin(request.url))
        )
        return request

    def _retry_once_on_401(self, response: Any, *, origin: tuple[str, str, int | None], **kwargs: Any) -> Any:
        sent = response.request
        if response.status_code != 401 or getattr(sent, "_logto_m2m_retried", False):
            return response
        if redirects.origin(sent.url) != origin or not str(sent.headers.get("Authorization", "")).startswith("Bearer "):
            # A 401 from a host a redirect led to (which got no token: requests strips it) is that
            # host's answer; sending it a fresh token would hand our credentials to a stranger.
            return response
        self.source.invalidate(str(sent.headers.get("Authorization", ""))[len("Bearer ") :])
        retry = sent.copy()
        retry.headers["Authorization"] = _bearer(self.source.token())
        retry._logto_m2m_retried = True
        response.content  # noqa: B018 - read the body so that the connection can be reused
        response.close()
        new_response = response.connection.send(retry, **kwargs)
        new_response.history.append(response)
        new_response.request = retry
        return new_response


_HTTPXAuthBase: Any = _httpx.Auth if _httpx is not None else object


def _renew(request: Any, response: Any) -> bool:
    """A 401 from the origin the request was addressed to, not from a host a redirect led to."""
    return bool(
        response.status_code == 401
        and redirects.origin(str(response.request.url)) == redirects.origin(str(request.url))
    )


class HTTPXAuth(_HTTPXAuthBase):  # type: ignore[misc]
    """``httpx`` authentication with a :class:`TokenSource` (extra ``[httpx]``).

    ``httpx.Client(auth=HTTPXAuth(source))`` or ``httpx.AsyncClient(...)``; in
    async clients a token request runs in a worker thread. On a 401 from the
    API the cached token is dropped and the request is sent once more.
    """

    def __init__(self, source: Any) -> None:
        if _httpx is None:  # pragma: no cover
            raise ImportError("HTTPXAuth needs httpx: pip install 'logto-m2m-client[httpx]'.")
        self.source = source

    def sync_auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        token = self.source.token()
        request.headers["Authorization"] = _bearer(token)
        response = yield request
        if _renew(request, response):
            self.source.invalidate(token)
            request.headers["Authorization"] = _bearer(self.source.token())
            yield request

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        token = await self._token_async()
        request.headers["Authorization"] = _bearer(token)
        response = yield request
        if _renew(request, response):
            self.source.invalidate(token)
            request.headers["Authorization"] = _bearer(await self._token_async())
            yield request

    async def _token_async(self) -> str:
        cached = self.source.cached()
        if cached is not None:
            return cached.value
        import anyio.to_thread  # httpx depends on anyio

        return await anyio.to_thread.run_sync(self.source.token)
