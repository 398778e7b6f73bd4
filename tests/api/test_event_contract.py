"""One contract for an event, kept by both doors (a property test over the edges of each
field's rule): the write API and the ingest accept the same events, and refuse the rest with
the same reason (core/event_body.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.keys.service import create_key
from api.main import create_app
from core.control_store import engine_for
from core.settings import Settings
from orchestration.defs.ingest.landing import ingest
from tests.conftest import sized

# Near each rule's edges: formats the two parsers read differently, blanks, escapes.
TIMESTAMPS = st.sampled_from(
    [
        "2026-11-24T10:00:00Z", "2026-11-24T10:00:00", "2026-11-24 10:00:00+05:30",
        "2026-11-24", "2026-11-24T10:00", "2026-11-24T10", "2026-W48-2", "2026-W48-2T10:00",
        "20261124T100000Z", "20261124", "2026-11-24T10:00:00.123456789Z",
        "2026-11-24T10:00:00+0530", "2026-11-24T10:00:00+05", "2026-11-24T10:00:00 +05:30",
        "2026-11-24t10:00:00Z", "2026-11-24T10:00:00,5Z", "2026-11-24T24:00:00Z",
        "2026-11-24T10:00:00.Z", "2026-11-24T10:00:00 UTC", " 2026-11-24T10:00:00Z",
        "2026-11-24T10:00:00Z\n", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00",
        "2026-11-24T12:04:59Z", "2026-11-24T12:05:01Z", "2025-10-20T00:00:00Z",
        "2026-11-23T24:00:00Z", "2026-11-24T24:00:00Z", "2026-11-24T10:00:00+24:00",
        "2026-11-24T10:00:00+05:60",
    ]
)  # fmt: skip
TEXT = st.text(
    alphabet=st.sampled_from(["a", " ", "\t", "\x01", "\x7f", "é", "\u00a0", "\u2028", '"', "\\"]),
    max_size=8,
)
METADATA = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["model", "provider", "feature", "note", "\x01k", "inputTokens"]),
        st.one_of(
            TEXT,
            st.integers(min_value=-1, max_value=10**12),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
        max_size=3,
    ),
    # control characters cost 6 characters each as JSON: just inside and just past the limit
    st.integers(min_value=2726, max_value=2731).map(lambda n: {"note": "\x01" * n}),
    st.integers(min_value=16370, max_value=16376).map(lambda n: {"note": "é" * n}),
    st.just({"big": 1e16, "small": 5e-324, "note": "x" * 16330}),
)
EVENT = st.fixed_dictionaries(
    {
        # mostly valid, so that the other fields' edges are reached
        "eventType": st.one_of(st.just("llm_call"), st.just("llm_call"), TEXT),
        "metricName": st.sampled_from(["input_tokens", "tokens", "requests", "requests", " "]),
        "quantity": st.one_of(
            st.integers(min_value=0, max_value=10**6),
            st.integers(min_value=-1, max_value=10**12),
            st.floats(min_value=-1, max_value=2e11, allow_nan=False),
            st.just(10**400),
        ),
    },
    optional={
        "idempotencyKey": TEXT,
        "timestamp": st.one_of(TIMESTAMPS, st.just("2026-11-24T10:00:00Z")),
        "userId": TEXT,
        "costUsd": st.floats(min_value=-1, max_value=2e6, allow_nan=False),
        "value": TEXT,
        "metadata": METADATA,
    },
)


@settings(
    max_examples=sized(40, 300),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=st.lists(EVENT, min_size=1, max_size=40))
def test_both_doors_accept_the_same_events_and_refuse_the_rest_with_the_same_reason(
    tmp_path_factory, events
):
    """Each event goes through the write API (acme's inbox) and, as a line of a landing file,
    through the ingest (globex): the same ones are accepted, and each refused one gets the
    same reason at both doors."""
    home = Settings(home=tmp_path_factory.mktemp("contract"))  # the session's clock, pinned
    store = engine_for(home.control_store_url)
    key = create_key(store, "acme", ["usage:write"], "test", home.clock())[1]
    bodies = [
        {**event, "idempotencyKey": f"{index}-{event.get('idempotencyKey', '')}"}
        for index, event in enumerate(events)
    ]
    api_reasons: list[str | None] = []
    with TestClient(create_app(home.model_copy(update={"rate_limit": 0}))) as client:
        for body in bodies:
            response = client.post(
                "/v1/usage/events",
                content=json.dumps(body),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            assert response.status_code in (201, 400), response.text
            message = response.json().get("error", {}).get("message")
            api_reasons.append(message and message.removeprefix("Invalid event: "))
    landing = Path(home.landing_dir) / "globex"
    landing.mkdir(parents=True)
    (landing / "events.jsonl").write_text("".join(json.dumps(b) + "\n" for b in bodies))
    with duckdb.connect() as warehouse:
        report = ingest(
            warehouse,
            Path(home.landing_dir),
            now=home.clock(),
            max_age=timedelta(days=home.max_event_age_days),
            max_future=timedelta(seconds=home.max_future_seconds),
            store=store,
        )
        rejected = dict(
            warehouse.execute(
                "select source_line, reason from raw.rejected_events "
                "where organization_id = 'globex'"
            ).fetchall()
        )
        inbox_rejects = warehouse.execute(
            "select count(*) from raw.rejected_events where organization_id = 'acme'"
        ).fetchone()[0]
    ingest_reasons = [rejected.get(line) for line in range(1, len(bodies) + 1)]
    assert ingest_reasons == api_reasons
    accepted = api_reasons.count(None)
    assert inbox_rejects == 0
    assert (report.events_ingested, report.events_rejected) == (2 * accepted, len(rejected))
