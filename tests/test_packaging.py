"""The repository's packaging and CI files agree with each other (the client's version, the CI matrix)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import logto_m2m_client
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _version(pyproject: Path) -> str:
    match = re.search(r'^version = "([^"]+)"', pyproject.read_text(), re.MULTILINE)
    assert match, pyproject
    return match.group(1)


def test_the_server_pins_the_client_version_of_this_repository() -> None:
    version = _version(ROOT / "client" / "pyproject.toml")
    assert logto_m2m_client.__version__ == version
    pins = re.findall(r'"logto-m2m-client(?:\[\w+\])?==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pins and set(pins) == {version}


def _ci_run_matrix() -> set[tuple[str, str]]:
    """(Python, requirements) of each `make matrix` in .ci/run, with its continuation lines joined."""
    text = (ROOT / ".ci" / "run").read_text().replace("\\\n", " ")
    runs = set()
    for line in text.splitlines():
        if line.strip().startswith("make matrix"):
            words = dict(w.split("=", 1) for w in shlex.split(line)[2:] if "=" in w)
            runs.add((words["MATRIX_PY"], words["MATRIX_DJANGO"]))
    return runs


def test_the_github_workflow_runs_what_ci_run_runs() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    include = workflow["jobs"]["test"]["strategy"]["matrix"]["include"]
    matrix = {(job["python"], job["matrix_django"]) for job in include if job["target"] == "matrix"}
    assert matrix == _ci_run_matrix()
    assert [job["python"] for job in include if job["target"] == "test"] == ["3.11"]  # .ci/run's python3.11
    assert "make test" in (ROOT / ".ci" / "run").read_text()
