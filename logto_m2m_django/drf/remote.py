"""Remote mode: verification keys from the issuer's JWKS, fetched over HTTP.

A resource server that runs elsewhere (another Django project, another host)
knows only the issuer URL, e.g. ``https://auth.example.com/oidc`` or
``https://<tenant>.logto.app/oidc``. :class:`RemoteKeySource` finds the JWKS
through ``{issuer}/.well-known/openid-configuration`` (or takes
``LOGTO_M2M["JWKS_URL"]``), parses the keys once and keeps them in memory:

- a token signed by a known key costs no HTTP call;
- the key set is fetched again after ``JWKS_CACHE_SECONDS``; the request that
  notices it fetches, the others meanwhile keep using the keys they have;
- a token naming an unknown ``kid`` triggers one fetch (one per process however
  many threads ask, at most one per ``UNKNOWN_KID_REFRESH_COOLDOWN``), so a new
  signing key is accepted as soon as the issuer publishes it;
- a key the issuer removed stops validating once the set has been fetched again;
- when the endpoint is down or slow (``JWKS_TIMEOUT``), every key already known
  keeps working for at most ``JWKS_MAX_STALE_SECONDS`` after it was due for a
  refresh (then every token, cached ones included, gets a 401 until a fetch
  succeeds: a key the issuer dropped is not trusted forever), a token with an
  unknown ``kid`` gets a 401 at once, and the endpoint is tried again at most
  once per cooldown;
- a redirect from https to plain http (discovery or JWKS) is refused, so that a
  network attacker can't serve the keys.

This module imports no models: a resource server needs neither this app's
tables nor ``logto_m2m_django`` in ``INSTALLED_APPS``.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from logto_m2m_client._internal import redirects, safejson

from .. import tokens
from ..conf import m2m_settings

logger = logging.getLogger(__name__)

#: Largest discovery document or JWKS accepted, in bytes.
MAX_DOCUMENT_BYTES = 256 * 1024
#: Keys beyond this number in one JWKS are ignored.
MAX_KEYS = 64
DISCOVERY_PATH = "/.well-known/openid-configuration"

_ASYMMETRIC = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"})
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_KEY_TYPES = {"ES": "EC", "RS": "RSA", "PS": "RSA", "Ed": "OKP"}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")

#: ``fetch(url, timeout) -> body``; raises :class:`FetchError` on any failure.
Fetch = Callable[[str, float], bytes]


class FetchError(Exception):
    """The discovery document or the JWKS could not be fetched or is not usable."""


class KeySetUnavailableError(tokens.UnknownKeyError):
    """A token names a key this process does not know, and the issuer's JWKS can't be fetched now."""


# Redirects to non-http(s) URLs and from https down to plain http are refused: a downgrade would let
# anyone on the path serve the keys (RFC 8414 §3 and OpenID Connect Discovery §4 require TLS).
_opener = redirects.build_opener()


def fetch_url(url: str, timeout: float) -> bytes:
    """GET ``url`` with the standard library: ``timeout`` bounds connecting and each read, and
    the whole download may not last more than twice ``timeout``; bodies over
    :data:`MAX_DOCUMENT_BYTES` are refused."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"{url!r} is not an http(s) URL.")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, headers={"Accept": "application/json", "User-Agent": "logto-m2m-django"}
    )
    deadline = time.monotonic() + 2 * timeout
    try:
        with _opener.open(request, timeout=timeout) as response:
            chunks: list[bytes] = []
            size = 0
            while True:
                chunk = response.read(16_384)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_DOCUMENT_BYTES:
                    raise FetchError(f"{url} answered with more than {MAX_DOCUMENT_BYTES} bytes.")
                if time.monotonic() > deadline:
                    raise FetchError(f"{url} took longer than {2 * timeout:g} s to answer.")
                chunks.append(chunk)
    except FetchError:
        raise
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # URLError and HTTPError (4xx/5xx) are OSErrors, as are timeouts and refused connections.
        raise FetchError(f"GET {url} failed: {exc}") from exc
    return b"".join(chunks)


def _json_object(body: bytes, url: str) -> dict[str, Any]:
    try:
        document = safejson.loads(body)  # nesting bounded: never a RecursionError
    except (ValueError, UnicodeDecodeError) as exc:
        raise FetchError(f"{url} did not answer with JSON.") from exc
    if not isinstance(document, dict):
        raise FetchError(f"{url} did not answer with a JSON object.")
    return document


def _algorithm_of(jwk: Mapping[str, Any]) -> str | None:
    """The JWK's ``alg``, or the one its key type implies (RSA without ``alg``: RS256)."""
    alg = jwk.get("alg")
    if isinstance(alg, str):
        return alg
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "EC":
        return {curve: name for name, curve in _EC_CURVES.items()}.get(crv) if isinstance(crv, str) else None
    if kty == "OKP" and crv in ("Ed25519", "Ed448"):
        return "EdDSA"
    if kty == "RSA":
        return "RS256"
    return None


def verification_key(jwk: Mapping[str, Any]) -> tokens.VerificationKey | None:
    """The verification key of one JWK (RFC 7517), or None for a key this package can't or mustn't use."""
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        return None
    if jwk.get("use") not in (None, "sig"):
        return None
    if any(member in jwk for member in _PRIVATE_MEMBERS):
        logger.warning("The JWKS publishes private key material for kid %r; the key is ignored.", kid)
        return None
    alg = _algorithm_of(jwk)
    if alg not in _ASYMMETRIC or jwk.get("kty") != _KEY_TYPES[alg[:2]]:
        return None
    if alg in _EC_CURVES and jwk.get("crv") != _EC_CURVES[alg]:
        return None
    try:
        key = tokens.key_from_jwk(jwk, alg)
    except Exception:  # PyJWT raises InvalidKeyError, ValueError, TypeError... for malformed members
        logger.warning("The JWKS key %r can't be parsed; it is ignored.", kid)
        return None
    return tokens.VerificationKey(kid, alg, key)


def parse_jwks(document: Mapping[str, Any]) -> dict[str, tokens.VerificationKey]:
    """The usable keys of a JWK Set, by ``kid``. Unusable entries are skipped."""
    return _parse_jwks(document)[0]


def _parse_jwks(document: Mapping[str, Any]) -> tuple[dict[str, tokens.VerificationKey], frozenset[str]]:
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise FetchError('The JWKS has no "keys" list.')
    keys: dict[str, tokens.VerificationKey] = {}
    fingerprint: set[str] = set()
    for entry in entries[:MAX_KEYS]:
        if isinstance(entry, dict):
            key = verification_key(entry)
            if key is not None and key.kid not in keys:
                keys[key.kid] = key
                fingerprint.add(json.dumps(entry, sort_keys=True))
    if not keys:
        raise FetchError("The JWKS holds no usable signing key.")
    return keys, frozenset(fingerprint)


class RemoteKeySource:
    """A key source (see :class:`~logto_m2m_django.drf.validation.KeySource`) backed by a remote JWKS.

    Arguments default to the ``LOGTO_M2M`` settings: ``ISSUER``, ``JWKS_URL``,
    ``JWKS_CACHE_SECONDS``, ``JWKS_TIMEOUT``, ``UNKNOWN_KID_REFRESH_COOLDOWN`` and
    ``JWKS_MAX_STALE_SECONDS`` (``max_stale``).
    ``fetch`` and ``clock`` (monotonic seconds) are injectable for tests.
    """

    def __init__(
        self,
        *,
        issuer: str | None = None,
        jwks_url: str | None = None,
        cache_seconds: float | None = None,
        timeout: float | None = None,
        cooldown: float | None = None,
        max_stale: float | None = None,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = (issuer or m2m_settings.ISSUER or "").rstrip("/") or None
        self.jwks_url = jwks_url or m2m_settings.JWKS_URL
        if not self.issuer and not self.jwks_url:
            raise ValueError('Remote mode needs LOGTO_M2M["ISSUER"] (or "JWKS_URL"); see system check logto_m2m.E101.')
        self.cache_seconds = m2m_settings.JWKS_CACHE_SECONDS if cache_seconds is None else cache_seconds
        self.timeout = m2m_settings.JWKS_TIMEOUT if timeout is None else timeout
        self.cooldown = m2m_settings.UNKNOWN_KID_REFRESH_COOLDOWN if cooldown is None else cooldown
        self.max_stale = m2m_settings.JWKS_MAX_STALE_SECONDS if max_stale is None else max_stale
        self._fetch = fetch or fetch_url
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, tokens.VerificationKey] = {}
        self._fingerprint: frozenset[str] = frozenset()
        self._loaded = False
        self._discovered_jwks_url: str | None = None
        self._refresh_at = -math.inf  # when the key set is due to be fetched again
        self._trusted_until = -math.inf  # the keys in hand are not used after this, unless fetched again
        self._unknown_kid_refresh_at = -math.inf  # earliest next fetch caused by an unknown kid
        self._generation = 0  # counts finished fetch attempts, so that waiting threads don't fetch again
        self._version = 0
        #: HTTP requests made (discovery and JWKS): for monitoring and tests.
        self.fetch_count = 0
        #: Why the last attempt failed, or None after a success.
        self.last_error: str | None = None

    # -- KeySource -----------------------------------------------------------

    @property
    def version(self) -> int:
        """Changes whenever the key set changes, which empties the verified-token cache.

        Once the keys are stale beyond ``max_stale`` it reads differently too, so that tokens
        verified earlier go through :meth:`find` again and are refused with the keys.
        """
        if self._clock() >= self._trusted_until:
            return -1 - self._version
        return self._version

    def find(self, kid: str) -> tokens.VerificationKey | None:
        generation = self._generation
        if self._clock() >= self._refresh_at:
            # Due for a refresh. With keys in hand only one thread fetches and the others go on with
            # those keys; before the first key set, or once they are too stale, every thread waits.
            self._refresh(generation, wait=not self._loaded or self._clock() >= self._trusted_until)
        if self._loaded and self._clock() >= self._trusted_until:
            raise KeySetUnavailableError(
                "The issuer's key set could not be refreshed for too long; its last keys are no longer trusted."
            )
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._generation == generation and self._clock() >= self._unknown_kid_refresh_at:
            # A kid we don't know (e.g. the issuer rotated its key): fetch once, then not again
            # for a cooldown, so that made-up kids can't turn every request into a fetch.
            self._unknown_kid_refresh_at = self._clock() + self.cooldown
            self._refresh(generation, wait=True)
            key = self._keys.get(kid)
            if key is not None:
                return key
        if not self._loaded or self.last_error is not None:
            raise KeySetUnavailableError(
                "The token was signed by an unknown key, and the issuer's key set can't be fetched now."
            )
        return None

    # -- fetching ------------------------------------------------------------

    def _refresh(self, generation: int, *, wait: bool) -> None:
        acquired = self._lock.acquire(timeout=4 * self.timeout + 1) if wait else self._lock.acquire(blocking=False)
        if not acquired:
            return
        try:
            if self._generation != generation:
                return  # another thread fetched while this one waited: single flight
            try:
                self._fetch_keys()
            finally:
                self._generation += 1
        finally:
            self._lock.release()

    def _fetch_keys(self) -> None:
        try:
            keys, fingerprint = _parse_jwks(self._get_json(self._jwks_endpoint()))
        except Exception as exc:  # FetchError, or anything a custom fetch raises: never a 500 per request
            # Keep every key we have; try again after the cooldown, not on every request.
            self.last_error = str(exc) or type(exc).__name__
            self._discovered_jwks_url = None
            retry_at = self._clock() + max(self.cooldown, 1.0)
            self._refresh_at = retry_at
            self._unknown_kid_refresh_at = max(self._unknown_kid_refresh_at, retry_at)
            logger.warning("JWKS refresh failed, keeping %d known key(s): %s", len(self._keys), exc)
            return
        if fingerprint != self._fingerprint:
            self._keys, self._fingerprint = keys, fingerprint
            self._version += 1
            logger.info("JWKS loaded: %s", ", ".join(sorted(keys)))
        self._loaded = True
        self.last_error = None
        self._refresh_at = self._clock() + self.cache_seconds
        self._trusted_until = self._refresh_at + self.max_stale

    def _get_json(self, url: str) -> dict[str, Any]:
        self.fetch_count += 1
        return _json_object(self._fetch(url, self.timeout), url)

    def _jwks_endpoint(self) -> str:
        if self.jwks_url:
            return self.jwks_url
        if self._discovered_jwks_url:
            return self._discovered_jwks_url
        issuer = self.issuer or ""
        metadata = self._get_json(issuer + DISCOVERY_PATH)
        # OpenID Connect Discovery 1.0 §4.3: the document's issuer must be the one we asked.
        if str(metadata.get("issuer", "")).rstrip("/") != issuer:
            raise FetchError(f"The discovery document names another issuer: {metadata.get('issuer')!r}.")
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str) or urlsplit(jwks_uri).scheme not in ("http", "https"):
            raise FetchError("The discovery document has no http(s) jwks_uri.")
        if urlsplit(issuer).scheme == "https" and urlsplit(jwks_uri).scheme != "https":
            raise FetchError(f"The https issuer publishes a plain-http jwks_uri: {jwks_uri}.")
        self._discovered_jwks_url = jwks_uri
        return jwks_uri

    def __repr__(self) -> str:
        where = self.jwks_url or f"{self.issuer}{DISCOVERY_PATH}"
        return f"<RemoteKeySource {where} keys={sorted(self._keys)!r}>"
