"""LATEST and WEIGHTED_SUM on a handful of events, every value worked out by hand
(docs/metrics.md#latest-and-weighted_sum)."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from fastapi.testclient import TestClient

from api.keys.service import create_key
from api.main import create_app
from core.control_store import engine_for
from orchestration.build import run_build
from tests.api.conftest import auth

pytestmark = pytest.mark.slow

# seats held by one customer on 2026-11-24 (the pinned now is 12:00); k4 and k5 at one instant
SEATS = [("k1", "09:00", 3), ("k2", "10:00", 5), ("k3", "10:30", 8), ("k4", "11:00", 2),
         ("k5", "11:00", 7)]  # fmt: skip


def _id(key: str) -> str:
    digest = hashlib.md5(("acme\x1f" + key).encode()).hexdigest()
    return f"evt_{uuid.UUID(hex=digest)}"


# of two events at one instant, the one with the greater event id is the later
TIED = 2 if _id("k4") > _id("k5") else 7


@pytest.fixture(scope="module")
def gauges(home_copy_module):
    home = home_copy_module
    lines = [
        {"eventType": "seats", "metricName": "seats", "quantity": q, "idempotencyKey": key,
         "timestamp": f"2026-11-24T{at}:00Z", "userId": "gauge_user"}
        for key, at, q in SEATS
    ]  # fmt: skip
    (home.landing_dir / "acme" / "seats.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in lines)
    )
    assert run_build(home).events_ingested == 5
    key = create_key(
        engine_for(home.control_store_url), "acme", ["metrics:read", "metrics:write"], "test",
        home.clock(),
    )[1]  # fmt: skip
    with TestClient(create_app(home.model_copy(update={"rate_limit": 0}))) as client:
        ids = {}
        for aggregation in ("LATEST", "WEIGHTED_SUM"):
            created = client.post(
                "/v1/metrics",
                json={"name": aggregation, "queryType": "simple", "aggregationType": aggregation,
                      "eventName": "seats", "valueType": "NUMERIC"},
                headers=auth(key),
            )  # fmt: skip
            assert created.status_code == 201, created.text
            ids[aggregation] = created.json()["id"]

        def ask(aggregation: str, customer: str = "gauge_user", **timeframe):
            answer = client.get(
                f"/v1/metrics/{ids[aggregation]}/value",
                params={"customerId": customer, **timeframe},
                headers=auth(key),
            )
            assert answer.status_code == 200, answer.text
            return answer.json()["value"]

        yield ask


def _absolute(start: str, end: str) -> dict:
    return {
        "timeframe": "ABSOLUTE",
        "start": f"2026-11-24T{start}:00Z",
        "end": f"2026-11-24T{end}:00Z",
    }


@pytest.mark.parametrize(
    ("timeframe", "latest", "weighted"),
    [
        # 3 carried in for 09:30-10:00, 5 and 8 half an hour each, the tie's later half an hour
        (_absolute("09:30", "11:30"), TIED, 3 * 0.5 + 5 * 0.5 + 8 * 0.5 + TIED * 0.5),
        # from the first event to now (12:00): 3 for an hour, 5 and 8 half an hour, one hour
        ({"timeframe": "ALL"}, TIED, 3 * 1 + 5 * 0.5 + 8 * 0.5 + TIED * 1),
        # an event at the start counts, one at the end does not
        (_absolute("10:00", "10:30"), 5, 5 * 0.5),
        # one event inside, nothing before it: 0 until 09:00, then 3 for half an hour
        (_absolute("08:00", "09:30"), 3, 3 * 0.5),
        # no event inside: 8 carried in for the whole quarter hour
        (_absolute("10:40", "10:55"), None, 8 * 0.25),
        # the last 24 hours to now: all of the events, as ALL
        ({"timeframe": "RELATIVE", "days": 1}, TIED, 3 * 1 + 5 * 0.5 + 8 * 0.5 + TIED * 1),
    ],
    ids=["window", "all", "edges", "one-event", "carried-only", "relative"],
)
def test_latest_and_weighted_sum(gauges, timeframe, latest, weighted):
    assert gauges("LATEST", **timeframe) == latest
    assert gauges("WEIGHTED_SUM", **timeframe) == pytest.approx(weighted, rel=1e-12)


def test_a_customer_without_events(gauges):
    assert gauges("LATEST", "nobody_gauge") is None
    assert gauges("WEIGHTED_SUM", "nobody_gauge") == 0
