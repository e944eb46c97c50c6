"""``make load-cluster``: the reference deployment (:mod:`bench.cluster`) under load, and what must hold.

For ``--duration`` seconds, ``--concurrency`` client threads from 127.0.0.1 send token requests and
protected ``GET /products`` calls through HAProxy. In the middle, ``manage.py m2m rotate-keys`` runs in
another process. Then a throttle probe from another machine (source address 127.0.0.2) sends wrong
secrets through the proxy. The run passes when:

- no response is a 5xx and no request fails in transport (0 errors), and no server logs a traceback;
- both instances answered (``X-Served-By``);
- the rotation reaches both instances: each signs with the new key and publishes it, within
  ``KEY_CHANGE_CHECK_SECONDS`` plus a margin, while tokens of the old key keep working;
- a revocation reaches both instances on the next request: an app both have served twice (so its client
  and grant are in their grant caches) is disabled by ``manage.py shell`` in another process, and the very
  next token request to each instance is refused (400 ``unauthorized_client``);
- the failed-authentication limit holds across both instances: of ``2 x limit`` wrong-secret requests
  from 127.0.0.2, exactly ``limit`` are answered 401 and the rest 429, both instances answering;
- the activity log has one row per token request answered (429s are not recorded), by status.

It writes ``bench/results/load-cluster-<time>.json`` / ``.md`` and ``load-cluster-latest.*``.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from bench.cluster import ReferenceCluster, reference_cluster

RESULTS = Path(__file__).resolve().parent / "results"
RESOURCE = "https://shopping.api"
FAILED_LIMIT = 30
# Far above what the load sends for a client or an address; the failed-authentication limit is the one
# the probe reaches (per hour, so that a minute boundary can't split the probe's window).
RATES = {"client": "10000000/minute", "ip": "10000000/minute", "failed": f"{FAILED_LIMIT}/hour"}
NOT_RECORDED = {405, 429}
ROTATION_DEADLINE = 30.0


class SourceAddressAdapter(HTTPAdapter):
    """Connections from a given loopback address: another machine, as far as the proxy can tell."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    session = requests.Session()
    adapter = SourceAddressAdapter(address)
    session.mount("http://", adapter)
    return session


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.errors: Counter[str] = Counter()
        self.latencies: dict[str, list[float]] = {}
        self.served_by: Counter[str] = Counter()
        self.server_errors: list[str] = []

    def add(self, kind: str, response: requests.Response, seconds: float) -> None:
        with self.lock:
            self.statuses[(kind, response.status_code)] += 1
            self.latencies.setdefault(kind, []).append(seconds)
            self.served_by[response.headers.get("X-Served-By", "?").split("/")[0]] += 1
            if response.status_code >= 500 and len(self.server_errors) < 20:
                self.server_errors.append(f"{kind} {response.status_code}: {response.text[:300]}")

    def error(self, kind: str, exc: Exception) -> None:
        with self.lock:
            self.errors[f"{kind}: {type(exc).__name__}"] += 1


def _kid(token: str) -> str:
    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def _token(session: requests.Session, url: str, demo: dict[str, Any]) -> requests.Response:
    data = {"grant_type": "client_credentials", "resource": RESOURCE, "scope": "read:products"}
    return session.post(f"{url}/oidc/token", data=data, auth=(demo["client_id"], demo["client_secret"]), timeout=30)


def client_loop(cluster: ReferenceCluster, tally: Tally, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    session = session_from("127.0.0.1")
    token: str | None = None
    while time.monotonic() < deadline:
        fetch = token is None or rng.random() < 0.3
        kind = "token" if fetch else "products"
        started = time.perf_counter()
        try:
            if fetch:
                response = _token(session, cluster.proxy_url, cluster.demo)
            else:
                headers = {"Authorization": f"Bearer {token}"}
                response = session.get(f"{cluster.proxy_url}/products", headers=headers, timeout=30)
        except requests.RequestException as exc:
            tally.error(kind, exc)
            continue
        tally.add(kind, response, time.perf_counter() - started)
        if fetch and response.status_code == 200 and (token is None or rng.random() < 0.1):
            token = response.json()["access_token"]


def rotate_and_watch(cluster: ReferenceCluster, tally: Tally, result: dict[str, Any]) -> None:
    """Rotate with the CLI, then poll each instance directly until it signs with and publishes the new key."""
    session = requests.Session()
    first = _token(session, cluster.proxy_url, cluster.demo)
    tally.add("token", first, 0.0)
    before = _kid(first.json()["access_token"])
    started = time.monotonic()
    result["cli_output"] = cluster.manage("m2m", "rotate-keys").strip().splitlines()[-1:]
    result["cli_seconds"] = round(time.monotonic() - started, 2)
    started = time.monotonic()  # from the moment the CLI's change is committed
    seen: dict[str, float] = {}
    new_kid = None
    while time.monotonic() - started < ROTATION_DEADLINE and len(seen) < len(cluster.instance_urls):
        for url in cluster.instance_urls:
            if url in seen:
                continue
            response = _token(session, url, cluster.demo)
            tally.add("token", response, 0.0)
            if response.status_code != 200:
                continue
            kid = _kid(response.json()["access_token"])
            published = {k["kid"] for k in session.get(f"{url}/oidc/jwks", timeout=10).json()["keys"]}
            if kid != before and before in published and kid in published:
                new_kid = new_kid or kid
                seen[url] = round(time.monotonic() - started, 2)
        time.sleep(0.2)  # polling, bounded by ROTATION_DEADLINE
    result.update(
        {
            "old_kid": before,
            "new_kid": new_kid,
            "reached_after_s": seen,
            "reached_all": len(seen) == len(cluster.instance_urls),
        }
    )


def revoke_and_check(cluster: ReferenceCluster, tally: Tally, result: dict[str, Any]) -> None:
    """Disable, from another process, an app both instances hold in their grant caches; ask each once."""
    session = requests.Session()
    created = cluster.manage(
        "shell",
        "-c",
        "from logto_m2m_django.models import Role; from logto_m2m_django.provisioning import create_application; "
        "app, secret = create_application('Revocable', roles=[Role.objects.get(name='Shop reader')]); "
        "print(app.client_id, secret)",
    )
    client_id, secret = created.strip().splitlines()[-1].split()
    app = {"client_id": client_id, "client_secret": secret}
    warm = []
    for _ in range(2):  # the second answer of each instance comes from its grant cache
        for url in cluster.instance_urls:
            response = _token(session, url, app)
            tally.add("token", response, 0.0)
            warm.append(response.status_code)
    started = time.monotonic()
    cluster.manage(
        "shell",
        "-c",
        "from logto_m2m_django.models import M2MApplication; "
        f"m = M2MApplication.objects.get(application__client_id={client_id!r}); m.is_enabled = False; m.save()",
    )
    result["cli_seconds"] = round(time.monotonic() - started, 2)
    answers = {}
    for url in cluster.instance_urls:  # once each, right away: no retry, no wait
        response = _token(session, url, app)
        tally.add("token", response, 0.0)
        error = response.json().get("error") if response.status_code != 200 else None
        answers[url] = f"{response.status_code} {error or ''}".strip()
    result.update(
        {
            "served_before": warm,
            "next_request": answers,
            "refused_all": all(s == 200 for s in warm)
            and all(a == "400 unauthorized_client" for a in answers.values()),
        }
    )


def throttle_probe(cluster: ReferenceCluster, tally: Tally) -> dict[str, Any]:
    session = session_from("127.0.0.2")
    statuses: Counter[int] = Counter()
    served: Counter[str] = Counter()
    data = {"grant_type": "client_credentials", "resource": RESOURCE}
    for _ in range(2 * FAILED_LIMIT):
        auth = (cluster.demo["client_id"], "wrong-" + cluster.demo["client_secret"])
        response = session.post(f"{cluster.proxy_url}/oidc/token", data=data, auth=auth, timeout=30)
        tally.add("token-wrong-secret", response, 0.0)
        statuses[response.status_code] += 1
        served[response.headers.get("X-Served-By", "?").split("/")[0]] += 1
    ok = statuses == Counter({401: FAILED_LIMIT, 429: FAILED_LIMIT}) and len(served) >= 2
    return {"limit": FAILED_LIMIT, "statuses": dict(statuses), "served_by": dict(served), "holds": ok}


def audit_rows(cluster: ReferenceCluster) -> dict[int, int]:
    code = (
        "import json; from django.db.models import Count; from logto_m2m_django.models import TokenActivity; "
        "print(json.dumps({r['status_code']: r['n'] for r in "
        "TokenActivity.objects.values('status_code').annotate(n=Count('id'))}))"
    )
    out = cluster.manage("shell", "-c", code).strip().splitlines()[-1]
    return {int(k): v for k, v in json.loads(out).items()}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(v for v in values if v > 0)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1) if ordered else 0.0


def _drive(cluster: ReferenceCluster, args: argparse.Namespace) -> dict[str, Any]:
    warmup, tally = Tally(), Tally()
    warm_until = time.monotonic() + args.warmup
    threads = [threading.Thread(target=client_loop, args=(cluster, warmup, warm_until, i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.warmup + 60)
    rotation: dict[str, Any] = {}
    deadline = time.monotonic() + args.duration
    threads = [
        threading.Thread(target=client_loop, args=(cluster, tally, deadline, 100 + i)) for i in range(args.concurrency)
    ]
    began = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(args.duration / 2)  # the rotation lands in the middle of the load (a schedule, not a wait)
    rotate_and_watch(cluster, tally, rotation)
    revocation: dict[str, Any] = {}
    revoke_and_check(cluster, tally, revocation)
    for t in threads:
        t.join(timeout=args.duration + 60)
    elapsed = time.monotonic() - began
    measured = sum(c for (kind, _s), c in tally.statuses.items())
    probe = throttle_probe(cluster, tally)
    sent: Counter[int] = Counter()
    for (kind, status), count in (warmup.statuses + tally.statuses).items():
        if kind.startswith("token") and status not in NOT_RECORDED:
            sent[status] += count
    rows = audit_rows(cluster)
    five_xx = sum(c for (_k, status), c in (warmup.statuses + tally.statuses).items() if status >= 500)
    return {
        "duration_s": round(elapsed, 1),
        "concurrency": args.concurrency,
        "requests": measured,
        "requests_per_s": round(measured / elapsed, 1) if elapsed else 0.0,
        "token_requests_per_s": round(
            sum(c for (k, _s), c in tally.statuses.items() if k == "token") / elapsed if elapsed else 0.0, 1
        ),
        "by_kind_status": {f"{k} {s}": c for (k, s), c in sorted(tally.statuses.items())},
        "latency_ms": {
            k: {"p50": _percentile(v, 0.5), "p99": _percentile(v, 0.99)} for k, v in sorted(tally.latencies.items())
        },
        "served_by": dict(tally.served_by),
        "5xx": five_xx,
        "transport_errors": dict(warmup.errors + tally.errors),
        "server_errors": warmup.server_errors + tally.server_errors,
        "server_tracebacks": cluster.tracebacks(),
        "rotation": rotation,
        "revocation": revocation,
        "throttle_probe": probe,
        "audit": {"token_requests_answered": dict(sent), "rows": rows, "match": dict(sent) == rows},
    }


def problems(summary: dict[str, Any]) -> list[str]:
    found = []
    if summary["5xx"]:
        found.append(f"{summary['5xx']} responses were 5xx")
    if summary["transport_errors"]:
        found.append(f"transport errors: {summary['transport_errors']}")
    if summary["server_tracebacks"]:
        found.append(f"{summary['server_tracebacks']} tracebacks in the gunicorn logs")
    if len([k for k in summary["served_by"] if k != "?"]) < 2:
        found.append(f"not both instances answered: {summary['served_by']}")
    if not summary["rotation"].get("reached_all"):
        found.append(f"the key rotation did not reach both instances: {summary['rotation']}")
    if not summary.get("revocation", {}).get("refused_all"):
        found.append(f"the disabled app was not refused by both instances at once: {summary.get('revocation')}")
    if not summary["throttle_probe"]["holds"]:
        found.append(f"the failed-authentication limit did not hold across instances: {summary['throttle_probe']}")
    if not summary["audit"]["match"]:
        found.append(
            f"activity rows {summary['audit']['rows']} != answered {summary['audit']['token_requests_answered']}"
        )
    return found


def markdown(summary: dict[str, Any]) -> str:
    rotation, probe, audit = summary["rotation"], summary["throttle_probe"], summary["audit"]
    revocation = summary.get("revocation") or {}
    errors_ok = not (summary["5xx"] or summary["transport_errors"] or summary["server_tracebacks"])
    lines = [
        f"Load run of the reference deployment, {summary['started']} ({summary['duration_s']} s, "
        f"{summary['concurrency']} client threads; {', '.join(summary['versions'].values())}).",
        "",
        "| check | measured | result |",
        "|---|---|---|",
        f"| requests answered | {summary['requests']:,} ({summary['requests_per_s']:,} req/s; token endpoint "
        f"{summary['token_requests_per_s']:,} req/s) | — |",
        f"| errors (5xx, transport, tracebacks) | {summary['5xx']}, {sum(summary['transport_errors'].values())}, "
        f"{summary['server_tracebacks']} | {'met' if errors_ok else 'MISSED'} |",
        f"| both instances answer | {summary['served_by']} | {'met' if len(summary['served_by']) >= 2 else 'MISSED'} |",
        f"| key rotation (CLI, {rotation.get('cli_seconds')} s) reaches both | after "
        f"{sorted((rotation.get('reached_after_s') or {}).values())} s | "
        f"{'met' if rotation.get('reached_all') else 'MISSED'} |",
        f"| app disabled by the CLI ({revocation.get('cli_seconds')} s), after both served it from their grant "
        f"caches: the next request to each | {sorted((revocation.get('next_request') or {}).values())} | "
        f"{'met' if revocation.get('refused_all') else 'MISSED'} |",
        f"| failed-auth limit ({probe['limit']}) across instances | {probe['statuses']} from 127.0.0.2, served by "
        f"{probe['served_by']} | {'met' if probe['holds'] else 'MISSED'} |",
        f"| activity rows = token requests answered | {audit['rows']} vs {audit['token_requests_answered']} | "
        f"{'met' if audit['match'] else 'MISSED'} |",
    ]
    for kind, values in summary["latency_ms"].items():
        if values["p50"]:
            lines.append(f"| latency {kind} p50 / p99 | {values['p50']} / {values['p99']} ms | — |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    started = datetime.now(timezone.utc)
    with reference_cluster(workers=args.workers, threads=args.threads, throttle_rates=RATES) as cluster:
        summary = {"started": started.isoformat(timespec="seconds"), **_drive(cluster, args)}
        summary["versions"] = dict(cluster.versions)
    summary["problems"] = problems(summary)
    summary["table"] = markdown(summary)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    for name in (f"load-cluster-{stamp}", "load-cluster-latest"):
        (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=2))
        (RESULTS / f"{name}.md").write_text(summary["table"])
    print(summary["table"])
    for problem in summary["problems"]:
        print("FAIL:", problem)
    print("load-cluster:", "OK" if not summary["problems"] else "FAILED", f"(report in {RESULTS})")
    return 1 if summary["problems"] else 0
