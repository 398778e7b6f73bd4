"""For every endpoint: a key of organization B (globex) never sees, changes or learns the
existence of organization A's (acme's) data. Unknown and someone else's look the same (404).
Values are worked out from the landing files (the oracle)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.keys.service import SCOPES, create_key
from api.main import create_app
from core.control_store import engine_for, landing_events
from tests.api.metrics_oracle import customer_events
from tests.api.oracle_answers import breakdown, cents, cost

A, B = "acme", "globex"
ONLY_IN_A = "user_123"  # the spec's example end user: acme's landing files only
NOWHERE = "user-nobody-has"
UNKNOWN_METRIC = "met_" + "Z" * 22
NOVEMBER = (datetime(2026, 11, 1), datetime(2026, 12, 1))
OCTOBER = ("2026-10-01", "2026-10-31")

# every route of the API, each with the test below that covers it (kept in step with the app)
COVERED = {
    ("GET", "/v1/ping"): "test_ping_names_only_the_callers_organization",
    ("POST", "/v1/usage/events"): "test_the_same_idempotency_key_in_two_organizations",
    ("POST", "/v1/usage/events/batch"): "test_the_same_idempotency_key_in_two_organizations",
    ("GET", "/v1/cost-data/summary"): "test_cost_answers_hold_only_the_callers_events",
    ("GET", "/v1/cost-data/by-model"): "test_cost_answers_hold_only_the_callers_events",
    ("GET", "/v1/cost-data/by-provider"): "test_cost_answers_hold_only_the_callers_events",
    ("GET", "/v1/cost-data/trend"): "test_cost_answers_hold_only_the_callers_events",
    ("GET", "/v1/cost-data/explain"): "test_cost_answers_hold_only_the_callers_events",
    ("GET", "/v1/cost-data/forecast"): "test_cost_answers_hold_only_the_callers_events",
    ("GET", "/v1/cost-data/anomalies"): "test_cost_answers_hold_only_the_callers_events",
    ("GET", "/v1/end-user-costs/{externalId}/summary"): "test_another_organizations_end_user",
    ("GET", "/v1/end-user-costs/{externalId}/by-model"): "test_another_organizations_end_user",
    ("GET", "/v1/metrics"): "test_another_organizations_metric_is_unknown_everywhere",
    ("POST", "/v1/metrics"): "test_another_organizations_metric_is_unknown_everywhere",
    ("GET", "/v1/metrics/{id}"): "test_another_organizations_metric_is_unknown_everywhere",
    ("POST", "/v1/metrics/{id}/update"): "test_another_organizations_metric_is_unknown_everywhere",
    ("POST", "/v1/metrics/{id}/delete"): "test_another_organizations_metric_is_unknown_everywhere",
    ("GET", "/v1/metrics/{id}/value"): "test_metric_sql_sees_only_the_callers_events",
    ("POST", "/v1/traces"): "test_the_same_span_in_two_organizations",
    ("GET", "/v1/limits"): "test_another_organizations_limit_is_unknown_everywhere",
    ("POST", "/v1/limits"): "test_another_organizations_limit_is_unknown_everywhere",
    ("GET", "/v1/limits/{id}"): "test_another_organizations_limit_is_unknown_everywhere",
    ("POST", "/v1/limits/{id}/update"): "test_another_organizations_limit_is_unknown_everywhere",
    ("POST", "/v1/limits/{id}/delete"): "test_another_organizations_limit_is_unknown_everywhere",
    ("GET", "/v1/limits/{id}/status"): "test_another_organizations_limit_is_unknown_everywhere",
    ("GET", "/v1/alerts"): "test_another_organizations_limit_is_unknown_everywhere",
    ("GET", "/v1/webhooks"): "test_another_organizations_webhook_is_unknown_everywhere",
    ("POST", "/v1/webhooks"): "test_another_organizations_webhook_is_unknown_everywhere",
    (
        "POST",
        "/v1/webhooks/{id}/delete",
    ): "test_another_organizations_webhook_is_unknown_everywhere",
    (
        "GET",
        "/v1/webhooks/{id}/deliveries",
    ): "test_another_organizations_webhook_is_unknown_everywhere",
}


@pytest.fixture(scope="module")
def client(home_copy_module) -> TestClient:
    settings = home_copy_module.model_copy(update={"rate_limit": 0})
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def key(home_copy_module) -> dict[str, dict[str, str]]:
    """Authorization headers with every scope, for both organizations."""
    engine = engine_for(home_copy_module.control_store_url)
    now = home_copy_module.clock()
    return {
        org: {"Authorization": f"Bearer {create_key(engine, org, list(SCOPES), 'test', now)[1]}"}
        for org in (A, B)
    }


def _comparable(response) -> tuple[int, dict]:
    """Status and body without what differs per request (correlation id, time, path)."""
    body = response.json()
    if "error" in body:
        body["error"].pop("correlationId", None)
        body.pop("meta", None)
    return response.status_code, body


def test_every_route_is_covered(client):
    routes = {
        (method.upper(), path)
        for path, operations in client.get("/openapi.json").json()["paths"].items()
        for method in operations
    }
    assert routes == set(COVERED)
    assert set(COVERED.values()) <= {name for name in globals() if name.startswith("test_")}


def test_ping_names_only_the_callers_organization(client, key):
    body = client.get("/v1/ping", headers=key[B]).json()
    assert A not in str(body)
    assert B in str(body)


def _event(idempotency_key: str, quantity: int) -> dict:
    return {
        "eventType": "api_call",
        "metricName": "requests",
        "quantity": quantity,
        "idempotencyKey": idempotency_key,
        "timestamp": "2026-11-24T11:00:00Z",
    }


def test_the_same_idempotency_key_in_two_organizations(client, key):
    first = client.post("/v1/usage/events", json=_event("shared-key", 1), headers=key[A])
    assert first.status_code == 201
    # B's different body under A's key is B's own new event: no 409, no replay of A's answer
    other = client.post("/v1/usage/events", json=_event("shared-key", 2), headers=key[B])
    assert other.status_code == 201
    assert other.json()["eventId"] != first.json()["eventId"]
    batch = client.post(
        "/v1/usage/events/batch",
        json={"events": [_event("shared-key", 3), _event("shared-batch-key", 4)]},
        headers=key[A],
    )
    other_batch = client.post(
        "/v1/usage/events/batch",
        json={"events": [_event("shared-batch-key", 5)]},
        headers=key[B],
    )
    assert batch.status_code == other_batch.status_code == 200
    # A's retry of its own key with another body is A's conflict; B's use changed nothing
    assert batch.json()["results"][0]["status"] == "conflict"
    assert other_batch.json()["results"][0]["status"] == "recorded"
    # and B's retry of its own key is B's duplicate, answered with B's event id
    again = client.post("/v1/usage/events", json=_event("shared-key", 2), headers=key[B])
    assert again.status_code == 200
    assert again.json()["eventId"] == other.json()["eventId"]


def _otlp(span_id: str, output_tokens: int) -> dict:
    attributes = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
                  "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": output_tokens}  # fmt: skip
    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": span_id, "name": "chat",
        "endTimeUnixNano": "1795518000000000000",  # 2026-11-24T11:00:00Z
        "attributes": [{"key": k, "value": {"stringValue": v} if isinstance(v, str)
                        else {"intValue": str(v)}} for k, v in attributes.items()],
    }  # fmt: skip
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


def test_the_same_span_in_two_organizations(client, key, home_copy_module):
    """A span's event key (trace id, span id) is the caller's own: another organization
    exporting the same ids records its own event, and neither sees a conflict."""
    for org, output in ((A, 5), (B, 7), (A, 5)):  # A's last export is a retry
        answer = client.post("/v1/traces", json=_otlp("b7ad6b7169203331", output), headers=key[org])
        assert answer.status_code == 200 and answer.json() == {}, answer.text
    with engine_for(home_copy_module.control_store_url).connect() as store:
        rows = store.execute(
            sa.select(landing_events.c.organization_id, landing_events.c.body).where(
                landing_events.c.idempotency_key
                == "otel-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"
            )
        ).all()
    outputs = {org: json.loads(body)["metadata"]["outputTokens"] for org, body in rows}
    assert len(rows) == 2 and outputs == {A: 5, B: 7}


def test_cost_answers_hold_only_the_callers_events(client, key, oracle):
    summary = client.get("/v1/cost-data/summary", headers=key[B]).json()
    assert summary["totalCost"] == cents(cost(oracle, B, *NOVEMBER))
    assert cents(cost(oracle, A, *NOVEMBER)) != summary["totalCost"]
    window = f"start_date={OCTOBER[0]}&end_date={OCTOBER[1]}"
    first, last = (datetime.fromisoformat(d).date() for d in OCTOBER)
    for by, field in (("model", "model"), ("provider", "provider")):
        body = client.get(f"/v1/cost-data/by-{by}?{window}", headers=key[B]).json()
        rows = [(r[field], r["totalCost"], r["eventCount"]) for r in body["breakdown"]]
        assert rows == breakdown(oracle, B, first, last, by)
    trend = client.get(f"/v1/cost-data/trend?{window}", headers=key[B]).json()
    b_days = {}
    for e in oracle:
        if e.organization_id == B and first <= e.event_at.date() <= last:
            b_days[e.event_at.date().isoformat()] = b_days.get(e.event_at.date().isoformat(), 0) + 1
    assert {p["periodStart"]: p["eventCount"] for p in trend["series"] if p["eventCount"]} == b_days
    explained = client.get(
        f"/v1/cost-data/explain?{window}&by=model&base_start_date=2026-09-01&base_end_date=2026-09-30",
        headers=key[B],
    ).json()
    assert {
        (s["segment"]["model"], s["currentCost"], s["currentUnits"])
        for s in explained["segments"]
        if s["currentUnits"] and s["segment"]["model"]
    } == set(breakdown(oracle, B, first, last, "model"))
    now = datetime(2026, 11, 24, 12, 0, 0, 1)
    forecast = client.get("/v1/cost-data/forecast", headers=key[B]).json()
    assert forecast["actualToDate"] == cents(cost(oracle, B, NOVEMBER[0], now))
    unusual = client.get(
        "/v1/cost-data/anomalies?start_date=2026-11-01&end_date=2026-11-24&by=end_user"
        "&min_impact=0",
        headers=key[B],
    ).json()["anomalies"]
    b_users = {e.end_user_id for e in oracle if e.organization_id == B}
    assert unusual and {a["segment"]["endUser"] for a in unusual} <= b_users


def test_another_organizations_end_user(client, key, oracle):
    assert any(e.end_user_id == ONLY_IN_A for e in oracle if e.organization_id == A)
    assert not any(e.end_user_id == ONLY_IN_A for e in oracle if e.organization_id == B)
    window = "start_date=2026-01-01&end_date=2026-01-31"
    for endpoint in ("summary", "by-model"):
        url = "/v1/end-user-costs/{}/" + f"{endpoint}?{window}"
        theirs = client.get(url.format(ONLY_IN_A), headers=key[B])
        nobodys = client.get(url.format(NOWHERE), headers=key[B])
        assert theirs.status_code == 404
        assert (
            _comparable(theirs)[1]["error"]["message"].replace(ONLY_IN_A, NOWHERE)
            == (_comparable(nobodys)[1]["error"]["message"])
        )
        assert _comparable(theirs)[1]["error"]["code"] == _comparable(nobodys)[1]["error"]["code"]
        assert client.get(url.format(ONLY_IN_A), headers=key[A]).status_code == 200


def test_another_organizations_metric_is_unknown_everywhere(client, key):
    body = {"name": "A's calls", "queryType": "simple", "aggregationType": "COUNT",
            "eventName": "api_call", "valueType": "NUMERIC"}  # fmt: skip
    created = client.post("/v1/metrics", json=body, headers=key[A]).json()
    metric = created["id"]
    assert metric not in str(client.get("/v1/metrics", headers=key[B]).json())
    requests = [
        ("get", "/v1/metrics/{}", None),
        ("post", "/v1/metrics/{}/update", {"name": "B was here"}),
        ("post", "/v1/metrics/{}/delete", None),
        ("get", "/v1/metrics/{}/value?customerId=user_1", None),
    ]
    for method, url, payload in requests:
        kwargs = {"json": payload} if payload is not None else {}
        theirs = client.request(method, url.format(metric), headers=key[B], **kwargs)
        unknown = client.request(method, url.format(UNKNOWN_METRIC), headers=key[B], **kwargs)
        assert theirs.status_code == 404, (method, url)
        status, error = _comparable(theirs)
        assert (
            error["error"]["message"].replace(metric, UNKNOWN_METRIC)
            == (_comparable(unknown)[1]["error"]["message"])
        )
    # nothing of A's changed: same name, same version, not deleted
    after = client.get(f"/v1/metrics/{metric}", headers=key[A])
    assert after.status_code == 200
    assert after.json() == created
    # B creating a metric with A's metric's name is B's own, with another id
    mine = client.post("/v1/metrics", json=body, headers=key[B]).json()
    assert mine["id"] != metric


def test_metric_sql_sees_only_the_callers_events(client, key, oracle):
    for query_type in ("complex", "indexed"):
        body = {"name": f"every event ({query_type})", "queryType": query_type,
                "sqlDefinition": "select count(*) from filtered_events"}  # fmt: skip
        metric = client.post("/v1/metrics", json=body, headers=key[B]).json()["id"]
        for customer in ("user_1", ONLY_IN_A):
            value = client.get(
                f"/v1/metrics/{metric}/value?customerId={customer}", headers=key[B]
            ).json()["value"]
            assert value == len(customer_events(oracle, B, customer))
        assert len(customer_events(oracle, B, ONLY_IN_A)) == 0
        assert len(customer_events(oracle, A, "user_1")) > 0
        # the organization's value: every customer of B's, none of A's
        whole = client.get(f"/v1/metrics/{metric}/value?groupBy=model", headers=key[B]).json()
        b_events = [e for e in oracle if e.organization_id == B and e.end_user_id is not None]
        assert whole["value"] == len(b_events)
        assert sum(g["value"] for g in whole["groups"]) == len(b_events)


def test_another_organizations_limit_is_unknown_everywhere(client, key):
    body = {"name": "Budget", "subject": {"type": "organization"}, "measure": {"type": "cost"},
            "window": {"type": "calendar_month"}, "limit": 5}  # fmt: skip
    created = client.post("/v1/limits", json=body, headers=key[A]).json()
    limit = created["id"]
    unknown = "lim_" + "Z" * 22
    assert limit not in str(client.get("/v1/limits", headers=key[B]).json())
    for method, url, payload in (
        ("get", "/v1/limits/{}", None),
        ("get", "/v1/limits/{}/status", None),
        ("post", "/v1/limits/{}/update", {"limit": 1}),
        ("post", "/v1/limits/{}/delete", None),
    ):
        kwargs = {"json": payload} if payload is not None else {}
        theirs = client.request(method, url.format(limit), headers=key[B], **kwargs)
        nobodys = client.request(method, url.format(unknown), headers=key[B], **kwargs)
        assert theirs.status_code == nobodys.status_code == 404, (method, url)
        message = _comparable(theirs)[1]["error"]["message"]
        assert message.replace(limit, unknown) == _comparable(nobodys)[1]["error"]["message"]
    # nothing of A's changed; A's alerts (its status reached 100%: $5 of a month's cost) are
    # A's alone
    assert client.get(f"/v1/limits/{limit}", headers=key[A]).json() == created
    client.get(f"/v1/limits/{limit}/status", headers=key[A])
    assert len(client.get("/v1/alerts", params={"limitId": limit}, headers=key[A]).json()) == 2
    assert client.get("/v1/alerts", params={"limitId": limit}, headers=key[B]).json() == []
    assert limit not in str(client.get("/v1/alerts", headers=key[B]).json())
    # and a limit on A's metric is not B's to make: as unknown as any other metric
    metric = client.post(
        "/v1/metrics",
        json={"name": "Calls", "queryType": "simple", "aggregationType": "COUNT",
              "eventName": "llm_call", "valueType": "NUMERIC"},
        headers=key[A],
    ).json()["id"]  # fmt: skip
    on_a_metric = {**body, "measure": {"type": "metric", "metricId": metric}}
    refused = client.post("/v1/limits", json=on_a_metric, headers=key[B])
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "METRIC_NOT_FOUND"


def test_another_organizations_webhook_is_unknown_everywhere(client, key):
    made = client.post("/v1/webhooks", json={"url": "https://93.184.216.34/hooks"}, headers=key[A])
    assert made.status_code == 201, made.text
    hook = made.json()["id"]
    unknown = "whk_" + "Z" * 22
    assert hook not in str(client.get("/v1/webhooks", headers=key[B]).json())
    for method, url in (("get", "/v1/webhooks/{}/deliveries"), ("post", "/v1/webhooks/{}/delete")):
        theirs = client.request(method, url.format(hook), headers=key[B])
        nobodys = client.request(method, url.format(unknown), headers=key[B])
        assert theirs.status_code == nobodys.status_code == 404, (method, url)
        message = _comparable(theirs)[1]["error"]["message"]
        assert message.replace(hook, unknown) == _comparable(nobodys)[1]["error"]["message"]
    assert hook in str(client.get("/v1/webhooks", headers=key[A]).json())  # still A's
