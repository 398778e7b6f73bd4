"""The metrics API: definitions (CRUD) and values, checked against the landing files."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.keys.service import create_key
from api.main import create_app
from core.control_store import engine_for, metric_definitions
from tests.api.conftest import auth
from tests.api.metrics_oracle import aggregate, customer_events, json_number, weighted_sum
from tests.conftest import FIXTURE_METRICS

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
AGGREGATIONS = ("COUNT", "SUM", "MAX", "MIN", "AVG", "LATEST")
SIMPLE = {
    "name": "Pages processed",
    "queryType": "simple",
    "aggregationType": "SUM",
    "eventName": "document_processed",
    "valueType": "NUMERIC",
}
COMPLEX = {
    "name": "EU logins",
    "queryType": "complex",
    "sqlDefinition": "select count(*) from filtered_events "
    "where event_name = 'user-login' and properties->>'region' = 'eu'",
}


@pytest.fixture(scope="module")
def writer(built_home) -> dict[str, str]:
    """Keys with both metrics scopes, for acme and for globex."""
    settings, _ = built_home
    engine = engine_for(settings.control_store_url)
    scopes = ["metrics:read", "metrics:write"]
    return {
        org: create_key(engine, org, scopes, "test", settings.clock())[1]
        for org in ("acme", "globex")
    }


@pytest.fixture(scope="module")
def fixture_metric_ids(client, keys) -> dict[str, str]:
    listed = client.get("/v1/metrics", headers=auth(keys.acme)).json()
    return {m["name"]: m["id"] for m in listed if m["name"] in FIXTURE_METRICS}


@pytest.fixture(scope="module")
def customers(oracle) -> list[str]:
    """acme's two busiest customers."""
    counts = Counter(e.end_user_id for e in oracle if e.organization_id == "acme")
    counts.pop(None, None)
    return [customer for customer, _ in counts.most_common(2)]


def create(client, key: str, body: dict) -> dict:
    response = client.post("/v1/metrics", json=body, headers=auth(key))
    assert response.status_code == 201, response.text
    return response.json()


def value(client, key: str, metric_id: str, **params):
    return client.get(f"/v1/metrics/{metric_id}/value", params=params, headers=auth(key))


def assert_error(response, status: int, code: str, text: str = "") -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert text in error["message"]


class TestListMetrics:
    def test_401_without_a_key(self, client):
        assert_error(client.get("/v1/metrics"), 401, "UNAUTHORIZED")

    def test_403_without_the_metrics_read_scope(self, client, keys):
        assert_error(client.get("/v1/metrics", headers=auth(keys.globex)), 403, "FORBIDDEN")

    def test_another_organization_sees_none_of_acmes_metrics(self, client, writer):
        listed = client.get("/v1/metrics", headers=auth(writer["globex"])).json()
        assert all(m["name"] not in FIXTURE_METRICS for m in listed)

    def test_lists_the_organizations_metrics(self, client, keys):
        listed = client.get("/v1/metrics", headers=auth(keys.acme)).json()
        assert set(FIXTURE_METRICS) <= {m["name"] for m in listed}
        first = next(m for m in listed if m["name"] == "Unique devices")
        assert first["queryType"] == "indexed"
        assert first["sqlDefinition"] == FIXTURE_METRICS["Unique devices"]
        assert first["aggregationType"] is None and first["eventName"] is None
        assert first["createdAt"] == "2026-11-24T12:00:00.000Z"


class TestCreateMetric:
    def test_401_with_a_revoked_key(self, client, keys):
        response = client.post("/v1/metrics", json=SIMPLE, headers=auth(keys.revoked))
        assert_error(response, 401, "UNAUTHORIZED")

    def test_403_without_the_metrics_write_scope(self, client, keys):
        response = client.post("/v1/metrics", json=SIMPLE, headers=auth(keys.acme))
        assert_error(response, 403, "FORBIDDEN", "metrics:write")

    def test_creates_a_simple_metric_as_the_spec_shows(self, client, writer):
        body = {**SIMPLE, "description": "Pages of documents processed."}
        created = create(client, writer["acme"], body)
        assert re.fullmatch(r"met_[A-Za-z0-9]{22}", created["id"])
        assert {k: created[k] for k in body} == body
        assert created["sqlDefinition"] is None
        assert created["createdAt"] == created["updatedAt"] == "2026-11-24T12:00:00.000Z"
        fetched = client.get(f"/v1/metrics/{created['id']}", headers=auth(writer["acme"]))
        assert fetched.json() == created

    def test_accepts_the_spec_example_word_for_word(self, client, writer):
        body = {
            "name": "API Calls",
            "description": "Total number of API calls.",
            "queryType": "simple",
            "aggregationType": "COUNT",
            "eventName": "api_call",
            "valueType": "NUMERIC",
        }
        assert {k: v for k, v in create(client, writer["acme"], body).items() if k in body} == body

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({**SIMPLE, "eventName": None}, "needs eventName"),
            ({k: v for k, v in SIMPLE.items() if k != "aggregationType"}, "aggregationType"),
            ({**SIMPLE, "sqlDefinition": "select 1"}, "takes no sqlDefinition"),
            ({**SIMPLE, "aggregationType": "MEDIAN"}, "aggregationType"),
            ({**SIMPLE, "valueType": "BOOLEAN"}, "valueType"),
            ({**SIMPLE, "valueType": "STRING"}, "SUM needs valueType NUMERIC"),
            ({**SIMPLE, "aggregationType": "UNIQUE_COUNT"}, "needs valueType STRING"),
            ({**SIMPLE, "name": "x" * 101}, "name"),
            ({**SIMPLE, "queryType": "fancy"}, "queryType"),
            ({**COMPLEX, "eventName": "api_call"}, "takes no eventName"),
            ({**COMPLEX, "sqlDefinition": None}, "needs sqlDefinition"),
            ({**SIMPLE, "colour": "red"}, "colour"),
        ],
    )
    def test_refuses_an_invalid_definition(self, client, writer, body, message):
        response = client.post("/v1/metrics", json=body, headers=auth(writer["acme"]))
        assert_error(response, 400, "VALIDATION_ERROR", message)

    @pytest.mark.parametrize(
        ("sql", "message"),
        [
            ("select event_string from filtered_events limit 1", "must return a number"),
            ("select count(*), sum(event_value) from filtered_events", "exactly one column"),
            ("select sum(no_such_column) from filtered_events", "no_such_column"),
            ("delete from filtered_events", "must be a SELECT"),
        ],
    )
    def test_refuses_sql_that_cannot_give_one_number(self, client, writer, sql, message):
        body = {**COMPLEX, "sqlDefinition": sql}
        response = client.post("/v1/metrics", json=body, headers=auth(writer["acme"]))
        assert_error(response, 400, "INVALID_METRIC_SQL", message)


class TestGetMetric:
    def test_401_without_a_key(self, client, fixture_metric_ids):
        response = client.get(f"/v1/metrics/{fixture_metric_ids['EU pages']}")
        assert_error(response, 401, "UNAUTHORIZED")

    def test_403_without_the_metrics_read_scope(self, client, keys, fixture_metric_ids):
        response = client.get(
            f"/v1/metrics/{fixture_metric_ids['EU pages']}", headers=auth(keys.globex)
        )
        assert_error(response, 403, "FORBIDDEN")

    def test_another_organizations_metric_is_not_found(self, client, writer, fixture_metric_ids):
        metric_id = fixture_metric_ids["EU pages"]
        response = client.get(f"/v1/metrics/{metric_id}", headers=auth(writer["globex"]))
        assert_error(response, 404, "METRIC_NOT_FOUND", metric_id)

    def test_an_unknown_id_is_not_found(self, client, keys):
        response = client.get("/v1/metrics/met_0000000000000000000000", headers=auth(keys.acme))
        assert_error(response, 404, "METRIC_NOT_FOUND")

    def test_returns_the_definition(self, client, keys, fixture_metric_ids):
        metric_id = fixture_metric_ids["EU pages"]
        got = client.get(f"/v1/metrics/{metric_id}", headers=auth(keys.acme)).json()
        assert got["id"] == metric_id and got["name"] == "EU pages"
        assert got["sqlDefinition"] == FIXTURE_METRICS["EU pages"]


class TestUpdateMetric:
    def test_401_without_a_key(self, client, fixture_metric_ids):
        response = client.post(
            f"/v1/metrics/{fixture_metric_ids['EU pages']}/update", json={"name": "x"}
        )
        assert_error(response, 401, "UNAUTHORIZED")

    def test_403_without_the_metrics_write_scope(self, client, keys, fixture_metric_ids):
        response = client.post(
            f"/v1/metrics/{fixture_metric_ids['EU pages']}/update",
            json={"name": "x"},
            headers=auth(keys.acme),
        )
        assert_error(response, 403, "FORBIDDEN")

    def test_another_organization_cannot_change_it(self, client, writer, keys, fixture_metric_ids):
        metric_id = fixture_metric_ids["EU pages"]
        response = client.post(
            f"/v1/metrics/{metric_id}/update",
            json={"name": "stolen"},
            headers=auth(writer["globex"]),
        )
        assert_error(response, 404, "METRIC_NOT_FOUND")
        got = client.get(f"/v1/metrics/{metric_id}", headers=auth(keys.acme)).json()
        assert got["name"] == "EU pages"

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"aggregationType": "COUNT"}, "aggregationType"),
            ({"valueType": "STRING"}, "valueType"),
            ({"queryType": "complex"}, "queryType"),
        ],
    )
    def test_immutable_fields_cannot_change(self, client, writer, change, field):
        metric = create(client, writer["acme"], SIMPLE)
        response = client.post(
            f"/v1/metrics/{metric['id']}/update", json=change, headers=auth(writer["acme"])
        )
        assert_error(response, 400, "VALIDATION_ERROR", f"{field} cannot change")

    def test_changes_only_the_fields_sent(self, client, writer):
        metric = create(client, writer["acme"], {**SIMPLE, "description": "before"})
        response = client.post(
            f"/v1/metrics/{metric['id']}/update",
            json={"name": "Pages", "aggregationType": "SUM"},  # the same type is no change
            headers=auth(writer["acme"]),
        )
        assert response.status_code == 200, response.text
        assert response.json() == {**metric, "name": "Pages"}

    def test_new_sql_is_checked_like_a_new_metric(self, client, writer):
        metric = create(client, writer["acme"], COMPLEX)
        response = client.post(
            f"/v1/metrics/{metric['id']}/update",
            json={"sqlDefinition": "select * from pg_tables"},
            headers=auth(writer["acme"]),
        )
        assert_error(response, 400, "INVALID_METRIC_SQL", "pg_tables")


class TestDeleteMetric:
    def test_401_without_a_key(self, client, fixture_metric_ids):
        response = client.post(f"/v1/metrics/{fixture_metric_ids['EU pages']}/delete")
        assert_error(response, 401, "UNAUTHORIZED")

    def test_another_organization_cannot_delete_it(self, client, writer, keys, fixture_metric_ids):
        metric_id = fixture_metric_ids["EU pages"]
        response = client.post(f"/v1/metrics/{metric_id}/delete", headers=auth(writer["globex"]))
        assert_error(response, 404, "METRIC_NOT_FOUND")
        assert client.get(f"/v1/metrics/{metric_id}", headers=auth(keys.acme)).status_code == 200

    def test_soft_delete_hides_it_everywhere_and_keeps_the_row(
        self, client, writer, built_home, customers
    ):
        key = writer["acme"]
        metric_id = create(client, key, SIMPLE)["id"]
        response = client.post(f"/v1/metrics/{metric_id}/delete", headers=auth(key))
        assert response.status_code == 200
        assert response.json() == {"id": metric_id, "deleted": True}
        assert metric_id not in [
            m["id"] for m in client.get("/v1/metrics", headers=auth(key)).json()
        ]
        assert_error(
            client.get(f"/v1/metrics/{metric_id}", headers=auth(key)), 404, "METRIC_NOT_FOUND"
        )
        assert_error(
            value(client, key, metric_id, customerId=customers[0]), 404, "METRIC_NOT_FOUND"
        )
        again = client.post(f"/v1/metrics/{metric_id}/delete", headers=auth(key))
        assert_error(again, 404, "METRIC_NOT_FOUND")
        settings, _ = built_home
        with engine_for(settings.control_store_url).connect() as con:
            row = con.execute(
                sa.select(metric_definitions.c.name, metric_definitions.c.deleted_at).where(
                    metric_definitions.c.metric_id == metric_id
                )
            ).one()
        assert row.name == SIMPLE["name"] and row.deleted_at == datetime(2026, 11, 24, 12)


# Timeframes as query parameters, with the window [start, end) each one stands for.
TIMEFRAMES = [
    ({}, None, None),
    ({"timeframe": "ALL"}, None, None),
    ({"timeframe": "RELATIVE", "days": 7}, NOW - timedelta(days=7), NOW + timedelta(microseconds=1)),
    ({"timeframe": '{"type":"RELATIVE","days":30}'}, NOW - timedelta(days=30), NOW + timedelta(microseconds=1)),
    (
        {"timeframe": "ABSOLUTE", "start": "2026-10-03T10:17:00Z", "end": "2026-11-20T08:45:30Z"},
        datetime(2026, 10, 3, 10, 17, tzinfo=UTC),
        datetime(2026, 11, 20, 8, 45, 30, tzinfo=UTC),
    ),
    (
        {"timeframe[type]": "ABSOLUTE", "timeframe[start]": "2026-11-01", "timeframe[end]": "2026-11-15"},
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 16, tzinfo=UTC),
    ),
]  # fmt: skip


class TestMetricValue:
    def test_401_without_a_key(self, client, fixture_metric_ids, customers):
        response = client.get(
            f"/v1/metrics/{fixture_metric_ids['EU pages']}/value",
            params={"customerId": customers[0]},
        )
        assert_error(response, 401, "UNAUTHORIZED")

    def test_403_without_the_metrics_read_scope(self, client, keys, fixture_metric_ids, customers):
        response = value(
            client, keys.globex, fixture_metric_ids["EU pages"], customerId=customers[0]
        )
        assert_error(response, 403, "FORBIDDEN")

    def test_another_organizations_metric_is_not_found(
        self, client, writer, fixture_metric_ids, customers
    ):
        response = value(
            client, writer["globex"], fixture_metric_ids["EU pages"], customerId=customers[0]
        )
        assert_error(response, 404, "METRIC_NOT_FOUND")

    @pytest.mark.parametrize("aggregation", [*AGGREGATIONS, "UNIQUE_COUNT"])
    def test_without_a_customer_the_value_is_the_organizations(
        self, client, writer, oracle, aggregation
    ):
        value_type = "STRING" if aggregation == "UNIQUE_COUNT" else "NUMERIC"
        event_type = {"SUM": "llm_call", "AVG": "llm_call", "UNIQUE_COUNT": "user-login"}.get(
            aggregation, "document_processed"
        )
        metric = create(client, writer["acme"], {**SIMPLE, "aggregationType": aggregation,
                                                   "eventName": event_type, "valueType": value_type})  # fmt: skip
        # every acme event with a customer (events without a userId belong to no customer)
        events = [e for e in oracle if e.organization_id == "acme" and e.end_user_id is not None]
        got = value(client, writer["acme"], metric["id"]).json()
        assert got["customerId"] is None and got["groups"] is None
        assert got["value"] == json_number(aggregate(events, event_type, aggregation))
        # a rolling window, its edges inside hours: the 7 x 24 hours ending now, both included
        week = [
            e for e in events if NOW - timedelta(days=7) <= e.event_at.replace(tzinfo=UTC) <= NOW
        ]
        for _ in range(2):  # read from the snapshot, then from the series in memory
            got = value(client, writer["acme"], metric["id"], timeframe="RELATIVE", days=7).json()
            assert got["value"] == json_number(aggregate(week, event_type, aggregation))
        assert 0 < len(week) < len(events)

    @pytest.mark.parametrize("aggregation", ["COUNT", "SUM", "MAX", "LATEST", "WEIGHTED_SUM"])
    def test_group_by_a_metadata_key(self, client, writer, oracle, customers, aggregation):
        metric = create(client, writer["acme"], {**SIMPLE, "aggregationType": aggregation,
                                                   "eventName": "llm_call"})  # fmt: skip
        customer = customers[0]
        events = customer_events(oracle, "acme", customer)
        by_model: dict = {}
        for e in events:
            if e.body["eventType"] == "llm_call":
                by_model.setdefault(e.body.get("metadata", {}).get("model"), []).append(e)
        got = value(client, writer["acme"], metric["id"], customerId=customer, groupBy="model")
        assert got.status_code == 200, got.text
        body = got.json()

        def expected(rows):
            if aggregation == "WEIGHTED_SUM":
                return float(weighted_sum(rows, "llm_call", None, NOW))
            return json_number(aggregate(rows, "llm_call", aggregation))

        keys = sorted(by_model, key=lambda k: (k is None, k or ""))
        assert [g["key"] for g in body["groups"]] == keys and len(keys) > 1
        for group in body["groups"]:
            assert group["value"] == pytest.approx(expected(by_model[group["key"]]), rel=1e-12)
        assert body["value"] == pytest.approx(expected(events), rel=1e-12)

    def test_a_sql_metric_by_organization_and_by_group(self, client, writer, oracle):
        metric = create(client, writer["acme"], {**COMPLEX, "sqlDefinition": "select count(*) from filtered_events where event_name = 'user-login'"})  # fmt: skip
        logins = [e for e in oracle if e.organization_id == "acme" and e.end_user_id is not None
                  and e.body["eventType"] == "user-login"]  # fmt: skip
        got = value(client, writer["acme"], metric["id"], groupBy="region").json()
        # a SQL metric's groups are those of the events it is given (every type): events
        # without a region are a group too, in which this metric counts no login
        regions = {
            (e.body.get("metadata") or {}).get("region"): 0
            for e in oracle
            if e.organization_id == "acme" and e.end_user_id is not None
        }
        for e in logins:
            regions[e.body["metadata"]["region"]] += 1
        assert got["value"] == len(logins)
        assert {g["key"]: g["value"] for g in got["groups"]} == regions
        assert got["groups"][-1]["key"] is None  # null last
        assert got["precomputed"] is False

    def test_an_invalid_group_by_is_a_400(self, client, writer, fixture_metric_ids):
        response = value(client, writer["acme"], fixture_metric_ids["EU pages"], groupBy="a b")
        assert_error(response, 400, "VALIDATION_ERROR", "groupBy")

    @pytest.mark.parametrize(
        ("params", "message"),
        [
            ({"timeframe": "YESTERDAY"}, "Invalid timeframe type: YESTERDAY"),
            ({"timeframe": "RELATIVE"}, "needs days"),
            ({"timeframe": '{"type":"RELATIVE","days":0}'}, "between 1 and 400"),
            ({"timeframe": '{"type":"RELATIVE","days":"a week"}'}, "whole number"),
            ({"timeframe": "ABSOLUTE", "start": "2026-11-01"}, "needs both start and end"),
            ({"timeframe": "ABSOLUTE", "start": "2026-11-10", "end": "2026-11-01"}, "after"),
            ({"timeframe": "ABSOLUTE", "start": "last monday", "end": "2026-11-01"}, "ISO-8601"),
            ({"timeframe": '{"type":"ALL"'}, "not valid JSON"),
            ({"timeframe": '{"type":"ALL","colour":"red"}'}, "Unknown timeframe field"),
            ({"timeframe": "ALL", "days": 7}, "takes no days"),
            ({"timeframe": '{"type":"RELATIVE","days":7}', "days": 8}, "given twice"),
        ],
    )
    def test_an_invalid_timeframe_is_a_400(
        self, client, keys, fixture_metric_ids, customers, params, message
    ):
        response = value(
            client, keys.acme, fixture_metric_ids["EU pages"], customerId=customers[0], **params
        )
        assert_error(response, 400, "INVALID_TIMEFRAME", message)

    @pytest.mark.parametrize("aggregation", AGGREGATIONS)
    @pytest.mark.parametrize(("params", "start", "end"), TIMEFRAMES)
    def test_simple_metrics_exact_for_every_aggregation_and_timeframe(
        self, client, writer, oracle, customers, aggregation, params, start, end
    ):
        event_type = "llm_call" if aggregation in ("SUM", "AVG") else "document_processed"
        metric = create(
            client,
            writer["acme"],
            {**SIMPLE, "aggregationType": aggregation, "eventName": event_type},
        )
        for customer in customers:
            events = customer_events(oracle, "acme", customer, start, end)
            expected = aggregate(events, event_type, aggregation)
            response = value(client, writer["acme"], metric["id"], customerId=customer, **params)
            assert response.status_code == 200, response.text
            got = response.json()
            assert got["value"] == json_number(expected), (customer, params)
            assert got["precomputed"] is False and got["queryType"] == "simple"
            assert expected, "the fixture has such events for each customer and timeframe"

    @pytest.mark.parametrize(("params", "start", "end"), TIMEFRAMES)
    def test_weighted_sum_is_the_gauges_value_hours(
        self, client, writer, oracle, customers, params, start, end
    ):
        metric = create(
            client,
            writer["acme"],
            {**SIMPLE, "aggregationType": "WEIGHTED_SUM", "eventName": "document_processed"},
        )
        for customer in customers:
            events = customer_events(oracle, "acme", customer)  # all: a value carries in
            expected = weighted_sum(events, "document_processed", start, min(end or NOW, NOW))
            got = value(client, writer["acme"], metric["id"], customerId=customer, **params).json()
            assert got["value"] == pytest.approx(float(expected), rel=1e-12), (customer, params)
            assert expected > 0

    @pytest.mark.parametrize(("params", "start", "end"), TIMEFRAMES)
    def test_simple_unique_count_counts_distinct_string_values(
        self, client, writer, oracle, customers, params, start, end
    ):
        metric = create(
            client,
            writer["acme"],
            {**SIMPLE, "aggregationType": "UNIQUE_COUNT", "valueType": "STRING", "eventName": "user-login"},
        )  # fmt: skip
        for customer in customers:
            events = customer_events(oracle, "acme", customer, start, end)
            got = value(client, writer["acme"], metric["id"], customerId=customer, **params).json()
            assert got["value"] == aggregate(events, "user-login", "UNIQUE_COUNT")
        assert got["value"] > 1  # the busiest customers signed in from several devices

    def test_the_spec_response_shape(self, client, writer, oracle, customers):
        metric = create(
            client, writer["acme"], {**SIMPLE, "aggregationType": "COUNT", "eventName": "api_call"}
        )
        got = value(client, writer["acme"], metric["id"], customerId=customers[0]).json()
        expected = aggregate(customer_events(oracle, "acme", customers[0]), "api_call", "COUNT")
        assert got == {
            "id": metric["id"],
            "name": metric["name"],
            "customerId": customers[0],
            "value": expected,
            "queryType": "simple",
            "timeframe": {"type": "ALL", "days": None, "start": None, "end": None},
            "groups": None,
            "precomputed": False,
            "asOf": "2026-11-24T12:00:00.000Z",
        }

    def test_a_customer_never_seen_has_count_zero_and_no_maximum(self, client, writer):
        count = create(client, writer["acme"], {**SIMPLE, "aggregationType": "COUNT"})
        largest = create(client, writer["acme"], {**SIMPLE, "aggregationType": "MAX"})
        assert value(client, writer["acme"], count["id"], customerId="nobody").json()["value"] == 0
        assert (
            value(client, writer["acme"], largest["id"], customerId="nobody").json()["value"]
            is None
        )

    def test_complex_metric_on_demand(self, client, writer, oracle, customers):
        metric = create(client, writer["acme"], COMPLEX)
        for params, start, end in TIMEFRAMES:
            for customer in customers:
                events = customer_events(oracle, "acme", customer, start, end)
                expected = sum(
                    1
                    for e in events
                    if e.body["eventType"] == "user-login" and e.body["metadata"]["region"] == "eu"
                )
                got = value(client, writer["acme"], metric["id"], customerId=customer, **params)
                assert got.json()["value"] == expected, (customer, params)
                assert got.json()["precomputed"] is False

    def test_a_server_that_keeps_no_customer_answers_the_same(
        self, built_home, client, writer, oracle, customers
    ):
        """TALLYHOUSE_METRIC_CACHE_ROWS=0: every request reads the customer's events again
        (docs/metrics.md#how-fast); the values are those of a server that keeps them."""
        settings, _ = built_home
        keeps_none = settings.model_copy(update={"rate_limit": 0, "metric_cache_rows": 0})
        summed = create(
            client, writer["acme"], {**SIMPLE, "aggregationType": "SUM", "eventName": "llm_call"}
        )
        eu_logins = create(client, writer["acme"], COMPLEX)
        with TestClient(create_app(keeps_none)) as uncached:
            for customer in customers:
                events = customer_events(oracle, "acme", customer)
                logins = sum(
                    1
                    for e in events
                    if e.body["eventType"] == "user-login" and e.body["metadata"]["region"] == "eu"
                )
                expected = {
                    summed["id"]: json_number(aggregate(events, "llm_call", "SUM")),
                    eu_logins["id"]: logins,
                }
                for metric_id, wanted in expected.items():
                    for server in (uncached, uncached, client):
                        got = value(server, writer["acme"], metric_id, customerId=customer)
                        assert got.json()["value"] == wanted, (customer, metric_id)

    def test_another_organizations_key_never_sees_acmes_rows(
        self, client, writer, oracle, customers
    ):
        """The same SQL and customer id under globex counts only globex's events."""
        body = {**COMPLEX, "sqlDefinition": "select count(*) from filtered_events"}
        globex_metric = create(client, writer["globex"], body)
        acme_metric = create(client, writer["acme"], body)
        for customer in customers:
            for org, metric in (("globex", globex_metric), ("acme", acme_metric)):
                got = value(client, writer[org], metric["id"], customerId=customer).json()
                assert got["value"] == len(customer_events(oracle, org, customer)), org


def eu_pages(oracle, customer: str, start=None, end=None) -> Decimal:
    return sum(
        (
            Decimal(str(e.body["quantity"]))
            for e in customer_events(oracle, "acme", customer, start, end)
            if e.body["eventType"] == "document_processed" and e.body["metadata"]["region"] == "eu"
        ),
        Decimal(0),
    )


class TestIndexedMetricValue:
    @pytest.mark.parametrize(
        ("params", "start", "end"),
        [
            ({}, None, None),
            ({"timeframe": "RELATIVE", "days": 7}, NOW - timedelta(days=7), NOW + ONE_US),
            ({"timeframe": "RELATIVE", "days": 30}, NOW - timedelta(days=30), NOW + ONE_US),
            ({"timeframe": "RELATIVE", "days": 90}, NOW - timedelta(days=90), NOW + ONE_US),
            (
                {"timeframe": "ABSOLUTE", "start": "2026-10-01", "end": "2026-10-31"},
                datetime(2026, 10, 1, tzinfo=UTC),
                datetime(2026, 11, 1, tzinfo=UTC),
            ),
            (
                {"timeframe": "ABSOLUTE", "start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
                datetime(2026, 11, 1, tzinfo=UTC),
                datetime(2026, 12, 1, tzinfo=UTC),
            ),
        ],
    )  # fmt: skip
    def test_standard_slices_are_read_from_the_build(
        self, client, keys, oracle, customers, fixture_metric_ids, params, start, end
    ):
        answers = []
        for customer in customers:
            response = value(
                client, keys.acme, fixture_metric_ids["EU pages"], customerId=customer, **params
            )
            got = response.json()
            assert got["precomputed"] is True, got
            assert got["asOf"] == "2026-11-24T12:00:00.000Z"
            assert got["value"] == json_number(eu_pages(oracle, customer, start, end))
            answers.append(got["value"])
        assert any(answers), "the fixture has EU pages in every slice"

    def test_other_timeframes_are_evaluated_on_demand(
        self, client, keys, oracle, customers, fixture_metric_ids
    ):
        for customer in customers:
            got = value(
                client,
                keys.acme,
                fixture_metric_ids["EU pages"],
                customerId=customer,
                timeframe="RELATIVE",
                days=14,
            ).json()
            assert got["precomputed"] is False
            window = (NOW - timedelta(days=14), NOW + timedelta(microseconds=1))
            assert got["value"] == json_number(eu_pages(oracle, customer, *window))
            assert got["timeframe"] == {
                "type": "RELATIVE",
                "days": 14,
                "start": "2026-11-10T12:00:00.000Z",
                "end": "2026-11-24T12:00:00.000Z",
            }

    def test_distinct_counts_and_averages_of_each_month_match_the_events(
        self, client, keys, oracle, customers, fixture_metric_ids
    ):
        for month in (9, 10, 11):
            start, end = (
                datetime(2026, month, 1, tzinfo=UTC),
                datetime(2026, month + 1, 1, tzinfo=UTC),
            )
            params = {"timeframe": "ABSOLUTE", "start": start.isoformat(), "end": end.isoformat()}
            for customer in customers:
                events = customer_events(oracle, "acme", customer, start, end)
                devices = value(
                    client,
                    keys.acme,
                    fixture_metric_ids["Unique devices"],
                    customerId=customer,
                    **params,
                ).json()
                assert devices["precomputed"] is True
                assert devices["value"] == aggregate(events, "user-login", "UNIQUE_COUNT")
                average = value(
                    client,
                    keys.acme,
                    fixture_metric_ids["Average request tokens"],
                    customerId=customer,
                    **params,
                ).json()
                requests = [
                    e
                    for e in events
                    if e.body["eventType"] == "llm_call" and e.body["metricName"] == "tokens"
                ]
                expected = (
                    sum(Decimal(str(e.body["quantity"])) for e in requests) / len(requests)
                    if requests
                    else None
                )
                assert average["value"] == pytest.approx(
                    None if expected is None else float(expected), rel=1e-12
                )
        # fmt: skip

    def test_a_metric_created_since_the_build_is_evaluated_on_demand(
        self, client, writer, oracle, customers
    ):
        metric = create(client, writer["acme"], {**COMPLEX, "queryType": "indexed"})
        got = value(client, writer["acme"], metric["id"], customerId=customers[0]).json()
        assert got["precomputed"] is False
        events = customer_events(oracle, "acme", customers[0])
        assert got["value"] == sum(
            1 for e in events if e.body["eventType"] == "user-login" and e.body["metadata"]["region"] == "eu"
        )  # fmt: skip

    def test_a_metric_changed_since_the_build_is_not_answered_from_the_old_sql(
        self, client, writer, fixture_metric_ids, customers, oracle
    ):
        metric_id = fixture_metric_ids["Changed after the build"]
        events = customer_events(oracle, "acme", customers[0])
        before = value(client, writer["acme"], metric_id, customerId=customers[0]).json()
        assert before["precomputed"] is True and before["value"] == len(events)
        changed = client.post(
            f"/v1/metrics/{metric_id}/update",
            json={
                "sqlDefinition": "select count(*) from filtered_events where event_name = 'api_call'"
            },
            headers=auth(writer["acme"]),
        )
        assert changed.status_code == 200
        after = value(client, writer["acme"], metric_id, customerId=customers[0]).json()
        assert after["precomputed"] is False
        assert after["value"] == aggregate(events, "api_call", "COUNT")
        # fmt: skip

    def test_a_result_of_several_rows_is_refused_as_on_demand(
        self, client, keys, fixture_metric_ids, customers
    ):
        response = value(
            client, keys.acme, fixture_metric_ids["One row per call"], customerId=customers[0]
        )
        assert_error(response, 400, "METRIC_QUERY_FAILED", "exactly one row")  # fmt: skip

    def test_a_runaway_query_is_not_pre_computed_and_stops_on_demand(
        self, client, keys, fixture_metric_ids, customers, snapshot
    ):
        metric_id = fixture_metric_ids["Runaway"]
        rows = snapshot.execute(
            "select count(*) from fct_metric_values where metric_id = ?", [metric_id]
        ).fetchone()[0]
        assert rows == 0
        started = datetime.now(UTC)
        response = value(client, keys.acme, metric_id, customerId=customers[0])
        assert_error(response, 400, "METRIC_QUERY_TIMEOUT", "time limit of 1 s")
        assert datetime.now(UTC) - started < timedelta(seconds=10)
