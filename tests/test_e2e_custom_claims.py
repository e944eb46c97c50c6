"""The example project's custom claims hook for real: gunicorn (2 workers), the demo seed, the printed shell flow."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from .e2e_support import REPO, ExampleServer, example_server, manage
from .test_e2e_gunicorn import assert_rfc9068_token, fetch_token, insecure_transport  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e

needs_tools = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("bash") is None, reason="curl and bash are needed"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleServer]:
    with example_server(tmp_path_factory.mktemp("e2e-claims")) as running:
        yield running


def test_the_demo_app_token_carries_its_tenant_and_plan(server, insecure_transport):  # noqa: F811
    claims = assert_rfc9068_token(server, fetch_token(server)["access_token"])
    assert claims["tenant_id"] == "demo-shop"
    assert claims["plan"] == "pro"


@needs_tools
def test_the_printed_flow_shows_the_claims_in_the_decoded_token(server, tmp_path):
    """`m2m demo --curl`'s shell lines, run as printed: the token's payload shows the hook's claims."""
    # Last in this module: the demo replaces the app's secret (the printed lines carry the new one).
    lines = manage(server.env, "m2m", "demo", "--curl", "--base-url", server.url("")).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("TOKEN=$("))
    skipped = ("# 3.", "curl -i", "  --data-urlencode 'name", "Admin:")  # the 403 example and the admin hint
    script = "\n".join(line for line in lines[start:] if not line.startswith(skipped))
    done = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    payload = json.loads(done.stdout[done.stdout.index("{\n") :])
    assert payload["tenant_id"] == "demo-shop" and payload["plan"] == "pro"
