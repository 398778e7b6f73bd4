"""/v1/usage/events and /batch: auth, scopes, validation, idempotency, concurrency — on SQLite
and on a real PostgreSQL server."""

from __future__ import annotations

import hashlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.keys.service import create_key
from api.main import create_app
from core.control_store import engine_for, landing_events
from tests.api.conftest import auth
from tests.postgres import postgres_server

EVENT = {
    "eventType": "llm_call",
    "metricName": "tokens",
    "quantity": 1500,
    "idempotencyKey": "evt_unique_key_123",
    "metadata": {"model": "gpt-4o", "provider": "openai", "feature": "chat"},
}


def uuid_shaped_md5(text: str) -> str:
    """The documented event id: evt_ + md5(organization \\x1f key), shaped as a UUID."""
    digest = hashlib.md5(text.encode()).hexdigest()
    return f"evt_{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


@dataclass
class Writer:
    client: TestClient
    engine: sa.Engine
    key: str
    reader_key: str
    other_org_key: str

    def post(self, body, key: str | None = None, path: str = "/v1/usage/events"):
        return self.client.post(path, json=body, headers=auth(key or self.key))

    def stored(self, org: str = "acme") -> list[tuple[str, str]]:
        with self.engine.connect() as con:
            rows = con.execute(
                sa.select(landing_events.c.idempotency_key, landing_events.c.event_id)
                .where(landing_events.c.organization_id == org)
                .order_by(landing_events.c.seq)
            )
            return [tuple(r) for r in rows]


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def writer(request, built_home, tmp_path: Path) -> Writer:
    settings, _ = built_home
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = engine_for(url)
    if request.param == "postgresql":
        with engine.begin() as con:
            con.execute(landing_events.delete())
    settings = settings.model_copy(update={"store_url": url, "rate_limit": 0})
    now = settings.clock()
    make = lambda org, scopes: create_key(engine, org, scopes, "test", now)[1]  # noqa: E731
    with TestClient(create_app(settings)) as client:
        yield Writer(
            client,
            engine,
            make("acme", ["usage:write"]),
            make("acme", ["costs:read"]),
            make("globex", ["usage:write"]),
        )


class TestRecordEvent:
    def test_401_without_a_key(self, writer):
        response = writer.client.post("/v1/usage/events", json=EVENT)
        assert response.status_code == 401
        assert writer.stored() == []

    def test_403_without_the_usage_write_scope(self, writer):
        assert writer.post(EVENT, key=writer.reader_key).status_code == 403
        assert writer.stored() == []

    def test_201_with_the_spec_body_then_200_for_a_retry(self, writer):
        first = writer.post(EVENT)
        assert first.status_code == 201
        expected_id = uuid_shaped_md5("acme\x1fevt_unique_key_123")
        assert first.json() == {
            "eventId": expected_id,
            "userId": None,
            "metricName": "tokens",
            "quantity": 1500,
            "eventTimestamp": "2026-11-24T12:00:00.000Z",
            "recorded": True,
        }
        retry = writer.post(EVENT)
        assert retry.status_code == 200
        assert retry.json() == {**first.json(), "recorded": False}
        assert writer.stored() == [("evt_unique_key_123", expected_id)]

    def test_a_key_beyond_ascii_is_found_again_on_a_retry(self, writer):
        # (fuzzing found a key with NUL in it that the retry lookup missed — a 500 on the
        # unique index; control characters are now refused, see the 400 cases)
        key = "clé-\U0001f600-\u00e9"
        event = {**EVENT, "idempotencyKey": key}
        assert writer.post(event).status_code == 201
        retry = writer.post(event)
        assert retry.status_code == 200 and retry.json()["recorded"] is False
        assert [k for k, _ in writer.stored()] == [key]

    def test_the_same_key_in_another_organization_is_another_event(self, writer):
        assert writer.post(EVENT).status_code == 201
        assert writer.post(EVENT, key=writer.other_org_key).status_code == 201
        assert writer.stored("globex") == [
            ("evt_unique_key_123", uuid_shaped_md5("globex\x1fevt_unique_key_123"))
        ]

    def test_the_same_key_with_another_body_is_a_409(self, writer):
        writer.post(EVENT)
        response = writer.post({**EVENT, "quantity": 1501})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
        assert len(writer.stored()) == 1

    def test_without_a_key_the_server_makes_one(self, writer):
        body = {k: v for k, v in EVENT.items() if k != "idempotencyKey"}
        first, second = writer.post(body), writer.post(body)
        assert (first.status_code, second.status_code) == (201, 201)
        keys = [k for k, _ in writer.stored()]
        assert len(keys) == 2 and all(k.startswith("srv_") for k in keys)

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"quantity": -1}, "quantity: must be between 0 and 100000000000"),
            ({"quantity": "1500"}, "quantity: required, a number"),
            ({"eventType": " "}, "eventType: required, a non-empty string"),
            ({"eventType": "\u00a0\t"}, "eventType: required, a non-empty string"),
            ({"metricName": "m" * 101}, "metricName: at most 100 characters"),
            ({"timestamp": "2026-11-24T12:06:00Z"}, "timestamp: more than 5 minutes in the future"),
            (
                {"timestamp": "2025-01-01T00:00:00Z"},
                "timestamp: older than the accepted backfill window",
            ),
            ({"timestamp": "last tuesday"}, "timestamp: not an ISO-8601 date-time"),
            (
                {"metadata": {"inputTokens": -3}},
                "metadata: token counts must be whole numbers between 0 and 100000000000",
            ),
            ({"metadata": {"blob": "x" * 17000}}, "metadata: at most 16384 characters as JSON"),
            ({"idempotencyKey": "a\x00b"}, "idempotencyKey: no control characters"),
            ({"idempotencyKey": "line\nbreak"}, "idempotencyKey: no control characters"),
            ({"idempotencyKey": "   "}, "idempotencyKey: 1 to 255 characters, not blank"),
            ({"userId": "u" * 256}, "userId: at most 255 characters"),
            ({"value": 7}, "value: must be a string"),
            ({"metadata": {"model": 4}}, "metadata: model, provider and feature must be strings"),
        ],
    )
    def test_invalid_events_are_400_and_not_stored(self, writer, change, message):
        """Exactly the reason the ingest gives a landing line (tests/orchestration/test_landing)."""
        response = writer.post({**EVENT, **change})
        assert response.status_code == 400
        body = response.json()
        assert body["error"]["code"] == "VALIDATION_ERROR"
        assert body["error"]["message"] == f"Invalid event: {message}"
        assert writer.stored() == []

    def test_malformed_json_and_oversized_bodies(self, writer):
        malformed = writer.client.post(
            "/v1/usage/events",
            content=b'{"eventType": ',
            headers={**auth(writer.key), "Content-Type": "application/json"},
        )
        assert (malformed.status_code, malformed.json()["error"]["message"]) == (
            400,
            "Malformed JSON in the request body",
        )
        huge = writer.client.post(
            "/v1/usage/events",
            content=b" " * (5 * 1024 * 1024),
            headers={**auth(writer.key), "Content-Type": "application/json"},
        )
        assert (huge.status_code, huge.json()["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")

    def test_twenty_concurrent_identical_requests_store_one_event(self, writer):
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(lambda _: writer.post(EVENT).status_code, range(20)))
        assert Counter(statuses) == {201: 1, 200: 19}
        assert len(writer.stored()) == 1


class TestBatch:
    URL = "/v1/usage/events/batch"

    def test_401_and_403(self, writer):
        assert writer.client.post(self.URL, json={"events": [EVENT]}).status_code == 401
        assert (
            writer.post({"events": [EVENT]}, key=writer.reader_key, path=self.URL).status_code
            == 403
        )

    def test_a_result_for_every_event_by_index(self, writer):
        writer.post(EVENT)
        events = [
            {**EVENT, "idempotencyKey": "b-1"},
            {"eventType": "llm_call"},
            EVENT,
            {**EVENT, "quantity": 7},
            {**EVENT, "idempotencyKey": "b-1"},
        ]
        body = writer.post({"events": events}, path=self.URL).json()
        assert [r["status"] for r in body["results"]] == [
            "recorded",
            "invalid",
            "duplicate",
            "conflict",
            "duplicate",
        ]
        assert [r["index"] for r in body["results"]] == [0, 1, 2, 3, 4]
        assert (body["recorded"], body["duplicates"], body["invalid"], body["conflicts"]) == (
            1,
            2,
            1,
            1,
        )
        assert body["results"][1]["error"]["message"] == "metricName: required, a non-empty string"
        assert body["results"][3]["error"]["code"] == "IDEMPOTENCY_CONFLICT"
        assert [k for k, _ in writer.stored()] == ["evt_unique_key_123", "b-1"]

    def test_more_than_a_thousand_or_none_is_a_400(self, writer):
        too_many = [{**EVENT, "idempotencyKey": f"k{i}"} for i in range(1001)]
        for events in (too_many, []):
            response = writer.post({"events": events}, path=self.URL)
            assert response.status_code == 400
        assert writer.stored() == []

    def test_a_full_batch_is_stored(self, writer):
        events = [{**EVENT, "idempotencyKey": f"k{i}"} for i in range(1000)]
        body = writer.post({"events": events}, path=self.URL).json()
        assert body["recorded"] == 1000
        assert len(writer.stored()) == 1000
