"""The table of the benchmark, from the JSON the measuring processes wrote (the targets: bench/targets.py)."""

from __future__ import annotations

import math
from typing import Any

# (case, label, floor): the floor each row is compared with.
ROWS = [
    ("bare_post", "bare DRF POST (floor)", None),
    ("token", "this package: POST /oidc/token, activity log on", "bare_post"),
    ("token_nolog", "this package: POST /oidc/token, activity log off", "bare_post"),
    ("token_claims", "this package: POST /oidc/token, custom claims hook on", "bare_post"),
    ("token_uncached", "this package: POST /oidc/token, grant cache off (2 reads per request)", "bare_post"),
    ("dot_token", "DOT TokenView (secret hashed with PBKDF2)", "bare_post"),
    ("bare_get", "bare DRF GET (floor)", None),
    ("m2m_seen", "this package: GET, token seen before", "bare_get"),
    ("m2m_first", "this package: GET, first sight of a token", "bare_get"),
    ("dot_protected", "DOT OAuth2Authentication + TokenHasScope", "bare_get"),
    ("simplejwt", "simplejwt JWTStatelessUserAuthentication", "bare_get"),
    ("bare_refusal", "bare refusal: DRF 401 (floor)", None),
    ("m2m_malformed", "this package: malformed token (401)", "bare_refusal"),
    ("m2m_bad_signature", "this package: bad signature (401)", "bare_refusal"),
    ("pyjwt_sign", "raw PyJWT sign", None),
    ("pyjwt_verify", "raw PyJWT verify", None),
]


def _num(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}x"


def _median(cases: dict[str, Any], name: str) -> float | None:
    case = cases.get(name)
    return None if case is None else float(case["median_us"])


def _div(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def main_table(results: dict[str, Any]) -> list[str]:
    es384 = results["inprocess"]["ES384"]["cases"]
    es256 = (results["inprocess"].get("ES256") or {}).get("cases", {})
    http = (results.get("http") or {}).get("cases", {})
    header = (
        "| case | median µs | p95 µs | x floor | SQL | HTTP req/s | p50 ms | p99 ms | req/s x floor "
        "| ES256 median µs | ES256 x floor |"
    )
    lines = [header, "|" + "---|" * 11]
    for name, label, floor in ROWS:
        case = es384.get(name)
        if case is None:
            continue
        ratio = _div(case["median_us"], _median(es384, floor)) if floor else None
        h = http.get(name, {})
        h_floor = http.get(floor or "", {})
        h_ratio = _div(h.get("rps"), h_floor.get("rps")) if floor else None
        e = es256.get(name)
        e_ratio = _div(e["median_us"], _median(es256, floor)) if (e and floor) else None
        sql = case.get("sql")
        sql_text = "—" if sql is None else (f"{sql} ({'+'.join(case['sql_verbs'])})" if sql else "0")
        lines.append(
            f"| {label} | {_num(case['median_us'])} | {_num(case['p95_us'])} | {_ratio(ratio)} | {sql_text} "
            f"| {_num(h.get('rps'), 1)} | {_num(h.get('p50_ms'), 2)} | {_num(h.get('p99_ms'), 2)} "
            f"| {_ratio(h_ratio)} | {_num(e['median_us']) if e else '—'} | {_ratio(e_ratio)} |"
        )
    for key, variant in (
        ("sqlite_default", "SQLite as shipped (WAL, synchronous=NORMAL)"),
        ("redis", "Redis cache"),
        ("pg_unprepared", "PostgreSQL without prepared statements (PgBouncer < 1.21)"),
    ):
        extra = (results.get(key) or {}).get("cases", {})
        for name, label in (
            ("token", "activity log on"),
            ("token_nolog", "activity log off"),
            ("token_uncached", "grant cache off"),
        ):
            case = extra.get(name)
            if case is None:
                continue
            ratio = _div(case["median_us"], _median(extra, "bare_post"))
            trips = case.get("cache_round_trips")
            how = f"{variant} ({trips} round trip)" if trips is not None else variant
            lines.append(
                f"| this package: POST /oidc/token, {label}, {how} | {_num(case['median_us'])} "
                f"| {_num(case['p95_us'])} | {_ratio(ratio)} | {case.get('sql')} | — | — | — | — | — | — |"
            )
    cluster = results.get("cluster")
    if cluster:
        token = cluster["latency_ms"].get("token", {})
        lines.append(
            f"| reference deployment (`make load-cluster`, {cluster['started']}): HAProxy, 2 gunicorn, PgBouncer; "
            f"all requests / token endpoint | — | — | — | — | {_num(cluster['requests_per_s'], 1)} / "
            f"{_num(cluster.get('token_requests_per_s'), 1)} | {token.get('p50', '—')} | {token.get('p99', '—')} "
            "| — | — | — |"
        )
    return lines


def render(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        f"logto-m2m-django benchmark — {machine['cpu']} x {machine['nproc']} cores, Python {machine['python']}, "
        f"{machine['database']}, {results['inprocess']['ES384']['meta']['cache']} cache; load average at start "
        f"{machine['load_average']}",
        "In-process: Django test client, median and p95 per request (interleaved rounds), SQL per request. "
        f"HTTP: gunicorn {results.get('http', {}).get('meta', {}).get('workers', '—')} sync workers, wrk "
        f"{results.get('http', {}).get('meta', {}).get('wrk_connections', '—')} connections, "
        f"{results.get('http_seconds', '—')} s per endpoint. x floor: median over the floor's median "
        "(req/s over the floor's req/s for HTTP).",
        "",
        *main_table(results),
        "",
        "| target (issues 9 and 16, ES384, same run) | wanted | measured | met |",
        "|---|---|---|---|",
    ]
    for t in results["targets"]:
        met = "n/a" if t["met"] is None else ("met" if t["met"] else "MISSED")
        lines.append(f"| {t['measure']} | {t['target']} | {t['measured']} | {met} |")
    scale = results.get("scale")
    if scale:
        c = scale["counts"]
        lines += [
            "",
            f"Scale database: {c['apps']:,} apps, {c['resources']:,} resources, {c['scopes']:,} scopes, "
            f"{c['roles']:,} roles; the caller holds {c['caller_roles']} roles (seeded in {scale['seed_seconds']} s).",
        ]
    return "\n".join(lines)


README_START, README_END = "<!-- bench:results -->", "<!-- /bench:results -->"


def readme_block(results: dict[str, Any]) -> str:
    """The README's copy of the latest run: machine, command, and the table."""
    m = results["machine"]
    v = m["versions"]
    return "\n".join(
        [
            README_START,
            f"Latest run: {results['started']}, `{results['command']}` ({results['seconds']:.0f} s). Machine: "
            f"{m['nproc']} cores ({m['cpu']}), {m['platform']}, Python {m['python']}, {m['database']}; Django "
            f"{v['Django']}, DRF {v['djangorestframework']}, django-oauth-toolkit {v['django-oauth-toolkit']}, "
            f"PyJWT {v['PyJWT']}, simplejwt {v['djangorestframework-simplejwt']}. Load average when it started: "
            f"{m['load_average']}.",
            "",
            results["table"].split("\n", 2)[2].lstrip("\n"),
            README_END,
        ]
    )


def update_readme(path: Any, results: dict[str, Any]) -> bool:
    text = path.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return False
    path.write_text(text[:start] + readme_block(results) + text[end + len(README_END) :])
    return True
