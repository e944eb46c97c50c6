"""Profiles one in-process case with pyinstrument: ``python -m bench --profile token`` (or m2m_first, ...).

Runs the case a few hundred times after its warm-up and prints pyinstrument's call tree.
"""

from __future__ import annotations

import argparse
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from pyinstrument import Profiler  # noqa: E402

from bench.inprocess import Bench, build_cases  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("case")
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--interval", type=float, default=0.0001)
    args = parser.parse_args()
    bench = Bench()
    cases = {c.name: c for c in build_cases(bench, args.iterations, 1, scopes=True, token_only=False)}
    case = cases[args.case]
    if case.enter is not None:
        case.enter()
    for _ in range(20):
        case.run()
    profiler = Profiler(interval=args.interval)
    profiler.start()
    for _ in range(args.iterations):
        case.run()
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False, short_mode=False))


if __name__ == "__main__":
    main()
