"""Limits (docs/limits.md): definitions, and the status check against the oracle — cost from
the landing files priced independently, metric usage from the events posted."""

from __future__ import annotations

import csv
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from fastapi.testclient import TestClient

from api.keys.service import SCOPES, create_key
from api.limits import alerts, evaluate, service
from api.main import create_app
from core.control_store import engine_for
from tests.api.conftest import auth
from tests.api.webhook_receiver import Receiver, signature_is_valid

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
CENT = Decimal("0.01")
EACH_END_USER = {"type": "end_user"}
MONTH = {"type": "calendar_month"}


@pytest.fixture(scope="module")
def server(home_copy_module):
    """A client on a private copy of the built home (these tests post events), and keys with
    every scope for acme and globex."""
    # webhooks to a receiver on this machine, retried after ~0.1 – 0.3 s (then doubling)
    settings = home_copy_module.model_copy(
        update={"rate_limit": 0, "webhook_allow_private": True, "webhook_retry_seconds": 0.2}
    )
    engine = engine_for(settings.control_store_url)
    keys = {
        org: create_key(engine, org, list(SCOPES), "test", settings.clock())[1]
        for org in ("acme", "globex")
    }
    with TestClient(create_app(settings)) as client:
        yield client, keys, settings


def create(client, key: str, **body) -> dict:
    body = {"name": "Budget", "subject": EACH_END_USER, "measure": {"type": "cost"},
            "window": MONTH, "limit": 5, **body}  # fmt: skip
    response = client.post("/v1/limits", json=body, headers=auth(key))
    assert response.status_code == 201, response.text
    return response.json()


def simple_metric(client, key: str, aggregation: str, event_name: str) -> str:
    """A simple metric of `event_name` events' quantities; its id."""
    body = {"name": event_name, "queryType": "simple", "aggregationType": aggregation,
            "eventName": event_name, "valueType": "NUMERIC"}  # fmt: skip
    return client.post("/v1/metrics", json=body, headers=auth(key)).json()["id"]


def status(client, key: str, limit_id: str, **params):
    return client.get(f"/v1/limits/{limit_id}/status", params=params, headers=auth(key))


def cost_of(oracle, start: datetime, end: datetime, **where) -> Decimal:
    """The oracle's cost of acme's events in [start, end) with the given attributes."""
    start, end = (moment.astimezone(UTC).replace(tzinfo=None) for moment in (start, end))
    return sum(
        (
            e.cost_usd
            for e in oracle
            if e.organization_id == "acme"
            and start <= e.event_at < end
            and all(getattr(e, name) == value for name, value in where.items())
        ),
        Decimal(0),
    )


def busiest_end_user(oracle) -> str:
    november = [e.end_user_id for e in oracle if e.organization_id == "acme" and e.end_user_id]
    return max(set(november), key=november.count)


class TestDefinitions:
    def test_created_with_the_documented_defaults_then_read_updated_and_deleted(self, server):
        client, keys, _ = server
        made = create(client, keys["acme"], limit="5.25")
        assert made["id"].startswith("lim_") and len(made["id"]) == 26
        assert (made["thresholds"], made["hard"], made["limit"]) == ([80, 100], False, 5.25)
        assert made["subject"] == {"type": "end_user", "id": None}
        assert client.get(f"/v1/limits/{made['id']}", headers=auth(keys["acme"])).json() == made
        listed = client.get("/v1/limits", headers=auth(keys["acme"])).json()
        assert made["id"] in [limit["id"] for limit in listed]
        changed = client.post(
            f"/v1/limits/{made['id']}/update",
            json={"limit": 7, "thresholds": [100, 50], "hard": True},
            headers=auth(keys["acme"]),
        ).json()
        assert (changed["limit"], changed["thresholds"], changed["hard"]) == (7, [50, 100], True)
        assert changed["name"] == "Budget" and changed["window"] == made["window"]
        gone = client.post(f"/v1/limits/{made['id']}/delete", headers=auth(keys["acme"]))
        assert gone.json() == {"id": made["id"], "deleted": True}
        again = client.get(f"/v1/limits/{made['id']}", headers=auth(keys["acme"]))
        assert again.status_code == 404 and again.json()["error"]["code"] == "LIMIT_NOT_FOUND"

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"subject": {"type": "organization", "id": "acme"}}, "takes no id"),
            ({"measure": {"type": "metric"}}, "metricId is needed"),
            ({"measure": {"type": "cost", "metricId": "met_x"}}, "metricId is needed"),
            ({"window": {"type": "rolling_days"}}, "days is needed"),
            ({"window": {"type": "calendar_day", "days": 3}}, "days is needed"),
            ({"window": {"type": "rolling_days", "days": 401}}, "400"),
            ({"thresholds": [80, 80]}, "differ"),
            ({"thresholds": [0]}, "greater than or equal to 1"),
            ({"limit": 0}, "greater than 0"),
            ({"subject": {"type": "planet"}}, "subject"),
            (
                {"measure": {"type": "metric", "metricId": "met_x"}, "subject": {"type": "model"}},
                "the organization or an end user",
            ),
        ],
    )
    def test_a_bad_definition_is_a_400_that_says_why(self, server, change, message):
        client, keys, _ = server
        body = {"name": "Budget", "subject": EACH_END_USER, "measure": {"type": "cost"},
                "window": MONTH, "limit": 5, **change}  # fmt: skip
        response = client.post("/v1/limits", json=body, headers=auth(keys["acme"]))
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert message in response.text

    def test_a_metric_limit_needs_the_organizations_own_metric(self, server):
        client, keys, _ = server
        metric = {"id": simple_metric(client, keys["globex"], "COUNT", "llm_call")}
        response = client.post(
            "/v1/limits",
            json={"name": "Calls", "subject": {"type": "organization"}, "window": MONTH,
                  "measure": {"type": "metric", "metricId": metric["id"]}, "limit": 10},
            headers=auth(keys["acme"]),
        )  # fmt: skip
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "METRIC_NOT_FOUND"


class TestCostStatus:
    def test_each_end_users_budget_is_that_end_users_cost_this_month(self, server, oracle):
        client, keys, _ = server
        customer = busiest_end_user(oracle)
        expected = cost_of(oracle, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC), end_user_id=customer)  # fmt: skip
        limit = Decimal("5")
        made = create(client, keys["acme"], limit=str(limit), hard=True)
        got = status(client, keys["acme"], made["id"], subjectId=customer).json()
        assert got == {
            "limitId": made["id"],
            "subjectId": customer,
            "usage": float(expected.quantize(CENT, ROUND_HALF_UP)),
            "limit": 5.0,
            "remaining": float(max(limit - expected, Decimal(0)).quantize(CENT, ROUND_HALF_UP)),
            "percentUsed": float((expected * 100 / limit).quantize(CENT, ROUND_HALF_UP)),
            "hasAccess": expected < limit,
            "periodStart": "2026-11-01T00:00:00.000Z",
            "periodEnd": "2026-11-30T23:59:59.999Z",
            "resetsAt": "2026-12-01T00:00:00.000Z",
            "asOf": got["asOf"],
        }
        assert expected > 0
        built = datetime.fromisoformat(got["asOf"])
        assert built <= NOW  # the build's instant, not the request's

    @pytest.mark.parametrize(
        ("window", "start"),
        [
            ({"type": "calendar_day"}, datetime(2026, 11, 24, tzinfo=UTC)),
            ({"type": "rolling_days", "days": 7}, NOW - timedelta(days=7)),
        ],
    )
    def test_one_models_budget_over_a_day_and_a_rolling_week(self, server, oracle, window, start):
        client, keys, _ = server
        model = next(e.model for e in oracle if e.organization_id == "acme" and e.model)
        end = NOW + timedelta(microseconds=1) if window["type"] == "rolling_days" else start + timedelta(days=1)  # fmt: skip
        expected = cost_of(oracle, start, end, model=model)
        made = create(client, keys["acme"], subject={"type": "model", "id": model}, window=window)
        got = status(client, keys["acme"], made["id"]).json()
        assert got["usage"] == float(expected.quantize(CENT, ROUND_HALF_UP)), (model, window)
        assert got["subjectId"] == model
        if window["type"] == "rolling_days":
            assert (got["periodStart"], got["periodEnd"], got["resetsAt"]) == (
                "2026-11-17T12:00:00.000Z", "2026-11-24T12:00:00.000Z", None
            )  # fmt: skip

    def test_the_organizations_budget(self, server, oracle):
        client, keys, _ = server
        expected = cost_of(oracle, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))  # fmt: skip
        made = create(client, keys["acme"], subject={"type": "organization"}, limit=1_000_000)
        got = status(client, keys["acme"], made["id"]).json()
        assert got["usage"] == float(expected.quantize(CENT, ROUND_HALF_UP))
        assert got["subjectId"] is None and got["hasAccess"] is True
        summary = client.get(
            "/v1/cost-data/summary", params={"time_window": "current-period"},
            headers=auth(keys["acme"]),
        ).json()  # fmt: skip
        assert got["usage"] == summary["totalCost"]  # the same number as the cost endpoints

    @pytest.mark.parametrize(
        ("subject", "params", "message"),
        [
            (EACH_END_USER, {}, "subjectId is needed"),
            ({"type": "organization"}, {"subjectId": "user_1"}, "leave it out"),
            ({"type": "end_user", "id": "user_1"}, {"subjectId": "user_2"}, "user_1's alone"),
        ],
    )
    def test_the_subject_asked_must_fit_the_limit(self, server, subject, params, message):
        client, keys, _ = server
        made = create(client, keys["acme"], subject=subject)
        response = status(client, keys["acme"], made["id"], **params)
        assert response.status_code == 400 and message in response.text


class TestMetricStatus:
    def test_a_hard_entitlement_closes_in_the_request_after_the_event_that_reaches_it(self, server):
        client, keys, _ = server
        metric = {"id": simple_metric(client, keys["acme"], "COUNT", "export")}
        made = create(
            client, keys["acme"], subject={"type": "end_user", "id": "limits-customer"},
            measure={"type": "metric", "metricId": metric["id"]}, limit=2, hard=True,
        )  # fmt: skip
        seen = []
        for n in range(3):
            got = status(client, keys["acme"], made["id"]).json()
            seen.append((got["usage"], got["remaining"], got["percentUsed"], got["hasAccess"]))
            event = {"eventType": "export", "metricName": "exports", "quantity": 1,
                     "idempotencyKey": f"export-{n}", "userId": "limits-customer",
                     "timestamp": "2026-11-24T11:00:00Z"}  # fmt: skip
            assert client.post("/v1/usage/events", json=event, headers=auth(keys["acme"])).status_code == 201  # fmt: skip
        got = status(client, keys["acme"], made["id"]).json()
        seen.append((got["usage"], got["remaining"], got["percentUsed"], got["hasAccess"]))
        assert seen == [
            (0, 2, 0, True), (1, 1, 50, True), (2, 0, 100, False), (3, 0, 150, False)
        ]  # fmt: skip
        assert got["asOf"] == "2026-11-24T12:00:00.000Z"  # the request's: unbuilt events count


class TestPeriods:
    def test_a_daily_budget_starts_again_at_midnight(self, server, oracle):
        """The same limit asked a millisecond before midnight and at midnight (two servers
        with their clocks pinned there): from midnight, only the new day's events count."""
        client, keys, settings = server
        model = next(e.model for e in oracle if e.organization_id == "acme" and e.model)
        made = create(client, keys["acme"], subject={"type": "model", "id": model},
                      window={"type": "calendar_day"})  # fmt: skip
        day = datetime(2026, 11, 23, tzinfo=UTC)
        answers = []
        for now in (day + timedelta(days=1) - timedelta(milliseconds=1), day + timedelta(days=1)):
            pinned = settings.model_copy(update={"rate_limit": 0, "now": now})
            with TestClient(create_app(pinned)) as other:
                answers.append(status(other, keys["acme"], made["id"]).json())
        expected = cost_of(oracle, day, day + timedelta(days=1), model=model)
        assert answers[0]["usage"] == float(expected.quantize(CENT, ROUND_HALF_UP)) > 0
        assert answers[0]["resetsAt"] == answers[1]["periodStart"] == "2026-11-24T00:00:00.000Z"
        # the 24th so far, up to the build (nothing after 12:00 on the 24th was sent)
        assert answers[1]["usage"] == float(
            cost_of(oracle, day + timedelta(days=1), day + timedelta(days=2), model=model).quantize(
                CENT, ROUND_HALF_UP
            )
        )


def alerts_of(client, key: str, limit_id: str) -> list[tuple]:
    listed = client.get("/v1/alerts", params={"limitId": limit_id}, headers=auth(key)).json()
    return sorted((a["subjectId"], a["threshold"], a["periodStart"]) for a in listed)


class TestAlerts:
    def test_an_entitlement_alerts_once_per_threshold_after_the_write_that_reaches_it(self, server):
        client, keys, _ = server
        metric = {"id": simple_metric(client, keys["acme"], "SUM", "report")}
        made = create(
            client, keys["acme"], subject=EACH_END_USER, limit=10, thresholds=[50, 100],
            measure={"type": "metric", "metricId": metric["id"]},
        )  # fmt: skip
        for n, quantity in enumerate((4, 2, 5, 1)):  # 4, 6 (50% reached), 11 (100%), 12
            event = {"eventType": "report", "metricName": "reports", "quantity": quantity,
                     "idempotencyKey": f"report-{n}", "userId": "alerts-customer",
                     "timestamp": "2026-11-24T11:00:00Z"}  # fmt: skip
            assert client.post("/v1/usage/events", json=event, headers=auth(keys["acme"])).status_code == 201  # fmt: skip
            client.app.state.alerts.drain()  # the watcher's evaluation of that write
        month = "2026-11-01T00:00:00.000Z"
        assert alerts_of(client, keys["acme"], made["id"]) == [
            ("alerts-customer", 50, month), ("alerts-customer", 100, month)
        ]  # fmt: skip
        # asking the status again records nothing more
        status(client, keys["acme"], made["id"], subjectId="alerts-customer")
        assert len(alerts_of(client, keys["acme"], made["id"])) == 2
        listed = client.get("/v1/alerts", params={"limitId": made["id"]}, headers=auth(keys["acme"])).json()  # fmt: skip
        assert [(a["usage"], a["limit"]) for a in listed] == [(6, 10), (11, 10)]
        assert client.get("/v1/alerts", params={"limitId": made["id"]}, headers=auth(keys["globex"])).json() == []  # fmt: skip
        # the alerts and the status in CSV: the same rows and values (docs/api.md#csv)
        got = client.get("/v1/alerts", params={"limitId": made["id"], "format": "csv"}, headers=auth(keys["acme"]))  # fmt: skip
        assert list(csv.DictReader(io.StringIO(got.text))) == [
            {name: "" if value is None else str(value) for name, value in alert.items()}
            for alert in listed
        ]
        checked = status(client, keys["acme"], made["id"], subjectId="alerts-customer").json()
        got = status(client, keys["acme"], made["id"], subjectId="alerts-customer", format="csv")
        assert list(csv.DictReader(io.StringIO(got.text))) == [
            {name: "" if value is None else json.dumps(value) if not isinstance(value, str)
             else value for name, value in checked.items()}
        ]  # fmt: skip

    def test_after_a_publish_every_end_users_budget_is_evaluated_once(self, server, oracle):
        client, keys, settings = server
        month = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
        customers = {e.end_user_id for e in oracle if e.organization_id == "acme"} - {None}
        spent = {c: cost_of(oracle, *month, end_user_id=c) for c in customers}
        limit = (max(spent.values()) / 3).quantize(CENT)  # the busiest at ~300%
        made = create(client, keys["acme"], limit=str(limit), thresholds=[50, 100])
        expected = sorted(
            (customer, t, "2026-11-01T00:00:00.000Z")
            for customer, cost in spent.items()
            for t in (50, 100)
            if cost * 100 >= limit * t
        )
        state = client.app.state
        for _ in range(2):  # twice, as two server processes seeing the same publish would
            evaluate.published(state.snapshot.view(), state.store, state.settings, NOW)
        assert alerts_of(client, keys["acme"], made["id"]) == sorted(expected)
        listed = client.get("/v1/alerts", params={"limitId": made["id"]}, headers=auth(keys["acme"])).json()  # fmt: skip
        for alert in listed:  # usage as the status shows it: cents
            assert alert["usage"] == float(spent[alert["subjectId"]].quantize(CENT, ROUND_HALF_UP))
        assert any(t == 100 for _, t, _ in expected) and any(t == 50 for _, t, _ in expected)

    def test_recorded_once_however_many_record_it_at_once(self, server):
        _, _, settings = server
        store = engine_for(settings.control_store_url)
        period = datetime(2026, 11, 1, tzinfo=UTC)

        limit = service.Limit(
            "lim_race", "acme", "Race", "end_user", None, "cost", None, "calendar_month", None,
            Decimal(10), (80, 100), False, NOW, NOW,
        )  # fmt: skip

        def one(_):
            return alerts.record(store, limit, "u", period, [80, 100], Decimal(9), NOW)

        with ThreadPoolExecutor(8) as pool:
            new = sum(pool.map(one, range(16)))
        assert new == 2
        assert [a.threshold for a in alerts.list_alerts(store, "acme", "lim_race", None)] == [80, 100]  # fmt: skip


class TestWebhooks:
    def test_an_alert_is_posted_signed_and_retried_until_it_is_taken(self, server):
        client, keys, _ = server
        receiver = Receiver([500, 503])  # fails twice, then takes it
        made = client.post(
            "/v1/webhooks", json={"url": receiver.url, "description": "ops"},
            headers=auth(keys["acme"]),
        )  # fmt: skip
        assert made.status_code == 201, made.text
        hook = made.json()
        secret = hook["secret"]
        assert secret.startswith("whsec_") and len(secret) == 38 and secret[6:].isalnum()
        listed = client.get("/v1/webhooks", headers=auth(keys["acme"])).json()
        assert {"id": hook["id"], "url": receiver.url, "description": "ops",
                "createdAt": hook["createdAt"]} in listed  # fmt: skip
        assert "secret" not in str(listed)
        metric = simple_metric(client, keys["acme"], "COUNT", "webhook_probe")
        limit = create(
            client, keys["acme"], subject={"type": "organization"}, limit=1, thresholds=[100],
            measure={"type": "metric", "metricId": metric},
        )  # fmt: skip
        event = {"eventType": "webhook_probe", "metricName": "probes", "quantity": 1,
                 "idempotencyKey": "probe-1", "userId": "probe-customer",
                 "timestamp": "2026-11-24T11:00:00Z"}  # fmt: skip
        assert client.post("/v1/usage/events", json=event, headers=auth(keys["acme"])).status_code == 201  # fmt: skip
        receiver.wait_for(3)
        time.sleep(1.0)  # taken at the third: nothing more comes
        assert len(receiver.received) == 3
        bodies = {body for _, body in receiver.received}
        assert len(bodies) == 1  # the same body, and so the same id, on every attempt
        (body,) = bodies
        sent = json.loads(body)
        (alert,) = client.get("/v1/alerts", params={"limitId": limit["id"]}, headers=auth(keys["acme"])).json()  # fmt: skip
        assert (sent["id"], sent["type"]) == (alert["id"], "limit.threshold_reached")
        assert sent["data"]["alert"] == alert
        assert sent["data"]["limit"]["id"] == limit["id"]
        assert sent["data"]["status"]["usage"] == 1 and sent["data"]["status"]["percentUsed"] == 100
        for headers, raw in receiver.received:
            assert headers["Content-Type"] == "application/json"
            assert signature_is_valid(secret, headers["Tallyhouse-Signature"], raw)
            assert not signature_is_valid(secret[:-1] + "x", headers["Tallyhouse-Signature"], raw)
        attempts = client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=auth(keys["acme"])).json()  # fmt: skip
        assert [(a["attempt"], a["statusCode"], a["delivered"], a["alertId"]) for a in attempts] == [
            (1, 500, False, alert["id"]), (2, 503, False, alert["id"]), (3, 200, True, alert["id"])
        ]  # fmt: skip
        assert {a["deliveryStatus"] for a in attempts} == {"delivered"}
        gone = client.post(f"/v1/webhooks/{hook['id']}/delete", headers=auth(keys["acme"]))
        assert gone.json() == {"id": hook["id"], "deleted": True}
        assert hook["id"] not in str(client.get("/v1/webhooks", headers=auth(keys["acme"])).json())

    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("http://127.0.0.1:9/hooks", "private, loopback or link-local"),
            ("http://169.254.169.254/latest", "private, loopback or link-local"),
            ("http://10.1.2.3/", "private, loopback or link-local"),
            ("ftp://example.com/", "http:// or https://"),
            ("not a url", "http:// or https://"),
        ],
    )
    def test_private_destinations_are_refused_unless_allowed(self, server, url, message):
        _, keys, settings = server
        default = settings.model_copy(update={"webhook_allow_private": False})
        with TestClient(create_app(default)) as strict:
            response = strict.post("/v1/webhooks", json={"url": url}, headers=auth(keys["acme"]))
        assert response.status_code == 400 and message in response.text


@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("9999-12-31T23:59:59-05:00", "not an ISO-8601 instant"),
        ("yesterday", "not an ISO-8601 instant"),
        ("0001-01-01T00:00:00Z", "since must be from"),
    ],
)
def test_alerts_since_must_be_an_instant_a_read_may_name(server, since, message):
    client, keys, _ = server
    response = client.get("/v1/alerts", params={"since": since}, headers=auth(keys["acme"]))
    assert response.status_code == 400 and message in response.text
