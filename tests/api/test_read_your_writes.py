"""Read your writes: a metric value counts every event the write API acknowledged before it
was asked, built or not, and counts it once after the build (docs/metrics.md#read-your-writes).
Every expected value is worked out by hand from the events posted here."""

from __future__ import annotations

import json
import os
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from api import subprocess_server
from api.keys.service import create_key
from api.main import create_app
from core.control_store import engine_for
from orchestration.build import run_build
from tests.api.conftest import auth

pytestmark = pytest.mark.slow

EVENTS = 60  # posted one by one while builds run
SQL = "select sum(event_value) from filtered_events where event_name = 'ryw_call'"
METRICS = {
    "count": {"queryType": "simple", "aggregationType": "COUNT", "eventName": "ryw_call",
              "valueType": "NUMERIC"},
    "sum": {"queryType": "simple", "aggregationType": "SUM", "eventName": "ryw_call",
            "valueType": "NUMERIC"},
    "latest": {"queryType": "simple", "aggregationType": "LATEST", "eventName": "ryw_call",
               "valueType": "NUMERIC"},
    "complex": {"queryType": "complex", "sqlDefinition": SQL},
    "indexed": {"queryType": "indexed", "sqlDefinition": SQL},
}  # fmt: skip


def _event(key: str, quantity, at: str, model: str = "m-1") -> dict:
    return {"eventType": "ryw_call", "metricName": "calls", "quantity": quantity,
            "idempotencyKey": key, "timestamp": f"2026-11-24T{at}:00Z", "userId": "ryw_user",
            "metadata": {"model": model}}  # fmt: skip


class App:
    def __init__(self, home) -> None:
        self.home = home
        store = engine_for(home.control_store_url)
        scopes = ["usage:write", "metrics:read", "metrics:write"]
        self.key = create_key(store, "acme", scopes, "test", home.clock())[1]
        self.ids: dict[str, str] = {}

    def client(self) -> TestClient:
        """A server on the snapshot served now."""
        return TestClient(create_app(self.home.model_copy(update={"rate_limit": 0})))

    def values(self, client: TestClient, **params) -> dict[str, tuple]:
        answers = {}
        for name, metric_id in self.ids.items():
            answer = client.get(
                f"/v1/metrics/{metric_id}/value",
                params={"customerId": "ryw_user", **params},
                headers=auth(self.key),
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            answers[name] = (body["value"], body["precomputed"])
        return answers

    def organization_values(self, client: TestClient, **params) -> tuple:
        """COUNT and SUM of the whole organization (from memory once its series is read)."""
        return tuple(
            client.get(f"/v1/metrics/{self.ids[name]}/value", params=params,
                       headers=auth(self.key)).json()["value"]
            for name in ("count", "sum")
        )  # fmt: skip


@pytest.fixture(scope="module")
def app(home_copy_module) -> App:
    app = App(home_copy_module)
    with app.client() as client:
        for name, body in METRICS.items():
            created = client.post("/v1/metrics", json={"name": name, **body},
                                  headers=auth(app.key))  # fmt: skip
            assert created.status_code == 201, created.text
            app.ids[name] = created.json()["id"]
    return app


def test_an_acknowledged_event_counts_at_once_and_once_after_the_build(app):
    with app.client() as client:
        for key, quantity, at in (("r1", 2, "10:00"), ("r2", 3, "10:30"), ("r3", 5, "11:00")):
            posted = client.post("/v1/usage/events", json=_event(key, quantity, at),
                                 headers=auth(app.key))  # fmt: skip
            assert posted.status_code == 201, posted.text
        # the next request counts them, with no build in between: 3 events, 2 + 3 + 5
        unbuilt = {"count": (3, False), "sum": (10, False), "latest": (5, False),
                   "complex": (10, False), "indexed": (10, False)}  # fmt: skip
        assert app.values(client) == unbuilt
        assert app.organization_values(client) == (3, 10)
        # a 30-minute window holds only r3 (11:00 <= t < 11:30)
        window = {"timeframe": "ABSOLUTE", "start": "2026-11-24T11:00:00Z",
                  "end": "2026-11-24T11:30:00Z"}  # fmt: skip
        assert app.values(client, **window)["sum"] == (5, False)
        # the organization's value and its groups see them too
        whole = client.get(f"/v1/metrics/{app.ids['sum']}/value", params={"groupBy": "model"},
                           headers=auth(app.key)).json()  # fmt: skip
        assert (whole["value"], whole["groups"]) == (10, [{"key": "m-1", "value": 10}])

    summary = run_build(app.home)
    assert summary.success and summary.events_ingested == 3
    with app.client() as client:
        # built: the same values, each event once; the indexed one now pre-computed
        assert app.values(client) == {**unbuilt, "indexed": (10, True)}
        # one more, not built: counted at once; the indexed value goes on demand for it
        posted = client.post("/v1/usage/events", json=_event("r4", 4, "11:30", "m-2"),
                             headers=auth(app.key))  # fmt: skip
        assert posted.status_code == 201
        assert app.values(client) == {"count": (4, False), "sum": (14, False),
                                      "latest": (4, False), "complex": (14, False),
                                      "indexed": (14, False)}  # fmt: skip
        # the organization's values: r1 – r3 from the snapshot, r4 not built yet
        assert app.organization_values(client) == (4, 14)
        window = {"timeframe": "ABSOLUTE", "start": "2026-11-24T11:00:00Z",
                  "end": "2026-11-24T11:45:00Z"}  # fmt: skip
        for _ in range(2):
            assert app.organization_values(client, **window) == (2, 9)  # r3 and r4
        # a retry of r4 is the same event: still counted once
        again = client.post("/v1/usage/events", json=_event("r4", 4, "11:30", "m-2"),
                            headers=auth(app.key))  # fmt: skip
        assert again.status_code == 200
        assert app.values(client)["count"] == (4, False)


def test_landing_file_events_count_from_the_build_that_ingests_them(app):
    landing = app.home.landing_dir / "acme" / "ryw.jsonl"
    landing.write_text(json.dumps(_event("f1", 100, "09:00")) + "\n")
    with app.client() as client:
        before = app.values(client)["sum"][0]
    assert run_build(app.home).events_ingested >= 1
    with app.client() as client:
        assert app.values(client)["sum"][0] == before + 100


def test_values_read_while_builds_ingest_and_publish_count_each_event_once(home_copy):
    """One thread posts events one by one; another asks the metric's value in a loop; two
    builds ingest and publish meanwhile. Every answer holds at least the events acknowledged
    before it was asked and at most those posted by the time it came back."""
    home = home_copy
    app = App(home)
    env = {**os.environ, "TALLYHOUSE_HOME": str(home.root), "TALLYHOUSE_RATE_LIMIT": "0"}
    process, base = subprocess_server.start(env)
    posted = {"started": 0, "acknowledged": 0}
    answers: list[tuple[int, int, int]] = []
    done = threading.Event()
    try:
        created = httpx.post(f"{base}/v1/metrics", headers=auth(app.key), json={
            "name": "loop", "queryType": "simple", "aggregationType": "COUNT",
            "eventName": "ryw_call", "valueType": "NUMERIC"})  # fmt: skip
        metric = created.json()["id"]

        def write() -> None:
            with httpx.Client(base_url=base, headers=auth(app.key), timeout=30) as client:
                for n in range(EVENTS):
                    posted["started"] += 1
                    answer = client.post("/v1/usage/events", json=_event(f"loop-{n}", 1, "11:00"))
                    assert answer.status_code == 201, answer.text
                    posted["acknowledged"] += 1
                    time.sleep(0.25)  # ~15 s of posting: the builds run meanwhile

        def read() -> None:
            with httpx.Client(base_url=base, headers=auth(app.key), timeout=30) as client:
                while not done.is_set():
                    before = posted["acknowledged"]
                    answer = client.get(f"/v1/metrics/{metric}/value",
                                        params={"customerId": "ryw_user"})  # fmt: skip
                    assert answer.status_code == 200, answer.text
                    answers.append((before, answer.json()["value"], posted["started"]))

        threads = [threading.Thread(target=write), threading.Thread(target=read)]
        for thread in threads:
            thread.start()
        builds = [run_build(home) for _ in range(2)]  # while the two threads run
        threads[0].join(timeout=120)
        builds.append(run_build(home))
        done.set()
        threads[1].join(timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert all(build.success for build in builds)
    assert sum(build.events_ingested for build in builds) == EVENTS
    # the first build took some of the events and left the rest to the next
    assert 0 < builds[0].events_ingested < EVENTS
    assert len(answers) > 20
    assert [a for a in answers if not a[0] <= a[1] <= a[2]] == []
    # after the last build, every event is in the snapshot and counted once
    assert answers[-1][1] == EVENTS
