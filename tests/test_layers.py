"""The API's process loads neither Dagster nor dbt: it is one layer beside the pipeline, on the
shared core (the import contracts in pyproject.toml hold the code to it; this holds a real
process to it, after the app has started and answered, a metric's SQL evaluated included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVE_AND_LIST_MODULES = """
import json, sys
from fastapi.testclient import TestClient
import api.serve
from api.main import create_app
from api.keys.service import create_key
from core.control_store import engine_for
from core.settings import Settings

settings = Settings()
key = create_key(engine_for(settings.control_store_url), "acme", ["metrics:read", "metrics:write"],
                 "test", settings.clock())[1]
headers = {"Authorization": f"Bearer {key}"}
with TestClient(create_app(settings)) as client:
    created = client.post("/v1/metrics", headers=headers, json={
        "name": "n", "queryType": "complex", "sqlDefinition": "select count(*) from filtered_events"})
    value = client.get(f"/v1/metrics/{created.json()['id']}/value?customerId=user_0", headers=headers)
    answers = [created.status_code, value.status_code, value.json()["value"]]
loaded = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"answers": answers, "loaded": loaded}))
"""


def test_the_api_process_loads_neither_dagster_nor_dbt(built_home):
    settings, _ = built_home
    done = subprocess.run(
        [sys.executable, "-c", SERVE_AND_LIST_MODULES],
        cwd=ROOT,
        env={**os.environ, "TALLYHOUSE_HOME": str(settings.root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["answers"][:2] == [201, 200]
    assert report["answers"][2] > 0  # user_0's events, counted in the sandbox
    assert {"fastapi", "duckdb", "core", "api"} <= set(report["loaded"])
    assert [m for m in report["loaded"] if m.startswith(("dagster", "dbt"))] == []
    assert "orchestration" not in report["loaded"]
