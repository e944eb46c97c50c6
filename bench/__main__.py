"""``make bench`` / ``python -m bench``: every measurement of issue 9 in one run, one table, one JSON file.

It installs what it needs (the ``bench`` extra; ``wrk`` through apt when run as root), creates its own
database (PostgreSQL ``bench_m2m`` when a server answers on 127.0.0.1:5432, else a SQLite file), and runs
each measuring process with the same settings module (``bench.settings``):

1. ``bench.setup``      the data and the ES384 key
2. ``bench.inprocess``  the ES384 table in-process, with tokens of 1, 10 and 100 scopes
3. ``bench.overhttp``   the same endpoints under gunicorn + wrk
4. ``bench.inprocess``  the token endpoint again with Redis as the cache (when Redis answers), again
                        without psycopg's prepared statements (as behind PgBouncer < 1.21), and on
                        SQLite in its shipped configuration when the main run is on PostgreSQL
5. ``bench.memory``     the verified-token cache after 100,000 distinct tokens
6. ``bench.scale``      small database, then 10,000 apps / 1,000 resources / 20,000 scopes / 2,000 roles
7. ``bench.inprocess``  the whole table again after rotating to an ES256 key

Environment: BENCH_DATABASE_URL (use this database as it is), BENCH_POSTGRES_URL (server to create
``bench_m2m`` on), BENCH_REDIS_URL (default redis://127.0.0.1:6379/6).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BENCH_DB = "bench_m2m"
_started = time.monotonic()


def say(message: str) -> None:
    print(f"[bench {time.monotonic() - _started:6.1f}s] {message}", file=sys.stderr, flush=True)


# -- what the benchmark needs ------------------------------------------------------------------


def ensure_python_packages() -> None:
    wanted = (
        "django",
        "logto_m2m_django",
        "dj_database_url",
        "rest_framework_simplejwt",
        "gunicorn",
        "redis",
        "psycopg",
    )
    missing = [m for m in wanted if not importlib.util.find_spec(m)]
    if missing:
        say(f"installing the bench extra ({', '.join(missing)} missing)")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}/client", "-e", f"{ROOT}[bench]"],
            check=True,
        )


def ensure_wrk() -> bool:
    if shutil.which("wrk"):
        return True
    if os.geteuid() != 0:
        say("wrk is missing and this is not root: the HTTP part is skipped (apt-get install wrk)")
        return False
    say("installing wrk (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
        check=False,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return bool(shutil.which("wrk"))


def choose_database(workdir: Path) -> tuple[str, str | None]:
    """The database URL, and the PostgreSQL server URL to drop it from afterwards (None: nothing to drop)."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"], None
    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    try:
        import psycopg

        with psycopg.connect(server, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
            conn.execute(f"CREATE DATABASE {BENCH_DB}")
    except Exception as exc:  # no PostgreSQL here: SQLite, which every clone has
        say(f"PostgreSQL not usable ({type(exc).__name__}); using SQLite")
        return f"sqlite:///{workdir / 'bench.sqlite3'}", None
    parts = urlsplit(server)
    return urlunsplit(parts._replace(path=f"/{BENCH_DB}")), server


def drop_database(server: str | None) -> None:
    if server is None:
        return
    import psycopg

    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    except Exception as exc:
        say(f"could not drop {BENCH_DB}: {exc}")


def redis_url() -> str | None:
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        say(f"Redis not usable at {url} ({type(exc).__name__}); the Redis comparison is skipped")
        return None
    return url


def machine(database_url: str) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("Django", "djangorestframework", "django-oauth-toolkit", "PyJWT", "djangorestframework-simplejwt"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:
            versions[dist] = "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": urlsplit(database_url).scheme.replace("postgres", "PostgreSQL").replace("sqlite", "SQLite"),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "versions": versions,
    }


# -- running the measuring processes ---------------------------------------------------------------


def child(module: str, env: dict[str, str], *args: str, timeout: float = 600) -> None:
    subprocess.run([sys.executable, "-m", module, *args], env=env, cwd=ROOT, check=True, timeout=timeout)


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, to check the harness")
    parser.add_argument("--rounds", type=int, help="in-process rounds (default 16, quick 3)")
    parser.add_argument("--http-seconds", type=float, help="wrk seconds per endpoint (default 5, quick 2)")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["http", "redis", "prepared", "sqlite", "memory", "scale", "es256"],
    )
    parser.add_argument("--profile", metavar="CASE", help="only profile one in-process case (pyinstrument)")
    parser.add_argument("--cache", choices=["locmem", "redis"], default="locmem", help="cache for --profile")
    parser.add_argument(
        "--update-docs",
        "--update-readme",
        dest="update_readme",
        action="store_true",
        help="copy the table into docs/performance.md (the documentation site's Performance page)",
    )
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 16)
    http_seconds = args.http_seconds or (2.0 if args.quick else 5.0)

    ensure_python_packages()
    has_wrk = "http" not in args.skip and ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="logto-m2m-bench-"))
    database_url, server = choose_database(workdir)
    redis = redis_url() if "redis" not in args.skip else None
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "BENCH_WORKDIR": str(workdir),
        "BENCH_DATABASE_URL": database_url,
        "BENCH_ALG": "ES384",
        "BENCH_CACHE": "locmem",
        "PYTHONPATH": str(ROOT),
    }
    results: dict[str, Any] = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "make bench",
        "machine": machine(database_url),
        "rounds": rounds,
        "http_seconds": http_seconds,
        "inprocess": {},
    }
    try:
        say(f"database {results['machine']['database']}; setting up")
        child("bench.setup", env)
        if args.profile:
            profile_env = {**env, "BENCH_CACHE": args.cache, "BENCH_REDIS_URL": redis or ""}
            child("bench.profile", profile_env, args.profile)
            return 0
        say("in-process, ES384 (with 1/10/100-scope tokens)")
        child("bench.inprocess", env, "--out", str(workdir / "es384.json"), "--rounds", str(rounds), "--scopes")
        results["inprocess"]["ES384"] = load(workdir / "es384.json")
        if has_wrk:
            say(f"over HTTP: gunicorn + wrk, {http_seconds:g} s per endpoint")
            from bench import overhttp

            results["http"] = overhttp.measure(env, workdir, load(workdir / "fixture.json"), http_seconds)
        if redis:
            say("token endpoint with Redis as the cache")
            redis_env = {**env, "BENCH_CACHE": "redis", "BENCH_REDIS_URL": redis}
            out = str(workdir / "redis.json")
            child("bench.inprocess", redis_env, "--out", out, "--rounds", str(rounds), "--token-only")
            results["redis"] = load(Path(out))
        if database_url.startswith("postgres") and "prepared" not in args.skip:
            say("token endpoint without psycopg prepared statements (as behind PgBouncer < 1.21)")
            out = str(workdir / "unprepared.json")
            unprepared_env = {**env, "BENCH_PG_PREPARE": "0"}
            child("bench.inprocess", unprepared_env, "--out", out, "--rounds", str(rounds), "--token-only")
            results["pg_unprepared"] = load(Path(out))
        if database_url.startswith("postgres") and "sqlite" not in args.skip:
            say("token endpoint on SQLite, as shipped (WAL, synchronous=NORMAL)")
            sqlite_env = {**env, "BENCH_DATABASE_URL": f"sqlite:///{workdir / 'default.sqlite3'}"}
            sqlite_env["BENCH_WORKDIR"] = str(workdir / "sqlite")
            Path(sqlite_env["BENCH_WORKDIR"]).mkdir()
            child("bench.setup", sqlite_env)
            out = str(workdir / "sqlite.json")
            child("bench.inprocess", sqlite_env, "--out", out, "--rounds", str(rounds), "--token-only")
            results["sqlite_default"] = load(Path(out))
        if "memory" not in args.skip:
            say("verified-token cache memory, 100,000 distinct tokens")
            child("bench.memory", env, "--out", str(workdir / "memory.json"))
            results["memory"] = load(workdir / "memory.json")
        if "scale" not in args.skip:
            say("scale: small database, seeding, large database")
            child("bench.scale", env, "--out", str(workdir / "scale.json"), "--rounds", str(max(3, rounds // 2)))
            results["scale"] = load(workdir / "scale.json")
        if "es256" not in args.skip:
            say("in-process, ES256")
            child("bench.setup", env, "--rotate", "ES256")
            es256_env = {**env, "BENCH_ALG": "ES256"}
            child("bench.inprocess", es256_env, "--out", str(workdir / "es256.json"), "--rounds", str(rounds))
            results["inprocess"]["ES256"] = load(workdir / "es256.json")
    finally:
        drop_database(server)
        shutil.rmtree(workdir, ignore_errors=True)

    from bench import report, targets

    cluster = RESULTS / "load-cluster-latest.json"
    if cluster.exists():  # the last `make load-cluster` run, shown beside this one
        results["cluster"] = load(cluster)
    results["targets"] = targets.targets(results)
    results["seconds"] = round(time.monotonic() - _started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    text = results["table"] = report.render(results)
    for path in (RESULTS / f"bench-{stamp}.json", RESULTS / "latest.json"):
        path.write_text(json.dumps(results, indent=2))
    print(text)
    if args.update_readme and report.update_readme(ROOT / "docs" / "performance.md", results):
        say("docs/performance.md updated")
    say(f"done in {results['seconds']} s; results in {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
