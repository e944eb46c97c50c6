"""In-process measurements through Django's test client: ``python -m bench.inprocess --out FILE``.

One process, the bench settings, every case interleaved round by round; medians and p95 per request,
and the SQL each request sends (counted on one request after the warm-up).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

import jwt  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from bench.measure import Case, count_queries, run_interleaved, summary  # noqa: E402
from logto_m2m_django import tokens  # noqa: E402
from logto_m2m_django.conf import m2m_settings  # noqa: E402
from logto_m2m_django.keys import key_store  # noqa: E402

FORM = "application/x-www-form-urlencoded"
MALFORMED = "bm90LWEtand0.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"  # three segments; the header is not JSON


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


class Bench:
    """The fixture, a test client and the tokens the cases send."""

    def __init__(self) -> None:
        self.fixture: dict[str, Any] = json.loads((Path(os.environ["BENCH_WORKDIR"]) / "fixture.json").read_text())
        self.client = Client()
        self.basic = basic(self.fixture["client_id"], self.fixture["secret"])
        self.dot_basic = basic(self.fixture["dot_client_id"], self.fixture["dot_secret"])
        self.token_body = self.token_request(self.fixture["audience"], ["read:products"])
        self.dot_body = urlencode({"grant_type": "client_credentials", "scope": "read"})
        self.seen = self.issue(self.token_body)

    def token_request(self, resource: str, scopes: list[str]) -> str:
        return urlencode({"grant_type": "client_credentials", "resource": resource, "scope": " ".join(scopes)})

    def issue(self, body: str) -> str:
        response = self.client.post("/oidc/token", body, content_type=FORM, HTTP_AUTHORIZATION=self.basic)
        assert response.status_code == 200, response.content
        return str(response.json()["access_token"])

    def mint(self, count: int, audience: str, scopes: list[str]) -> list[str]:
        """Fresh tokens, as the endpoint signs them (same claims, same key), for first-sight cases."""
        material = key_store.signing_material()
        issuer = str(m2m_settings.ISSUER)
        out = []
        for _ in range(count):
            claims = tokens.build_claims(
                issuer=issuer,
                client_id=self.fixture["client_id"],
                audience=audience,
                scopes=scopes,
                lifetime=3600,
                now=int(time.time()),
            )
            out.append(tokens.sign(claims, material))
        return out

    def bad_signature(self) -> str:
        other = self.mint(1, self.fixture["audience"], ["read:products"])[0]
        head, payload, _sig = self.seen.split(".")
        return f"{head}.{payload}.{other.split('.')[2]}"

    # -- requests ---------------------------------------------------------------------------

    def post(self, path: str, body: str, authorization: str) -> Callable[[], int]:
        client = self.client

        def run() -> int:
            return int(client.post(path, body, content_type=FORM, HTTP_AUTHORIZATION=authorization).status_code)

        return run

    def get(self, path: str, bearer: str | None = None) -> Callable[[], int]:
        client = self.client
        if bearer is None:
            return lambda: int(client.get(path).status_code)
        header = f"Bearer {bearer}"
        return lambda: int(client.get(path, HTTP_AUTHORIZATION=header).status_code)

    def get_each(self, path: str, fresh: Iterator[str]) -> Callable[[], int]:
        """A GET with a token never sent before on every call."""
        client = self.client
        headers = (f"Bearer {t}" for t in fresh)

        def run() -> int:
            return int(client.get(path, HTTP_AUTHORIZATION=next(headers)).status_code)

        return run


def setting_toggle(name: str, value: Any) -> tuple[Callable[[], None], Callable[[], None]] | None:
    """Hooks setting ``LOGTO_M2M[name]`` for one batch, without a settings reload (which would drop the key
    and oauthlib caches and so put their rebuild inside the timed requests); None for an unknown setting."""
    if name not in m2m_settings._values():
        return None
    values = m2m_settings._values()
    before = values[name]

    def enter() -> None:
        m2m_settings._values()[name] = value

    def leave() -> None:
        values[name] = before

    return enter, leave


def activity_log_toggle(on: bool) -> tuple[Callable[[], None], Callable[[], None]] | None:
    """Hooks switching the token activity log for one batch."""
    return setting_toggle("TOKEN_ACTIVITY_LOG", on)


def uncached_token_case(bench: Bench, per_round: int) -> Case | None:
    """The token endpoint with the grant cache off: the client and grant read on every request (the cold
    path, and the one whose cost must not grow with the database)."""
    toggle = setting_toggle("GRANT_CACHE_SECONDS", 0)
    if toggle is None:
        return None
    case = Case("token_uncached", bench.post("/oidc/token", bench.token_body, bench.basic), per_round=per_round)
    case.enter, case.leave = toggle
    return case


def custom_claims_case(bench: Bench, per_round: int) -> Case:
    """The token endpoint with LOGTO_M2M["CUSTOM_CLAIMS"] set (activity log as configured): the hook's
    context comes with the client query, so the SQL is the same as without it."""
    case = Case("token_claims", bench.post("/oidc/token", bench.token_body, bench.basic), per_round=per_round)
    values = m2m_settings._values()
    before = values.get("CUSTOM_CLAIMS")

    def enter() -> None:
        m2m_settings._values()["CUSTOM_CLAIMS"] = "bench.claims.tenant_claims"

    def leave() -> None:
        values["CUSTOM_CLAIMS"] = before

    case.enter, case.leave = enter, leave
    return case


def raw_pyjwt_cases(bench: Bench, per_round: int) -> list[Case]:
    """PyJWT alone, with parsed key objects: the floor of signing and of verifying one token."""
    material = key_store.signing_material()
    public = material.private_key.public_key()
    claims = jwt.decode(bench.seen, options={"verify_signature": False})
    headers = {"typ": tokens.ACCESS_TOKEN_TYPE, "kid": material.kid}
    token = bench.seen
    alg = material.algorithm
    audience, issuer = bench.fixture["audience"], str(m2m_settings.ISSUER)

    def sign() -> int:
        jwt.encode(claims, material.private_key, algorithm=alg, headers=headers)
        return 0

    def verify() -> int:
        jwt.decode(token, public, algorithms=[alg], audience=audience, issuer=issuer, leeway=30)
        return 0

    return [
        Case("pyjwt_sign", sign, expect=0, per_round=per_round),
        Case("pyjwt_verify", verify, expect=0, per_round=per_round),
    ]


def build_cases(bench: Bench, per_round: int, rounds: int, *, scopes: bool, token_only: bool) -> list[Case]:
    fixture = bench.fixture
    n_fresh = per_round * (rounds + 1) + 30
    cases = [
        Case("bare_post", bench.post("/bare", bench.token_body, bench.basic), per_round=per_round),
        Case("token", bench.post("/oidc/token", bench.token_body, bench.basic), per_round=per_round),
    ]
    toggle = activity_log_toggle(False)
    if toggle is not None:
        off = Case("token_nolog", bench.post("/oidc/token", bench.token_body, bench.basic), per_round=per_round)
        off.enter, off.leave = toggle
        cases.append(off)
    cases.append(custom_claims_case(bench, per_round))
    uncached = uncached_token_case(bench, per_round)
    if uncached is not None:
        cases.append(uncached)
    if token_only:
        return cases
    cases.append(Case("dot_token", bench.post("/dot/token", bench.dot_body, bench.dot_basic), per_round=1))
    fresh = iter(bench.mint(n_fresh, fixture["audience"], ["read:products"]))
    cases += [
        Case("bare_get", bench.get("/bare"), per_round=per_round),
        Case("bare_refusal", bench.get("/bare/refuse", MALFORMED), expect=401, per_round=per_round),
        Case("m2m_seen", bench.get("/m2m/products", bench.seen), per_round=per_round),
        Case("m2m_first", bench.get_each("/m2m/products", fresh), per_round=per_round),
        Case("m2m_bad_signature", bench.get("/m2m/products", bench.bad_signature()), expect=401, per_round=per_round),
        Case("m2m_malformed", bench.get("/m2m/products", MALFORMED), expect=401, per_round=per_round),
        Case("dot_protected", bench.get("/dot/products", fixture["dot_access_token"]), per_round=per_round),
        Case("simplejwt", bench.get("/sjwt/products", bench.seen), per_round=per_round),
        *raw_pyjwt_cases(bench, per_round),
    ]
    if scopes:
        scoped = fixture["scoped_audience"]
        for k in (1, 10, 100):
            names = [f"s{i}" for i in range(k)]
            body = bench.token_request(scoped, names)
            seen = bench.issue(body)
            cases += [
                Case(f"token_scopes_{k}", bench.post("/oidc/token", body, bench.basic), per_round=per_round),
                Case(
                    f"m2m_first_scopes_{k}",
                    bench.get_each("/m2m/scoped", iter(bench.mint(n_fresh, scoped, names))),
                    per_round=per_round,
                ),
                Case(f"m2m_seen_scopes_{k}", bench.get("/m2m/scoped", seen), per_round=per_round),
            ]
    return cases


def redis_round_trips(action: Callable[[], Any]) -> int | None:
    """Round trips to Redis during ``action`` (a pipeline is one), or None when the cache is not Redis."""
    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        return None
    from redis.connection import AbstractConnection

    original = AbstractConnection.send_packed_command
    calls = 0

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(self, *args, **kwargs)

    AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        action()
    finally:
        AbstractConnection.send_packed_command = original  # type: ignore[method-assign]
    return calls


def measure(bench: Bench, cases: list[Case], rounds: int) -> dict[str, Any]:
    counted: dict[str, dict[str, Any]] = {}
    for case in cases:
        if not case.expect:  # not an HTTP request
            continue
        # SQL and cache round trips of one request, right after a few others (so that the "last used"
        # stamp, written at most once a minute, has been written and isn't counted).
        if case.enter is not None:
            case.enter()
        try:
            for _ in range(3):
                case.run()
            counted[case.name] = count_queries(case.run)
            trips = redis_round_trips(case.run)
            if trips is not None:
                counted[case.name]["cache_round_trips"] = trips
        finally:
            if case.leave is not None:
                case.leave()
    run_interleaved(cases, rounds)
    return {case.name: {**summary(case.samples), **counted.get(case.name, {})} for case in cases}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--per-round", type=int, default=25)
    parser.add_argument("--scopes", action="store_true", help="add tokens with 1, 10 and 100 scopes")
    parser.add_argument("--token-only", action="store_true", help="only the token endpoint and its floor")
    args = parser.parse_args()
    bench = Bench()
    cases = build_cases(bench, args.per_round, args.rounds, scopes=args.scopes, token_only=args.token_only)
    started = time.monotonic()
    results = measure(bench, cases, args.rounds)
    meta = {
        "algorithm": key_store.signing_material().algorithm,
        "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "dot_hasher": bench.fixture["dot_hasher"],
        "seconds": round(time.monotonic() - started, 1),
    }
    Path(args.out).write_text(json.dumps({"meta": meta, "cases": results}, indent=2))


if __name__ == "__main__":
    main()
