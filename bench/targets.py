"""The targets of issues 9 and 16, from the JSON the measuring processes wrote (ratios within one run)."""

from __future__ import annotations

from typing import Any

from bench.report import _div, _median, _num, _ratio


def _target(name: str, target: str, measured: str, ok: bool | None) -> dict[str, Any]:
    return {"measure": name, "target": target, "measured": measured, "met": ok}


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    cases = results["inprocess"]["ES384"]["cases"]
    http = (results.get("http") or {}).get("cases", {})
    m = {name: _median(cases, name) for name in cases}
    out: list[dict[str, Any]] = []

    seen = _div(m.get("m2m_seen"), m.get("bare_get"))
    seen_sql = cases.get("m2m_seen", {}).get("sql")
    out.append(
        _target(
            "Protected GET, token seen before (in-process median)",
            "≤ 1.15 x bare GET; 0 SQL",
            f"{_ratio(seen)}; {seen_sql} SQL",
            None if seen is None else (seen <= 1.15 and seen_sql == 0),
        )
    )
    first_extra = None
    if None not in (m.get("m2m_first"), m.get("bare_get"), m.get("pyjwt_verify")):
        first_extra = (m["m2m_first"] - m["bare_get"]) / m["pyjwt_verify"]  # type: ignore[operator]
    out.append(
        _target(
            "Protected GET, first sight",
            "≤ bare GET + 1.2 x raw PyJWT verify",
            f"bare GET + {_ratio(first_extra)} verify; {cases.get('m2m_first', {}).get('sql')} SQL",
            None if first_extra is None else first_extra <= 1.2,
        )
    )
    malformed = _div(m.get("m2m_malformed"), m.get("bare_refusal"))
    out.append(
        _target(
            "Malformed token refused",
            "≤ 1.05 x bare refusal",
            _ratio(malformed),
            None if malformed is None else malformed <= 1.05,
        )
    )
    dot_seen, dot_first = (
        _div(m.get("dot_protected"), m.get("m2m_seen")),
        _div(m.get("dot_protected"), m.get("m2m_first")),
    )
    out.append(
        _target(
            "Protected GET vs DOT (in-process)",
            "seen before ≥ 5 x faster; first sight faster",
            f"{_ratio(dot_seen, 1)} and {_ratio(dot_first, 1)} faster",
            None if dot_seen is None or dot_first is None else (dot_seen >= 5 and dot_first > 1),
        )
    )
    # "seen before >= 4 x faster than simplejwt" is retired (issue 16): it measured simplejwt's cost more
    # than this package's; the seen-before target against the bare GET above is the one that matters.
    sj_first = _div(m.get("m2m_first"), m.get("simplejwt"))
    out.append(
        _target(
            "Protected GET, first sight vs simplejwt stateless",
            "within 1.1 x",
            f"{_ratio(sj_first)} of simplejwt",
            None if sj_first is None else sj_first <= 1.1,
        )
    )
    out += token_targets(results)
    rps = _div(http.get("token", {}).get("rps"), http.get("dot_token", {}).get("rps"))
    rps_nolog = _div(http.get("token_nolog", {}).get("rps"), http.get("dot_token", {}).get("rps"))
    out.append(
        _target(
            "Token endpoint vs DOT's default, over HTTP",
            "≥ 100 x the requests/s",
            f"{_ratio(rps, 0)} with the activity log on (the default), {_ratio(rps_nolog, 0)} with it off",
            None if rps is None else rps >= 100,
        )
    )
    seen_rps = _div(http.get("m2m_seen", {}).get("rps"), http.get("bare_get", {}).get("rps"))
    out.append(
        _target(
            "Protected GET over HTTP, token seen before",
            "≥ 0.8 x bare GET requests/s",
            _ratio(seen_rps),
            None if seen_rps is None else seen_rps >= 0.8,
        )
    )
    out += scale_targets(results)
    out += cluster_targets(results)
    out += scope_targets(cases)
    memory = results.get("memory")
    if memory:
        out.append(
            _target(
                f"Verified-token cache after {memory['tokens_seen']:,} distinct tokens",
                f"bound holds ({memory['bound']:,} entries)",
                f"{memory['entries']:,} entries, {memory['retained_mb']} MB ({memory['bytes_per_entry']:,} B/entry)",
                bool(memory["bound_holds"]),
            )
        )
    redis = (results.get("redis") or {}).get("cases", {})
    if redis.get("token"):
        trips = redis["token"].get("cache_round_trips")
        out.append(
            _target(
                "Token endpoint throttling on Redis",
                "one cache round trip per request",
                f"{trips} round trip(s); median {_num(redis['token']['median_us'])} µs "
                f"({_ratio(_div(redis['token']['median_us'], redis['bare_post']['median_us']))} bare POST) "
                f"vs locmem {_num(m.get('token'))} µs",
                trips == 1,
            )
        )
    return out


def scale_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    scale = results.get("scale")
    if not scale:
        return []
    small, large = scale["small"], scale["large"]
    out = []
    names = [("token", "bare_post"), ("m2m_seen", "bare_get"), ("m2m_first", "bare_get")]
    if "token_uncached" in small and "token_uncached" in large:
        names.insert(1, ("token_uncached", "bare_post"))  # the grant and client reads themselves
    for name, floor in names:
        raw = _div(large[name]["median_us"], small[name]["median_us"])
        normalised = _div(
            _div(large[name]["median_us"], large[floor]["median_us"]),
            _div(small[name]["median_us"], small[floor]["median_us"]),
        )
        same_sql = large[name]["sql"] == small[name]["sql"]
        out.append(
            _target(
                f"Scale: {name}, large vs small database",
                "same SQL count; median ≤ 1.3 x",
                f"SQL {small[name]['sql']} → {large[name]['sql']}; median {_ratio(raw)} ({_ratio(normalised)} "
                "normalised by each phase's floor)",
                None if raw is None else (same_sql and raw <= 1.3),
            )
        )
    return out


def scope_targets(cases: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for prefix, label in (
        ("token_scopes_", "token endpoint"),
        ("m2m_first_scopes_", "protected GET, first sight"),
        ("m2m_seen_scopes_", "protected GET, seen before"),
    ):
        t = [_median(cases, f"{prefix}{k}") for k in (1, 10, 100)]
        if None in t:
            continue
        t1, t10, t100 = (float(v) for v in t)  # type: ignore[arg-type]
        # Linear or better. Growth that is convex (worse than linear) puts the 10-scope cost below the chord
        # from 1 to 100 scopes; allow 5 % for noise. A cost that barely moves (<= 1.1 x over 100 scopes) passes.
        chord = t1 + (t100 - t1) * 9 / 99
        ok = t100 <= 1.1 * t1 or t10 >= chord - 0.05 * t10
        out.append(
            _target(
                f"Scopes 1 / 10 / 100: {label}",
                "cost grows no worse than linearly",
                f"{t1:,.0f} / {t10:,.0f} / {t100:,.0f} µs",
                ok,
            )
        )
    return out


def token_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The token endpoint as shipped (activity log on) on each database, and with the log off on PostgreSQL."""
    cases = results["inprocess"]["ES384"]["cases"]
    database = results["machine"]["database"]
    runs = [(database, cases)]
    sqlite = (results.get("sqlite_default") or {}).get("cases")
    if sqlite:
        runs.append(("SQLite", sqlite))
    out = []
    for db, run in runs:
        for name, label, writes, budget in (
            ("token", "default configuration (activity log on)", 1, 6.0),
            ("token_nolog", "activity log off", 0, 4.0 if db == "PostgreSQL" else 6.0),
            ("token_claims", "custom claims hook on (activity log on)", 1, 6.0),
        ):
            if name not in run or "bare_post" not in run:
                continue
            ratio = _div(run[name]["median_us"], run["bare_post"]["median_us"])
            reads, wrote = run[name].get("sql_reads"), run[name].get("sql_writes")
            sql = f"; {reads} reads + {wrote} writes" if reads is not None else f"; {run[name].get('sql')} SQL"
            # Steady state: the client and its grant come from the grant cache (2 reads when it is cold).
            reads_ok = reads is None or (reads == 0 and (wrote or 0) <= writes)
            out.append(
                _target(
                    f"Token endpoint, {label}, {db} (in-process median)",
                    f"≤ {budget:g} x bare POST; 0 SQL reads{' + 1 INSERT' if writes else ', no write'}",
                    f"{_ratio(ratio)}{sql}",
                    None if ratio is None else (ratio <= budget and reads_ok),
                )
            )
    return out


def cluster_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    cluster = results.get("cluster")
    if not cluster:
        return []
    return [
        _target(
            "Reference deployment under load (`make load-cluster`, its last run)",
            "0 errors; throttle limit, key rotation and activity rows hold across both instances",
            f"{_num(cluster['requests_per_s'], 1)} req/s over {cluster['duration_s']} s; "
            f"{len(cluster.get('problems', []))} problem(s)",
            not cluster.get("problems"),
        )
    ]
