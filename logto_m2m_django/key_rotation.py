"""The key rotation service shared by ``m2m rotate-keys``, the admin and the Management API.

:func:`rotate_signing_key` resolves the defaults (``SIGNING_ALGORITHM``, ``KEY_ROTATION_GRACE_PERIOD``)
and asks the key store for an immediate rotation, or (grace period > 0) a staged Next key that the key
store promotes by itself once its ``effective_at`` has passed. :func:`listed_keys` orders the keys
as Logto lists them: Current first, then Next, then Previous.
"""

from __future__ import annotations

import math
import re

from .conf import m2m_settings
from .keys import JWKS_MAX_AGE, KeyStoreError, key_store
from .models import KeyStatus, SigningKey

#: The longest grace period accepted (30 days): a key staged further ahead is a typo.
MAX_GRACE_PERIOD = 30 * 24 * 3600
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"\A\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*\Z", re.IGNORECASE)
_ORDER: dict[str, int] = {KeyStatus.CURRENT: 0, KeyStatus.NEXT: 1, KeyStatus.PREVIOUS: 2}


class InvalidGracePeriodError(KeyStoreError):
    code = "guard.invalid_input"
    status = 400


def parse_duration(text: str) -> float:
    """``"90"``, ``"90s"``, ``"30m"``, ``"4h"``, ``"2d"`` as seconds."""
    match = _DURATION.match(text or "")
    if match is None:
        raise InvalidGracePeriodError(
            f"Invalid duration {text!r}: a number of seconds, or a number followed by s, m, h or d (e.g. 4h)."
        )
    return check_grace_period(float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()])


def check_grace_period(seconds: float) -> float:
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_GRACE_PERIOD:
        raise InvalidGracePeriodError(
            f"The grace period must be between 0 and {MAX_GRACE_PERIOD} seconds (30 days), not {seconds:g}."
        )
    return seconds


def jwks_cache_lifetime() -> float:
    """How long a remote validator may keep a JWKS: the longer of ``JWKS_CACHE_SECONDS`` (this package's
    remote mode) and the JWKS document's ``Cache-Control: max-age`` (any other validator)."""
    return max(m2m_settings.JWKS_CACHE_SECONDS, float(JWKS_MAX_AGE))


def short_grace_period(seconds: float) -> str | None:
    """Why a grace period is too short for remote validators to learn the new key first, or None."""
    lifetime = jwks_cache_lifetime()
    if 0 < seconds < lifetime:
        return (
            f"A grace period of {seconds:g} s is shorter than the {lifetime:g} s a remote validator may keep the "
            "JWKS: tokens signed by the new key may be refused (unknown kid) until their caches refresh."
        )
    return None


def rotate_signing_key(
    algorithm: str | None = None, *, grace_period: float | None = None, staged: bool = False
) -> SigningKey:
    """Rotate now (grace period 0), or stage a Next key that signs once the grace period has passed.

    ``grace_period`` None means ``KEY_ROTATION_GRACE_PERIOD``; ``staged`` stages a Next key with no
    date (promoted by the next immediate rotation).
    """
    grace = m2m_settings.KEY_ROTATION_GRACE_PERIOD if grace_period is None else grace_period
    grace = check_grace_period(grace)
    key_store.ensure_current_key()
    if staged:
        return key_store.rotate(algorithm, staged=True)
    return key_store.rotate(algorithm, grace_period=grace or None)


def listed_keys() -> list[SigningKey]:
    """Current first, then Next, then Previous (newest first within a status)."""
    rows = sorted(SigningKey.objects.order_by("-created_at", "-pk"), key=lambda row: _ORDER.get(row.status, 3))
    return list(rows)
