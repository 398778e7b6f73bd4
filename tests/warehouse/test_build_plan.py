"""`tallyhouse build --dry-run`: whether the next build starts a run, why, and what it does,
read from the same records the build reads, without building anything."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from api.keys.service import create_key
from api.main import create_app
from core.control_store import engine_for
from orchestration.build import run_build
from orchestration.lib.build_plan import plan_next_build


def test_the_plan_names_what_changed_and_what_the_run_would_do(home_copy):
    settings = home_copy
    last = run_build(settings)  # records what it started from, in this home
    unchanged = plan_next_build(settings)
    assert (unchanged.runs, unchanged.work) == (False, [])
    assert unchanged.reasons == [
        f"nothing changed since build {last.run_id[:8]}, whose snapshot "
        f"{last.snapshot_version} is served"
    ]

    (settings.landing_dir / "acme" / "plan.jsonl").write_text(
        json.dumps({"eventType": "e", "metricName": "requests", "quantity": 1, "userId": "u"})
        + "\n"
    )
    key = create_key(
        engine_for(settings.control_store_url), "globex", ["usage:write"], "test", settings.clock()
    )[1]
    with TestClient(create_app(settings)) as client:
        for index in range(2):
            event = {"eventType": "e", "metricName": "requests", "quantity": 1}
            answer = client.post(
                "/v1/usage/events",
                json={**event, "idempotencyKey": f"plan-{index}"},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert answer.status_code == 201
    changed = plan_next_build(settings)
    assert changed.runs
    assert changed.reasons == ["landing files changed", "API inbox changed"]
    assert changed.work == [
        "ingest 1 new landing files and 2 API events not yet ingested",
        "dbt: price the new events and bring every mart up to date",
        "the seeds and static price models: left as built (the code is the same)",
        "pre-compute the indexed metrics; publish a snapshot; run the data checks",
    ]

    built = run_build(settings)
    assert built.events_ingested == 3  # what the plan said
    assert plan_next_build(settings).runs is False
