"""The calling side: access tokens for an M2M app, fetched once and reused.

:class:`TokenSource` asks the token endpoint (this package's or a Logto
tenant's) for a client-credentials token and keeps it until shortly before it
expires. It is thread-safe and single-flight: however many threads need a
token at once, one request goes out and they all get its answer::

    from logto_m2m_client import TokenSource, RequestsAuth

    source = TokenSource(
        issuer="https://auth.example.com/oidc",  # or token_endpoint="https://.../oidc/token"
        client_id="<app id>",
        client_secret="<app secret>",
        resource="https://shopping.api",
        scopes=["read:products"],
    )
    requests.get("https://shop.example.com/products", auth=RequestsAuth(source))

:class:`RequestsAuth` (extra ``[requests]``) and :class:`HTTPXAuth`
(extra ``[httpx]``) add the ``Authorization`` header and, when the API
answers 401, drop the cached token and retry once with a new one.

Only the standard library is needed for the token requests themselves; this
module touches neither Django's settings nor the ORM.

Credentials never leave the origin they were meant for: the token request
follows a redirect only within its origin (or from http up to https on the
same host), and only a 307/308 that keeps the POST; anything else raises
:class:`UnsafeRedirectError` before a byte is sent there. ``RequestsAuth`` and
``HTTPXAuth`` renew and resend a token only when the 401 comes from the origin
the request was addressed to, never from a host a redirect led to.
"""

from __future__ import annotations

import base64
import http.client
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

from ._internal import redirects, safejson

# The requests and httpx adapters live in a module of their own; their public path is this one.
from ._internal.client_adapters import HTTPXAuth, RequestsAuth

__all__ = [
    "AccessToken",
    "DiscoveryError",
    "HTTPXAuth",
    "M2MClientError",
    "RequestsAuth",
    "TokenEndpointUnavailable",
    "TokenRequestError",
    "TokenSource",
    "UnsafeRedirectError",
]

_MAX_RESPONSE_BYTES = 256 * 1024
#: ``expires_in`` assumed when the token response has none (RFC 6749 §5.1 makes it optional).
DEFAULT_EXPIRES_IN = 60

#: ``send(method, url, headers, body, timeout) -> (status, body)``; raises OSError on network failures.
Transport = Callable[[str, str, Mapping[str, str], bytes | None, float], tuple[int, bytes]]


class M2MClientError(Exception):
    """Base class of the client's errors."""


class TokenRequestError(M2MClientError):
    """The token endpoint refused the request (RFC 6749 §5.2).

    ``error`` is the RFC's code (``invalid_client``, ``invalid_target``,
    ``invalid_scope``, ``unauthorized_client``...), ``description`` the
    server's ``error_description``, ``status`` the HTTP status.
    """

    def __init__(self, error: str, description: str | None, status: int) -> None:
        self.error = error
        self.description = description
        self.status = status
        super().__init__(f"{error}: {description}" if description else error)


class TokenEndpointUnavailable(M2MClientError):  # noqa: N818 - reads as a state, like Django's ServiceUnavailable
    """The token endpoint could not be reached or gave an answer that is not OAuth 2.0."""


class UnsafeRedirectError(TokenEndpointUnavailable):
    """A redirect would have sent the client's credentials to another origin or over plain http."""


class DiscoveryError(M2MClientError):
    """``{issuer}/.well-known/openid-configuration`` could not be read or names no token endpoint."""


@dataclass(frozen=True)
class AccessToken:
    """A token as the endpoint issued it. ``expires_at`` and ``refresh_at`` are on the source's clock."""

    value: str
    token_type: str
    expires_in: int
    scope: str | None
    expires_at: float
    refresh_at: float


_opener = redirects.build_opener()


def urllib_transport(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
) -> tuple[int, bytes]:
    """The default transport: the standard library, error statuses returned rather than raised.

    Redirects are followed only where the credentials may go (see ``_internal/redirects.py``); the
    others raise :class:`UnsafeRedirectError` before anything is sent to the new URL.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"{url!r} is not an http(s) URL.")
    request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)  # noqa: S310
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, response.read(_MAX_RESPONSE_BYTES + 1)
    except redirects.RedirectRefusedError as exc:
        raise UnsafeRedirectError(str(exc)) from exc
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(_MAX_RESPONSE_BYTES + 1)


def _form_encode_credential(value: str) -> str:
    # RFC 6749 §2.3.1: client_id and client_secret are form-urlencoded before Basic encoding.
    return quote_plus(value, safe="")


class TokenSource:
    """Client-credentials access tokens for one M2M app and one resource, cached per instance.

    Give ``token_endpoint``, or ``issuer`` to discover it from
    ``{issuer}/.well-known/openid-configuration`` on first use. A token is
    reused until ``refresh_before`` seconds before it expires (at most half its
    lifetime early). ``clock`` (monotonic seconds) and ``transport`` are
    injectable; ``request_count`` counts the HTTP requests made.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        resource: str | None = None,
        scopes: Iterable[str] | str = (),
        token_endpoint: str | None = None,
        issuer: str | None = None,
        organization_id: str | None = None,
        auth_method: str = "client_secret_basic",
        refresh_before: float = 60.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        transport: Transport | None = None,
    ) -> None:
        if not token_endpoint and not issuer:
            raise ValueError("Give token_endpoint or issuer.")
        if auth_method not in ("client_secret_basic", "client_secret_post"):
            raise ValueError('auth_method is "client_secret_basic" or "client_secret_post".')
        self.client_id = client_id
        self._client_secret = client_secret
        self.resource = resource
        self.scopes = tuple(scopes.split()) if isinstance(scopes, str) else tuple(scopes)
        self.issuer = issuer.rstrip("/") if issuer else None
        self._token_endpoint = token_endpoint
        self.organization_id = organization_id
        self.auth_method = auth_method
        self.refresh_before = refresh_before
        self.timeout = timeout
        self._clock = clock
        self._transport = transport or urllib_transport
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self.request_count = 0

    def __repr__(self) -> str:  # never shows the secret
        return f"<TokenSource client_id={self.client_id!r} resource={self.resource!r} scopes={self.scopes!r}>"

    # -- tokens --------------------------------------------------------------

    def cached(self) -> AccessToken | None:
        """The cached token if it is still fresh, without any request."""
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token
        return None

    def get_token(self) -> AccessToken:
        """A fresh access token: the cached one, or one new request shared by every waiting thread."""
        token = self.cached()
        if token is not None:
            return token
        with self._lock:
            token = self.cached()  # another thread may have fetched it while this one waited
            if token is not None:
                return token
            previous = self._token
            try:
                token = self._request_token()
            except TokenEndpointUnavailable:
                if previous is not None and self._clock() < previous.expires_at:
                    return previous  # due for renewal but still valid: keep using it while the endpoint is down
                raise
            self._token = token
            return token

    def token(self) -> str:
        """The access token string."""
        return self.get_token().value

    def authorization(self) -> str:
        """The ``Authorization`` header value: ``Bearer <token>``."""
        return f"Bearer {self.token()}"

    def invalidate(self, value: str | None = None) -> None:
        """Drop the cached token (only if it is still ``value``, when given): the next call fetches anew."""
        with self._lock:
            if value is None or (self._token is not None and self._token.value == value):
                self._token = None

    # -- HTTP ------------------------------------------------------------------

    @property
    def token_endpoint(self) -> str:
        if self._token_endpoint is None:
            self._token_endpoint = self._discover()
        return self._token_endpoint

    def _send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> tuple[int, bytes]:
        self.request_count += 1
        try:
            return self._transport(method, url, headers, body, self.timeout)
        except M2MClientError:
            raise
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise TokenEndpointUnavailable(f"{method} {url} failed: {exc}") from exc

    def _discover(self) -> str:
        url = f"{self.issuer}/.well-known/openid-configuration"
        try:
            status, body = self._send("GET", url, {"Accept": "application/json"}, None)
        except TokenEndpointUnavailable as exc:
            raise DiscoveryError(str(exc)) from exc
        document = _json_object(body)
        if status != 200 or document is None:
            raise DiscoveryError(f"GET {url} answered {status} without a discovery document.")
        if str(document.get("issuer", "")).rstrip("/") != self.issuer:
            raise DiscoveryError(f"{url} names another issuer: {document.get('issuer')!r}.")
        endpoint = document.get("token_endpoint")
        if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https"):
            raise DiscoveryError(f"{url} names no http(s) token_endpoint.")
        return endpoint

    def _request_token(self) -> AccessToken:
        params: dict[str, str] = {"grant_type": "client_credentials"}
        if self.resource:
            params["resource"] = self.resource
        if self.scopes:
            params["scope"] = " ".join(self.scopes)
        if self.organization_id:
            params["organization_id"] = self.organization_id
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if self.auth_method == "client_secret_basic":
            pair = f"{_form_encode_credential(self.client_id)}:{_form_encode_credential(self._client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        else:
            params.update(client_id=self.client_id, client_secret=self._client_secret)
        sent_at = self._clock()
        status, body = self._send("POST", self.token_endpoint, headers, urlencode(params).encode())
        document = _json_object(body)
        if status != 200:
            if document is not None and isinstance(document.get("error"), str):
                description = document.get("error_description")
                raise TokenRequestError(
                    document["error"], description if isinstance(description, str) else None, status
                )
            raise TokenEndpointUnavailable(f"The token endpoint answered {status} without an OAuth error.")
        return self._parse_token(document, sent_at)

    def _parse_token(self, document: dict[str, Any] | None, sent_at: float) -> AccessToken:
        if document is None or not isinstance(document.get("access_token"), str) or not document["access_token"]:
            raise TokenEndpointUnavailable("The token response has no access_token.")
        token_type = document.get("token_type")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise TokenEndpointUnavailable(f"The token type is {token_type!r}, not Bearer.")
        expires_in = document.get("expires_in", DEFAULT_EXPIRES_IN)
        if isinstance(expires_in, str) and expires_in.isdigit():
            expires_in = int(expires_in)
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            raise TokenEndpointUnavailable(f"The token response has an unusable expires_in: {expires_in!r}.")
        scope = document.get("scope")
        # Lifetimes count from when the request was sent, so a slow answer errs on the early side.
        early = min(self.refresh_before, expires_in / 2)
        return AccessToken(
            value=document["access_token"],
            token_type=token_type,
            expires_in=expires_in,
            scope=scope if isinstance(scope, str) else None,
            expires_at=sent_at + expires_in,
            refresh_at=sent_at + expires_in - early,
        )


def _json_object(body: bytes) -> dict[str, Any] | None:
    if len(body) > _MAX_RESPONSE_BYTES:
        return None
    try:
        # Bounded nesting: a hostile endpoint's "[[[[..." must not raise RecursionError in the caller.
        document = safejson.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None
