"""Over HTTP: gunicorn (2 sync workers) on loopback, driven by wrk for a bounded time per endpoint."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

MALFORMED = "bm90LWEtand0.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
FORM = "application/x-www-form-urlencoded"
WRK_CONNECTIONS = 4
WORKERS = 2
#: Each endpoint's time is cut into this many slices, run round-robin.
SLICES = 3


@dataclass
class Endpoint:
    name: str
    path: str
    method: str = "GET"
    body: str = ""
    authorization: str = ""
    expect: int = 200
    seconds: int | None = None  # None: the run's default, in interleaved slices


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gunicorn:
    """A bounded gunicorn: started on a free loopback port, always stopped."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "gunicorn.log"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "bench.wsgi:application",
            f"--workers={WORKERS}",
            "--worker-class=sync",
            f"--bind=127.0.0.1:{self.port}",
            "--timeout=60",
            "--log-level=warning",
            f"--error-logfile={self.log}",
        ]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log}")
            try:
                with urllib.request.urlopen(self.base + "/bare", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def post_token(base: str, client_id: str, secret: str, body: str) -> dict[str, Any]:
    request = urllib.request.Request(
        base + "/oidc/token",
        data=body.encode(),
        headers={"Content-Type": FORM, "Authorization": basic(client_id, secret)},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def status_of(base: str, endpoint: Endpoint) -> int:
    headers = {"Authorization": endpoint.authorization} if endpoint.authorization else {}
    data = None
    if endpoint.method == "POST":
        headers["Content-Type"] = FORM
        data = endpoint.body.encode()
    request = urllib.request.Request(base + endpoint.path, data=data, headers=headers, method=endpoint.method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _lua(endpoint: Endpoint) -> str:
    lines = [f'wrk.method = "{endpoint.method}"']
    if endpoint.body:
        lines.append(f"wrk.body = {json.dumps(endpoint.body)}")
        lines.append(f'wrk.headers["Content-Type"] = "{FORM}"')
    if endpoint.authorization:
        lines.append(f'wrk.headers["Authorization"] = {json.dumps(endpoint.authorization)}')
    return "\n".join(lines) + "\n"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if match := re.search(r"Requests/sec:\s+([\d.]+)", output):
        result["rps"] = round(float(match.group(1)), 1)
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        if match := re.search(rf"^\s+{pct}%\s+(\S+)", output, re.MULTILINE):
            result[key] = round(_ms(match.group(1)), 3)
    if match := re.search(r"(\d+) requests in", output):
        result["requests"] = int(match.group(1))
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx"] = int(match.group(1)) if match else 0
    if match := re.search(r"Socket errors: (.*)", output):
        result["socket_errors"] = match.group(1).strip()
    return result


def run_wrk(base: str, endpoint: Endpoint, seconds: int, workdir: Path) -> dict[str, Any]:
    script = workdir / f"wrk-{endpoint.name}.lua"
    script.write_text(_lua(endpoint))
    command = [
        "wrk",
        "-t1",
        f"-c{WRK_CONNECTIONS}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        base + endpoint.path,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed: {completed.stderr.strip()}")
    return parse_wrk(completed.stdout)


def combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One endpoint's slices: requests/s over their total time, the median of their p50 and p99."""
    requests = sum(p.get("requests", 0) for p in parts)
    total = sum(p["seconds"] for p in parts)
    return {
        "rps": round(requests / total, 1) if total else None,
        "p50_ms": statistics.median(p.get("p50_ms", float("nan")) for p in parts),
        "p99_ms": statistics.median(p.get("p99_ms", float("nan")) for p in parts),
        "requests": requests,
        "non_2xx": sum(p.get("non_2xx", 0) for p in parts),
        "slices": len(parts),
    }


def measure(env: dict[str, str], workdir: Path, fixture: dict[str, Any], seconds: float) -> dict[str, Any]:
    server = Gunicorn(env, workdir)
    try:
        server.wait_ready()
        token_body = urlencode(
            {"grant_type": "client_credentials", "resource": fixture["audience"], "scope": "read:products"}
        )
        seen = post_token(server.base, fixture["client_id"], fixture["secret"], token_body)["access_token"]
        dot_body = urlencode({"grant_type": "client_credentials", "scope": "read"})
        endpoints = [
            Endpoint("bare_post", "/bare", "POST", token_body, basic(fixture["client_id"], fixture["secret"])),
            Endpoint("token", "/oidc/token", "POST", token_body, basic(fixture["client_id"], fixture["secret"])),
            # ~9 requests/s (PBKDF2): a short bounded run, long enough to count a few dozen.
            Endpoint(
                "dot_token",
                "/dot/token",
                "POST",
                dot_body,
                basic(fixture["dot_client_id"], fixture["dot_secret"]),
                seconds=5,
            ),
            Endpoint("bare_get", "/bare"),
            Endpoint("bare_refusal", "/bare/refuse", authorization=f"Bearer {MALFORMED}", expect=401),
            Endpoint("m2m_seen", "/m2m/products", authorization=f"Bearer {seen}"),
            Endpoint("m2m_malformed", "/m2m/products", authorization=f"Bearer {MALFORMED}", expect=401),
            Endpoint("dot_protected", "/dot/products", authorization=f"Bearer {fixture['dot_access_token']}"),
            Endpoint("simplejwt", "/sjwt/products", authorization=f"Bearer {seen}"),
        ]
        results: dict[str, Any] = {}
        for endpoint in endpoints:
            status = status_of(server.base, endpoint)
            if status != endpoint.expect:
                raise RuntimeError(f"{endpoint.name}: status {status}, expected {endpoint.expect}")
            if endpoint.name != "dot_token":  # its warm-up would leave seconds of queued PBKDF2 work behind
                run_wrk(server.base, endpoint, 1, workdir)  # warm-up: both workers load keys, caches, connections
        # Interleaved slices, as in-process: a busy spell of the machine is shared by every endpoint.
        # DOT's token endpoint runs last, in one piece: its queued PBKDF2 requests would spill into the
        # next endpoint's slice.
        slices: dict[str, list[dict[str, Any]]] = {e.name: [] for e in endpoints}
        length = max(1, round(seconds / SLICES))
        for _ in range(SLICES):
            for endpoint in endpoints:
                if endpoint.seconds is None:
                    result = run_wrk(server.base, endpoint, length, workdir)
                    slices[endpoint.name].append({**result, "seconds": length})
        for endpoint in endpoints:
            if endpoint.seconds is not None:
                result = run_wrk(server.base, endpoint, endpoint.seconds, workdir)
                slices[endpoint.name].append({**result, "seconds": endpoint.seconds})
        for endpoint in endpoints:
            results[endpoint.name] = combine(slices[endpoint.name])
            results[endpoint.name]["expected_status"] = endpoint.expect
            ok = results[endpoint.name]["non_2xx"] == 0
            results[endpoint.name]["status_ok"] = ok if endpoint.expect < 300 else True
    finally:
        server.stop()
    # The token endpoint once more with the activity log off (its INSERT and commit are the difference).
    server = Gunicorn({**env, "BENCH_ACTIVITY_LOG": "0"}, workdir)
    try:
        server.wait_ready()
        endpoint = Endpoint(
            "token_nolog", "/oidc/token", "POST", token_body, basic(fixture["client_id"], fixture["secret"])
        )
        run_wrk(server.base, endpoint, 1, workdir)
        results[endpoint.name] = {**run_wrk(server.base, endpoint, round(seconds), workdir), "expected_status": 200}
        results[endpoint.name]["status_ok"] = results[endpoint.name]["non_2xx"] == 0
    finally:
        server.stop()
    return {
        "meta": {"workers": WORKERS, "worker_class": "sync", "wrk_connections": WRK_CONNECTIONS, "threads": 1},
        "cases": results,
    }


def main() -> None:  # pragma: no cover - used by python -m bench
    workdir = Path(os.environ["BENCH_WORKDIR"])
    fixture = json.loads((workdir / "fixture.json").read_text())
    print(json.dumps(measure(dict(os.environ), workdir, fixture, 3), indent=2))


if __name__ == "__main__":
    main()
