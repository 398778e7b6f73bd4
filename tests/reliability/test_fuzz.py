"""Fuzzing: schemathesis against a real server's /openapi.json — valid and invalid requests
(examples, coverage, fuzzing, and stateful sequences along the documented links), a bounded
number of cases: no server error, and every response as documented (status, content type,
headers, body schema). docs/reliability.md has the command for a longer run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api import subprocess_server
from api.keys.service import SCOPES, create_key
from core.control_store import engine_for
from tests.conftest import sized

pytestmark = pytest.mark.slow

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
# per operation and phase: 100 with --soak (docs/reliability.md: longer runs)
MAX_EXAMPLES = sized(25, 100)


def fuzz_command(base: str, key: str, report: Path, max_examples: int) -> list[str]:
    return [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{base}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        ",".join(CHECKS),
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(max_examples),
        "--seed",
        "20261124",
        "--workers",
        "1",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]


def test_generated_requests_get_no_server_error_and_documented_answers(home_copy, tmp_path):
    engine = engine_for(home_copy.control_store_url)
    key = create_key(engine, "acme", list(SCOPES), "test", home_copy.clock())[1]
    env = {**os.environ, "TALLYHOUSE_HOME": str(home_copy.root), "TALLYHOUSE_RATE_LIMIT": "0"}
    report = tmp_path / "fuzz.json"
    with subprocess_server.running(env) as base:
        done = subprocess.run(
            fuzz_command(base, key, report, MAX_EXAMPLES),
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, "NO_COLOR": "1"},
        )
    assert done.returncode == 0, done.stdout[-6000:]
    summary = json.loads(report.read_text())
    assert summary["complete"] and summary["stop_reason"] == "completed"
    assert summary["operations"]["tested"] == summary["operations"]["total"] == 30
    assert {p: v["status"] for p, v in summary["phases"].items()} == dict.fromkeys(
        ("examples", "coverage", "fuzzing", "stateful"), "success"
    )
    cases = summary["test_cases"]
    assert (cases["with_failures"], cases["errored"], summary["failures"]) == (0, 0, [])
    assert cases["generated"] > 15 * MAX_EXAMPLES
    print(f"fuzzing: {cases['generated']} cases, 0 failures")
