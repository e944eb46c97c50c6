"""The verified-token cache's memory after 100,000 distinct tokens: ``python -m bench.memory --out FILE``.

The tokens are real JWT strings of the endpoint's shape and size (header, claims, a 96-byte ES384
signature) with distinct ``jti``s; the signature check is stubbed (``tokens.verify_parsed`` decodes the claims
without checking them) because 100,000 ES384 verifications would take minutes and the cache's memory does
not depend on them. Measured with tracemalloc: once 100,000 tokens went through, 10,000 more (the bound) are
traced while they replace every earlier entry, so that what the full cache retains (token strings, principals,
claims, and the dict's table) is what is counted.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any
from unittest import mock

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from logto_m2m_django import tokens  # noqa: E402
from logto_m2m_django.conf import m2m_settings  # noqa: E402
from logto_m2m_django.drf.validation import get_validator  # noqa: E402

TOKENS = 100_000
AUDIENCE = "https://shopping.api"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def fake_token(i: int, now: int) -> str:
    header = {"alg": "ES384", "typ": "at+jwt", "kid": "bench-kid-0123456789abcdefghijklmnopqrstuvwxyz"}
    claims = {
        "jti": f"{i:022d}",
        "sub": "7d8iw2hsgcp948zc2uyox",
        "iat": now,
        "exp": now + 3600,
        "client_id": "7d8iw2hsgcp948zc2uyox",
        "iss": str(m2m_settings.ISSUER),
        "aud": AUDIENCE,
        "scope": "read:products",
    }
    return ".".join((_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(os.urandom(96))))


def claims_without_signature_check(parsed: tokens.ParsedToken, *args: Any, **kwargs: Any) -> dict[str, Any]:
    payload = parsed[2]
    return dict(json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--tokens", type=int, default=TOKENS)
    args = parser.parse_args()
    validator = get_validator()
    validator.clear()
    now = int(time.time())
    bound = m2m_settings.VERIFIED_TOKEN_CACHE_SIZE
    largest = 0
    with mock.patch.object(tokens, "verify_parsed", claims_without_signature_check):
        for i in range(args.tokens):
            validator.validate(fake_token(i, now), AUDIENCE)
            if i % 1000 == 0:
                largest = max(largest, len(validator))
        # What the full cache retains, traced: "bound" more distinct tokens push out every earlier entry,
        # so that at the end each entry (token string, principal, claims) was allocated under tracemalloc.
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(args.tokens, args.tokens + bound):
            validator.validate(fake_token(i, now), AUDIENCE)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    entries = len(validator)
    largest = max(largest, entries)
    # The dict's own table was allocated before tracing started: add its size.
    retained = after - before + sys.getsizeof(getattr(validator, "_cache", {}))
    result = {
        "tokens_seen": args.tokens + bound,
        "bound": bound,
        "entries": entries,
        "largest_seen": largest,
        "bound_holds": largest <= bound,
        "retained_mb": round(retained / 1e6, 2),
        "bytes_per_entry": round(retained / max(1, entries)),
        "token_length": len(fake_token(0, now)),
    }
    validator.clear()
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
