"""Timing helpers shared by the measuring processes: interleaved rounds, medians, SQL counts."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Case:
    """One measured operation. ``run`` does it once and returns the HTTP status (or 0 for non-HTTP work)."""

    name: str
    run: Callable[[], int]
    expect: int = 200
    per_round: int = 50
    enter: Callable[[], None] | None = None
    leave: Callable[[], None] | None = None
    samples: list[int] = field(default_factory=list)


def run_interleaved(cases: list[Case], rounds: int, warmup: int = 10) -> None:
    """Each round runs every case ``per_round`` times, so that a slow spell of a shared machine
    spreads over all cases instead of landing on one of them (ratios stay meaningful)."""
    for case in cases:
        _batch(case, min(warmup, case.per_round * 2), record=False)
    for _ in range(rounds):
        for case in cases:
            _batch(case, case.per_round, record=True)


def _batch(case: Case, count: int, *, record: bool) -> None:
    if case.enter is not None:
        case.enter()
    gc.collect()
    clock = time.perf_counter_ns
    run = case.run
    try:
        for _ in range(count):
            start = clock()
            status = run()
            elapsed = clock() - start
            if status != case.expect:
                raise RuntimeError(f"{case.name}: status {status}, expected {case.expect}")
            if record:
                case.samples.append(elapsed)
    finally:
        if case.leave is not None:
            case.leave()


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return float(ordered[index])


def summary(samples: list[int]) -> dict[str, Any]:
    return {
        "median_us": round(statistics.median(samples) / 1000, 2),
        "p95_us": round(percentile(samples, 0.95) / 1000, 2),
        "n": len(samples),
    }


def count_queries(action: Callable[[], Any]) -> dict[str, Any]:
    """Runs ``action`` once and reports the SQL it sent: how many statements, and their verbs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        action()
    verbs = [q["sql"].lstrip().split(None, 1)[0].upper() for q in captured.captured_queries]
    return {
        "sql": len(verbs),
        "sql_reads": sum(1 for v in verbs if v == "SELECT"),
        "sql_writes": sum(1 for v in verbs if v in ("INSERT", "UPDATE", "DELETE")),
        "sql_verbs": verbs,
    }
