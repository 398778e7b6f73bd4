"""Each organization's calendar in its own time zone (docs/timezones.md): acme in Asia/Kolkata
(+05:30), globex in America/St_Johns (−03:30), initech in Europe/Berlin, whose 2026-10-25 has
25 hours. Day totals, periods and windows are worked out here from the events' instants with
zoneinfo alone. Then insights (docs/insights.md) on constructed organizations, through the same
real build: explanations, the forecast mart and the anomaly mart, worked out by hand."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.keys.service import SCOPES, create_key
from api.main import create_app
from cli.main import app as cli
from core.control_store import engine_for
from core.marts import mart
from core.organizations import set_timezone
from orchestration.build import run_build
from tests.api.conftest import auth
from tests.api.oracle_answers import cents
from tests.expected import expected_events

pytestmark = pytest.mark.slow

ZONES = {"acme": "Asia/Kolkata", "globex": "America/St_Johns", "initech": "Europe/Berlin"}
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def midnight(day: date, org: str) -> datetime:
    """The instant the organization's day starts, as a naive UTC time (the oracle's)."""
    return (
        datetime.combine(day, time(), tzinfo=ZoneInfo(ZONES[org]))
        .astimezone(UTC)
        .replace(tzinfo=None)
    )


# Constructed organizations for explaining a change through a real build (UTC): each one's
# October and November, as (model, input tokens or a caller's cost, events) per month.
EXPLAINED = {
    "xp-volume": ([("gpt-4o-mini", 1_000_000, 2)], [("gpt-4o-mini", 1_000_000, 4)]),
    "xp-price": ([("caller", "1.00", 4)], [("caller", "1.50", 4)]),
    "xp-mix": ([("gpt-4o-mini", 1_000_000, 3), ("gpt-4o", 1_000_000, 1)],
               [("gpt-4o-mini", 1_000_000, 1), ("gpt-4o", 1_000_000, 3)]),
    "xp-new": ([("gpt-4o-mini", 1_000_000, 2), ("gpt-4.1", 1_000_000, 1)],
               [("gpt-4o-mini", 1_000_000, 2), ("gpt-4o", 1_000_000, 1)]),
}  # fmt: skip


def _write_explained(landing) -> None:
    for org, months in EXPLAINED.items():
        lines = []
        for day, month in zip(("2026-10-06", "2026-11-03"), months, strict=True):
            for model, amount, count in month:
                for n in range(count):
                    event = {"eventType": "llm_call", "metricName": "input_tokens",
                             "idempotencyKey": f"{day}-{model}-{n}", "userId": "u1",
                             "timestamp": f"{day}T10:{n:02d}:00Z",
                             "metadata": {"model": "gpt-4o-mini" if model == "caller" else model,
                                          "provider": "openai"}}  # fmt: skip
                    if model == "caller":
                        event |= {"quantity": 1000, "costUsd": float(amount)}
                    else:
                        event["quantity"] = amount
                    lines.append(json.dumps(event))
        (landing / org).mkdir(parents=True, exist_ok=True)
        (landing / org / "explained.jsonl").write_text("\n".join(lines) + "\n")


# Constructed daily series (UTC), one event a day per feature with a caller's cost: a weekly
# pattern to forecast, and weeks with spikes and without for finding unusual days.
SERIES_START = date(2026, 9, 14)  # a Monday, 10 weeks before the week of 2026-11-16
PATTERN = ["10", "11", "12", "9", "10", "4", "3"]
NOISY = [str(Decimal(v) + Decimal(n % 3) / 10) for n, v in enumerate(PATTERN * 9)]
MONDAYS = [date(2026, 9, 21) + timedelta(days=7 * n) for n in range(9)]  # to 2026-11-16
SERIES = {
    # four weeks of $10 Mondays and $1 other days, to Sunday 2026-11-22
    "fc-weekly": {None: {date(2026, 10, 26) + timedelta(days=n): "10" if n % 7 == 0 else "1"
                         for n in range(28)}},
    # nine weeks of a noisy pattern; in the tenth, $60 on a's Tuesday and $25 on b's Thursday
    "an-spike": {feature: {SERIES_START + timedelta(days=n): v for n, v in enumerate(values)}
                 for feature, values in (("a", NOISY + ["10", "60", "12", "9", "10", "4", "3"]),
                                         ("b", NOISY + ["10", "11", "12", "25", "10", "4", "3"]),
                                         ("c", NOISY + PATTERN))},
    # Mondays only: 1 seven times, 3, then 10 (MAD 0, mean deviation 2 / 8)
    "an-alike": {None: dict(zip(MONDAYS, ["1"] * 7 + ["3", "10"], strict=True))},
    # Mondays only: 2 eight times, then 5 (every week alike)
    "an-flat": {None: dict(zip(MONDAYS, ["2"] * 8 + ["5"], strict=True))},
}  # fmt: skip


def _write_series(landing) -> None:
    for org, features in SERIES.items():
        lines = [
            json.dumps(
                {
                    "eventType": "llm_call",
                    "metricName": "input_tokens",
                    "quantity": 1000,
                    "costUsd": float(cost),
                    "idempotencyKey": f"{day}-{feature}",
                    "userId": "u1",
                    "timestamp": f"{day}T10:00:00Z",
                    "metadata": {"model": "gpt-4o-mini", "provider": "openai"}
                    | ({"feature": feature} if feature else {}),
                }
            )  # fmt: skip
            for feature, costs in features.items()
            for day, cost in costs.items()
        ]
        (landing / org).mkdir(parents=True, exist_ok=True)
        (landing / org / "series.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def zoned(home_copy_module):
    """The built home with the three zones set (and the constructed organizations of EXPLAINED
    landed) and built again; a client, keys, the oracle."""
    home = home_copy_module
    store = engine_for(home.control_store_url)
    for org, zone in ZONES.items():
        set_timezone(store, org, zone, home.clock())
    _write_explained(home.landing_dir)
    _write_series(home.landing_dir)
    summary = run_build(home)
    assert summary.success
    keys = {
        org: create_key(store, org, list(SCOPES), "test", home.clock())[1]
        for org in [*ZONES, *EXPLAINED, *SERIES]
    }
    events = list(expected_events(home.landing_dir).values())
    with TestClient(create_app(home.model_copy(update={"rate_limit": 0}))) as client:
        yield client, keys, events


def oracle_cost(events, org: str, start: datetime, end: datetime) -> Decimal:
    return sum(
        (e.cost_usd for e in events if e.organization_id == org and start <= e.event_at < end),
        Decimal(0),
    )


def test_ping_shows_each_organizations_zone(zoned):
    client, keys, _ = zoned
    for org, zone in ZONES.items():
        assert client.get("/v1/ping", headers=auth(keys[org])).json()["timezone"] == zone


@pytest.mark.parametrize("org", list(ZONES))
def test_each_day_of_the_trend_is_the_organizations_day(zoned, org):
    client, keys, events = zoned
    zone = ZoneInfo(ZONES[org])
    per_day: dict[date, Decimal] = defaultdict(Decimal)
    for e in events:
        if e.organization_id == org:
            per_day[e.event_at.replace(tzinfo=UTC).astimezone(zone).date()] += e.cost_usd
    first, last = date(2026, 9, 20), date(2026, 11, 24)
    body = client.get(
        "/v1/cost-data/trend",
        params={"start_date": first.isoformat(), "end_date": last.isoformat()},
        headers=auth(keys[org]),
    ).json()
    got = {p["periodStart"]: p["totalCost"] for p in body["series"]}
    expected = {
        day.isoformat(): cents(cost) for day, cost in per_day.items() if first <= day <= last
    }
    assert {day: got[day] for day in expected} == expected
    assert sum(1 for cost in expected.values() if cost) > 40
    if org == "initech":  # the daylight-saving day has 25 hours, all of them in it
        day = date(2026, 10, 25)
        assert midnight(day + timedelta(days=1), org) - midnight(day, org) == timedelta(hours=25)
        assert got["2026-10-25"] == cents(
            oracle_cost(events, org, midnight(day, org), midnight(day + timedelta(days=1), org))
        )


@pytest.mark.parametrize(
    ("org", "offsets"),
    [
        ("acme", ("+05:30", "+05:30")),
        # St. John's leaves daylight time (-02:30) at 02:00 on 1 November
        ("globex", ("-02:30", "-03:30")),
        ("initech", ("+01:00", "+01:00")),
    ],
)
def test_the_current_period_is_the_organizations_month(zoned, org, offsets):
    client, keys, events = zoned
    body = client.get("/v1/cost-data/summary", headers=auth(keys[org])).json()
    november = (midnight(date(2026, 11, 1), org), midnight(date(2026, 12, 1), org))
    october = (midnight(date(2026, 10, 1), org), november[0])
    assert body["totalCost"] == cents(oracle_cost(events, org, *november))
    assert body["previousPeriodCost"] == cents(oracle_cost(events, org, *october))
    assert (body["periodStart"], body["periodEnd"]) == (
        f"2026-11-01T00:00:00.000{offsets[0]}",
        f"2026-11-30T23:59:59.999{offsets[1]}",
    )


def test_an_end_users_dates_and_a_daily_budget_follow_the_zone(zoned):
    client, keys, events = zoned
    org, user = "globex", next(e.end_user_id for e in events if e.organization_id == "globex")
    days = (midnight(date(2026, 11, 10), org), midnight(date(2026, 11, 21), org))
    body = client.get(
        f"/v1/end-user-costs/{user}/summary",
        params={"start_date": "2026-11-10", "end_date": "2026-11-20"},
        headers=auth(keys[org]),
    ).json()
    mine = [e for e in events if e.end_user_id == user]
    assert body["totalCost"] == cents(oracle_cost(mine, org, *days))
    assert body["periodStart"] == "2026-11-10T00:00:00.000-03:30"
    # now is 12:00 UTC: 08:30 on the 24th in St. John's, whose day began at 03:30 UTC
    made = client.post(
        "/v1/limits",
        json={"name": "Today", "subject": {"type": "organization"}, "measure": {"type": "cost"},
              "window": {"type": "calendar_day"}, "limit": 1000},
        headers=auth(keys[org]),
    ).json()  # fmt: skip
    status = client.get(f"/v1/limits/{made['id']}/status", headers=auth(keys[org])).json()
    today = (midnight(date(2026, 11, 24), org), midnight(date(2026, 11, 25), org))
    assert status["usage"] == cents(oracle_cost(events, org, *today))
    assert (status["periodStart"], status["resetsAt"]) == (
        "2026-11-24T00:00:00.000-03:30",
        "2026-11-25T00:00:00.000-03:30",
    )


def test_a_metric_timeframe_of_dates_is_the_organizations_days(zoned):
    client, keys, events = zoned
    org = "acme"
    metric = client.post(
        "/v1/metrics",
        json={"name": "Calls", "queryType": "simple", "aggregationType": "COUNT",
              "eventName": "llm_call", "valueType": "NUMERIC"},
        headers=auth(keys[org]),
    ).json()  # fmt: skip
    got = client.get(
        f"/v1/metrics/{metric['id']}/value",
        params={"timeframe": "ABSOLUTE", "start": "2026-11-20", "end": "2026-11-21"},
        headers=auth(keys[org]),
    ).json()
    start, end = midnight(date(2026, 11, 20), org), midnight(date(2026, 11, 22), org)
    expected = sum(
        1
        for e in events
        if e.organization_id == org
        and e.end_user_id is not None
        and e.body["eventType"] == "llm_call"
        and start <= e.event_at < end
    )
    assert got["value"] == expected > 0


def test_an_unknown_zone_is_refused_by_the_cli():
    result = CliRunner().invoke(cli, ["orgs", "set", "acme", "--timezone", "Mars/Olympus"])
    assert result.exit_code == 2
    assert "Unknown time zone: 'Mars/Olympus'" in result.output


def test_a_mart_as_a_dataframe_is_filtered_and_shown_in_the_zone(zoned, home_copy_module):
    _, _, events = zoned
    org, day = "acme", date(2026, 11, 20)
    start, end = midnight(day, org), midnight(day + timedelta(days=1), org)
    frame = mart("fct_usage_costs", org, "2026-11-20", "2026-11-20", settings=home_copy_module)
    mine = sorted(
        e.idempotency_key for e in events if e.organization_id == org and start <= e.event_at < end
    )
    assert sorted(frame["idempotency_key"]) == mine and mine
    assert str(frame["event_at"].dt.tz) == "Asia/Kolkata"
    assert {t.date() for t in frame["event_at"]} == {day}  # every instant on its local day
    assert sum(frame["cost_usd"]) == oracle_cost(events, org, start, end)  # exact Decimals
    daily = mart("fct_daily_costs", org, day, day, settings=home_copy_module)
    assert set(daily["cost_date"]) == {day} and sum(daily["cost_usd"]) == sum(frame["cost_usd"])
    with pytest.raises(ValueError, match="no table 'fct_nothing'"):
        mart("fct_nothing", org, settings=home_copy_module)


def explained(zoned, org: str) -> tuple[dict, Decimal, dict]:
    """The explanation of November against October, the oracle's change, and its events' costs
    by (month, model)."""
    client, keys, events = zoned
    body = client.get(
        "/v1/cost-data/explain",
        params={"start_date": "2026-11-01", "end_date": "2026-11-30",
                "base_start_date": "2026-10-01", "base_end_date": "2026-10-31"},
        headers=auth(keys[org]),
    ).json()  # fmt: skip
    costs: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for e in events:
        if e.organization_id == org:
            costs[e.event_at.month, e.model] += e.cost_usd
    change = sum(c for (month, _), c in costs.items() if month == 11) - sum(
        c for (month, _), c in costs.items() if month == 10
    )
    assert body["change"] == cents(change) and change
    return body["components"], change, costs


def only(components: dict, name: str, value: Decimal) -> None:
    assert components == {n: (cents(value) if n == name else 0.0) for n in components}


def test_through_a_build_twice_the_volume_is_all_volume(zoned):
    components, change, _ = explained(zoned, "xp-volume")
    only(components, "volume", change)


def test_through_a_build_a_dearer_caller_cost_is_all_price(zoned):
    components, change, _ = explained(zoned, "xp-price")
    only(components, "price", change)
    assert change == Decimal("2.00")  # 4 events from $1.00 to $1.50


def test_through_a_build_the_same_tokens_moving_to_a_dearer_model_is_all_mix(zoned):
    components, change, _ = explained(zoned, "xp-mix")
    only(components, "mix", change)
    assert change > 0  # gpt-4o's input costs more than gpt-4o-mini's


def test_through_a_build_a_model_appearing_and_one_disappearing(zoned):
    components, _, costs = explained(zoned, "xp-new")
    assert components == {
        "volume": 0.0, "mix": 0.0, "price": 0.0,
        "new": cents(costs[11, "gpt-4o"]), "discontinued": -cents(costs[10, "gpt-4.1"]),
    }  # fmt: skip


def test_the_forecast_mart_predicts_each_day_from_the_four_weeks_before_it(home_copy_module):
    frame = mart("fct_daily_cost_forecasts", "fc-weekly", settings=home_copy_module)
    rows = {r.cost_date: r for r in frame.itertuples()}
    assert (min(rows), max(rows)) == (date(2026, 10, 26), date(2026, 12, 20))  # + 28 days
    # Monday 2026-11-30: 11-23 (no cost), 11-16, 11-09 and 11-02 ($10 each)
    monday = rows[date(2026, 11, 30)]
    assert (monday.cost_usd, monday.window_cost_usd, monday.window_days) == (0, 30, 4)
    assert monday.predicted_cost_usd == 7.5
    # the first Tuesday has no week before it within the history; the second has one
    tuesdays = [rows[date(2026, 10, 27)], rows[date(2026, 11, 3)]]
    assert [(r.window_cost_usd, r.window_days) for r in tuesdays] == [(0, 0), (1, 1)]


def test_through_a_build_a_weekly_pattern_is_forecast_by_weekday(zoned, home_copy_module):
    _, keys, _ = zoned
    # today Monday 2026-11-23, half gone; so far November's 3 Mondays and 19 other days: $49.
    # To come: ½ × 10, six days at 1, and Monday the 30th at 10 (its weekday's mean over the 28
    # days before today, not over the 28 before it, which hold today's unknown cost): $21
    settings = home_copy_module.model_copy(
        update={"now": datetime(2026, 11, 23, 12, tzinfo=UTC), "rate_limit": 0}
    )
    with TestClient(create_app(settings)) as client:
        body = client.get("/v1/cost-data/forecast", headers=auth(keys["fc-weekly"])).json()
    assert (body["actualToDate"], body["forecast"], body["historyDays"]) == (49.0, 70.0, 28)
    # every backtested day was predicted exactly: the band is the forecast itself
    assert (body["low"], body["high"], body["insufficientHistory"]) == (70.0, 70.0, False)


def unusual(zoned, org: str, first: str, last: str, **params) -> list[tuple]:
    client, keys, _ = zoned
    body = client.get(
        "/v1/cost-data/anomalies",
        params={"start_date": first, "end_date": last, **params},
        headers=auth(keys[org]),
    ).json()
    return [
        (a["date"], *a["segment"].values(), a["expected"], a["actual"], a["score"])
        for a in body["anomalies"]
    ]


def test_through_a_build_an_injected_spike_ranks_first_and_a_normal_week_has_none(zoned):
    found = unusual(zoned, "an-spike", "2026-11-16", "2026-11-22", by="feature", min_impact="1")
    # a's Tuesdays before: 11.1, 11.2, 11.0, 11.1, 11.2, 11.0, 11.1, 11.2 → median 11.1, MAD 0.1;
    # b's Thursdays: 9.0, 9.1, 9.2, … → median 9.1, MAD 0.1
    a_score = (60 - Fraction(111, 10)) / (Fraction(14826, 10000) * Fraction(1, 10))
    b_score = (25 - Fraction(91, 10)) / (Fraction(14826, 10000) * Fraction(1, 10))
    assert found == [
        (
            "2026-11-17",
            "a",
            11.1,
            60.0,
            float(cents(Decimal(a_score.numerator) / a_score.denominator)),
        ),
        (
            "2026-11-19",
            "b",
            9.1,
            25.0,
            float(cents(Decimal(b_score.numerator) / b_score.denominator)),
        ),
    ]
    # b's $15.90 departure is under a $20 minimum; c, and the week before, have none
    assert [x[1] for x in unusual(zoned, "an-spike", "2026-11-16", "2026-11-22", by="feature",
                                  min_impact="20")] == ["a"]  # fmt: skip
    assert (
        unusual(zoned, "an-spike", "2026-11-09", "2026-11-15", by="feature", min_impact="0.01")
        == []
    )


def test_through_a_build_weeks_alike_use_the_mean_deviation_then_no_score(zoned):
    # Mondays 1 ×7 and 3: median 1, MAD 0, mean deviation 2 / 8; then 10
    spread = Fraction(1253314, 1000000) * Fraction(2, 8)
    expected = Fraction(9) / spread
    assert unusual(zoned, "an-alike", "2026-11-16", "2026-11-16", min_impact="1") == [
        ("2026-11-16", 1.0, 10.0, float(cents(Decimal(expected.numerator) / expected.denominator))),
    ]
    # every Monday 2, then 5: any departure of at least the minimum, with no score
    assert unusual(zoned, "an-flat", "2026-11-16", "2026-11-16", min_impact="1") == [
        ("2026-11-16", 2.0, 5.0, None),
    ]


@pytest.mark.parametrize("org", list(EXPLAINED))
def test_the_monthly_explanations_mart_holds_the_same_parts(zoned, home_copy_module, org):
    components, change, _ = explained(zoned, org)
    frame = mart("fct_monthly_cost_explanations", org, "2026-11-01", "2026-11-30",
                 settings=home_copy_module)  # fmt: skip
    assert set(frame["month_start"]) == {date(2026, 11, 1)}
    parts = {name: sum(frame[f"{name}_usd"]) for name in components}
    assert sum(parts.values()) == sum(frame["change_usd"]) == change  # exactly
    assert {name: cents(value) for name, value in parts.items()} == components


def test_the_dashboard_shows_the_organizations_days(zoned):
    # acme's days are Kolkata's: the overview's day totals are the API's trend, in that zone
    client, keys, _ = zoned
    client.post("/dashboard/login", data={"api_key": keys["acme"]}, follow_redirects=False)
    page = client.get("/dashboard", params={"start_date": "2026-11-10", "end_date": "2026-11-20"})
    client.cookies.clear()
    assert page.status_code == 200 and "Asia/Kolkata" in page.text
    shown = dict(re.findall(r'data-day="([\d-]+)" data-value="([^"]+)"', page.text))
    trend = client.get(
        "/v1/cost-data/trend",
        params={"start_date": "2026-11-10", "end_date": "2026-11-20"},
        headers=auth(keys["acme"]),
    ).json()
    assert shown == {p["periodStart"]: json.dumps(p["totalCost"]) for p in trend["series"]}
    assert len(shown) == 11
