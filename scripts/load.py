"""``make load``: a bounded load run against gunicorn on PostgreSQL and Redis over loopback.

Starts the example project under gunicorn (its own PostgreSQL database, the Redis of
``REDIS_URL`` with a fresh key prefix, throttling on with limits the run stays under),
then for ``--duration`` seconds keeps ``--concurrency`` client threads busy with a mix of
token requests (a few with a wrong secret) and protected ``GET /products`` calls. It reports:

- requests sent, by kind and status, and latency percentiles;
- every 5xx (the run fails on any) and every transport error;
- the audit log: ``TokenActivity`` rows per status versus token requests sent (the run
  fails when rows are lost or duplicated);
- the RSS of each gunicorn process after warm-up and at the end.

Not part of ``make test``. Needs ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.security.servers import Cluster, cluster  # noqa: E402

RESOURCE = "https://shopping.api"
# Far above what the run sends: the counters are kept in Redis, nothing is refused.
RATES = {"client": "1000000/minute", "ip": "1000000/minute", "failed": "100000/minute", "failed_ip": "100000/minute"}
#: HTTP statuses the token endpoint does not record in the activity log.
NOT_RECORDED = {405, 429}


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)

    def add(self, kind: str, status: int, seconds: float, body: str) -> None:
        with self.lock:
            self.statuses[(kind, status)] += 1
            self.latencies.setdefault(kind, []).append(seconds)
            if status >= 500 and len(self.server_errors) < 20:
                self.server_errors.append(f"{kind} {status}: {body[:300]}")

    def error(self, kind: str, exc: Exception) -> None:
        with self.lock:
            self.errors[f"{kind}: {type(exc).__name__}"] += 1


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def gunicorn_pids(masters: list[int]) -> list[int]:
    """The masters and their workers (children), from /proc."""
    pids = list(masters)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid in masters:
            pids.append(int(entry.name))
    return sorted(pids)


def memory(masters: list[int]) -> dict[int, int]:
    return {pid: rss_kib(pid) for pid in gunicorn_pids(masters)}


def client_loop(servers: Cluster, tally: Tally, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    demo = servers.demo
    auth = (demo["client_id"], demo["client_secret"])
    data = {"grant_type": "client_credentials", "resource": RESOURCE, "scope": "read:products"}
    token: str | None = None
    instance = seed
    while time.monotonic() < deadline:
        instance += 1
        roll = rng.random()
        if token is None or roll < 0.25:
            kind, method, url = "token", "POST", servers.url(instance, "/oidc/token")
            kwargs: dict[str, Any] = {"data": data, "auth": auth}
        elif roll < 0.28:
            kind, method, url = "token-wrong-secret", "POST", servers.url(instance, "/oidc/token")
            kwargs = {"data": data, "auth": (demo["client_id"], "wrong-" + demo["client_secret"])}
        else:
            kind, method, url = "products", "GET", servers.url(instance, "/products")
            kwargs = {"headers": {"Authorization": f"Bearer {token}"}}
        started = time.perf_counter()
        try:
            response = session.request(method, url, timeout=30, **kwargs)
        except requests.RequestException as exc:
            tally.error(kind, exc)
            continue
        tally.add(kind, response.status_code, time.perf_counter() - started, response.text)
        # Clients keep their token (as they would for its lifetime); now and then a new one.
        if kind == "token" and response.status_code == 200 and (token is None or rng.random() < 0.05):
            token = response.json()["access_token"]


def audit_rows(servers: Cluster) -> dict[int, int]:
    code = (
        "import json; from django.db.models import Count; from logto_m2m_django.models import TokenActivity; "
        "print(json.dumps({r['status_code']: r['n'] for r in "
        "TokenActivity.objects.values('status_code').annotate(n=Count('id'))}))"
    )
    out = servers.manage("shell", "-c", code).strip().splitlines()[-1]
    return {int(k): v for k, v in json.loads(out).items()}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def run(args: argparse.Namespace) -> int:
    with cluster(args.instances, workers=args.workers, threads=args.threads, throttle_rates=RATES, label="load") as s:
        masters = s.pids()
        warmup, tally = Tally(), Tally()
        # Warm-up: every worker imports, connects and loads its keys.
        warm = time.monotonic() + args.warmup
        threads = [threading.Thread(target=client_loop, args=(s, warmup, warm, i)) for i in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.warmup + 60)
        rss_start = memory(masters)
        deadline = time.monotonic() + args.duration
        threads = [
            threading.Thread(target=client_loop, args=(s, tally, deadline, 1000 + i)) for i in range(args.concurrency)
        ]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.duration + 60)
        elapsed = time.monotonic() - began
        rss_end = memory(masters)
        rows = audit_rows(s)
        tracebacks = s.log_tail(100_000).count("Traceback")

    sent_by_status: Counter[int] = Counter()
    for (kind, status), count in (warmup.statuses + tally.statuses).items():
        if kind.startswith("token") and status not in NOT_RECORDED:
            sent_by_status[status] += count
    total = sum(tally.statuses.values())
    five_xx = sum(c for (_k, status), c in (warmup.statuses + tally.statuses).items() if status >= 500)
    audit_ok = dict(sent_by_status) == rows
    growth = {pid: rss_end.get(pid, 0) - rss_start.get(pid, 0) for pid in rss_start}
    summary = {
        "duration_s": round(elapsed, 1),
        "concurrency": args.concurrency,
        "warmup_requests": sum(warmup.statuses.values()),
        "requests": total,
        "requests_per_s": round(total / elapsed, 1) if elapsed else 0,
        "by_kind_status": {f"{k} {st}": c for (k, st), c in sorted(tally.statuses.items())},
        "latency_ms": {
            k: {"p50": round(percentile(v, 0.5), 1), "p99": round(percentile(v, 0.99), 1)}
            for k, v in sorted(tally.latencies.items())
        },
        "5xx": five_xx,
        "transport_errors": dict(tally.errors),
        "server_tracebacks": tracebacks,
        "audit": {"token_requests_sent": dict(sent_by_status), "rows": rows, "match": audit_ok},
        "rss_kib_start": rss_start,
        "rss_kib_end": rss_end,
        "rss_growth_kib": growth,
    }
    print(json.dumps(summary, indent=2))
    for line in warmup.server_errors + tally.server_errors:
        print("5xx:", line, file=sys.stderr)
    problems = []
    if five_xx:
        problems.append(f"{five_xx} responses were 5xx")
    if tally.errors or warmup.errors:
        problems.append(f"transport errors: {dict(warmup.errors + tally.errors)}")
    if not audit_ok:
        problems.append(f"audit rows {rows} != token requests {dict(sent_by_status)}")
    if tracebacks:
        problems.append(f"{tracebacks} tracebacks in the server logs")
    worst = max(growth.values(), default=0)
    if worst > args.max_rss_growth_mib * 1024:
        problems.append(f"a gunicorn process grew by {worst // 1024} MiB after warm-up")
    for problem in problems:
        print("FAIL:", problem, file=sys.stderr)
    if not problems:
        print(f"load: OK, {total} requests, 0 5xx, audit rows match, RSS growth <= {worst} KiB", file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of measured load (default 60)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of warm-up before measuring RSS")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--instances", type=int, default=1, help="gunicorn instances sharing the database")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--max-rss-growth-mib", type=int, default=32, help="fail above this growth per process")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="the reference deployment: HAProxy, 2 gunicorn instances, PgBouncer (bench/cluster.py)",
    )
    parser.add_argument("--allow-sqlite", action="store_true", help="run without PostgreSQL / Redis (smoke only)")
    args = parser.parse_args()
    if not args.allow_sqlite or args.cluster:
        missing = [
            name
            for name, ok in (
                ("DATABASE_URL (postgres://...)", os.environ.get("DATABASE_URL", "").startswith("postgres")),
                ("REDIS_URL", bool(os.environ.get("REDIS_URL"))),
            )
            if not ok
        ]
        if missing:
            print(f"load: set {' and '.join(missing)} (or pass --allow-sqlite for a smoke run)", file=sys.stderr)
            return 2
    if args.cluster:
        from bench.loadcluster import run as run_cluster

        return run_cluster(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
