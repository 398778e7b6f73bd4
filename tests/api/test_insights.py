"""Explaining a change in cost, forecasting a period and finding unusual days
(docs/insights.md): the decomposition and the forecast's band on constructed inputs, worked
out by hand, and the endpoints on the session's warehouse against the oracle. The marts'
rules on constructed organizations through a real build are in test_timezones.py."""

from __future__ import annotations

import random
import statistics
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import duckdb
import pytest

from api.insights.explain import COMPONENTS, rounded
from api.insights.forecast import Day, forecast
from core.sql import dbt_macro
from tests.api.conftest import auth
from tests.api.oracle_answers import breakdown, cents, cost

D = Decimal


Row = tuple[str, Decimal, Decimal, Decimal, Decimal]  # key, base units and cost, current ones


def segment(key: str, base: tuple[int, str], current: tuple[int, str]) -> Row:
    """(units, cost) in the base period and in the current one."""
    return (key, D(base[0]), D(base[1]), D(current[0]), D(current[1]))


_DUCKDB = duckdb.connect()  # one in-memory database for the module's runs of the macro


def run_macro(segments: list[Row]) -> dict[str, dict[str, Decimal]]:
    """The explain_components macro, as the API and the monthly mart run it, in DuckDB over
    `segments`: each segment's change and parts."""
    values = ", ".join(
        f"('{key}', {q0}::decimal(38, 6), {c0}::decimal(38, 18), {q1}::decimal(38, 6), "
        f"{c1}::decimal(38, 18))"
        for key, q0, c0, q1, c1 in segments
    )
    macro = dbt_macro("explain", "explain_components")("segments")
    names = ["change", *COMPONENTS]
    rows = _DUCKDB.execute(
        f"with segments as (select * from (values {values}) as v(first_key, base_units, "
        "base_cost_usd, current_units, current_cost_usd)) "
        f"select first_key, {', '.join(f'{n}_usd' for n in names)} from ({macro}) as e"
    ).fetchall()
    return {key: dict(zip(names, rest, strict=True)) for key, *rest in rows}


def parts(segments: list[Row]) -> dict[str, Decimal]:
    found = run_macro(segments)
    for key, _, c0, _, c1 in segments:  # each segment's parts sum to its change, exactly
        assert found[key]["change"] == c1 - c0 == sum(found[key][n] for n in COMPONENTS)
    totals = {n: sum(row[n] for row in found.values()) for n in COMPONENTS}
    return {name: value for name, value in totals.items() if value}


def exact(segments: list[Row]) -> dict[str, Fraction]:
    """The components in exact fractions, worked out here from the formulas."""
    both = [s for s in segments if s[1] > 0 and s[3] > 0]
    q0, q1 = sum(Fraction(s[1]) for s in both), sum(Fraction(s[3]) for s in both)
    c0 = sum(Fraction(s[2]) for s in both)
    found = dict.fromkeys(COMPONENTS, Fraction(0))
    if both:
        found["volume"] = (q1 - q0) * c0 / q0
        found["mix"] = q1 * sum(
            (Fraction(s[3]) / q1 - Fraction(s[1]) / q0) * Fraction(s[2]) / Fraction(s[1])
            for s in both
        )
        found["price"] = sum(
            Fraction(s[4]) - Fraction(s[3]) * Fraction(s[2]) / Fraction(s[1]) for s in both
        )
    for _, base_units, base_cost, units, current_cost in segments:
        change = Fraction(current_cost) - Fraction(base_cost)
        if base_units == 0 and units > 0:
            found["new"] += change
        elif base_units > 0 and units == 0:
            found["discontinued"] += change
        elif base_units == 0 and units == 0:
            found["price"] += change
    return found


def test_only_prices_change_all_of_the_change_is_price():
    # a: 100 units at 0.10 then at 0.15; b unchanged
    got = parts([segment("a", (100, "10"), (100, "15")), segment("b", (50, "5"), (50, "5"))])
    assert got == {"price": 5}


def test_volume_doubles_all_of_the_change_is_volume():
    # 150 units for $15 (0.10 each on average), then 300 in the same shares and prices
    got = parts([segment("a", (100, "10"), (200, "20")), segment("b", (50, "5"), (100, "10"))])
    assert got == {"volume": 15}


def test_the_same_volume_moving_to_a_dearer_model_is_mix():
    # 200 units both times; a costs 0.10 a unit, b 0.30; half of them b, then three quarters:
    # mix = 200 × ((0.25 − 0.5) × 0.10 + (0.75 − 0.5) × 0.30) = 10
    got = parts([segment("a", (100, "10"), (50, "5")), segment("b", (100, "30"), (150, "45"))])
    assert got == {"mix": 10}


def test_a_model_that_appears_or_disappears_is_new_or_discontinued():
    got = parts(
        [
            segment("a", (100, "10"), (100, "10")),
            segment("b", (0, "0"), (10, "3")),  # appears: $3
            segment("c", (20, "4"), (0, "0")),  # disappears: $4
        ]
    )
    assert got == {"new": 3, "discontinued": -4}


def test_all_at_once_each_part_as_worked_out_by_hand():
    # a: 100 → 300 units, 0.10 → 0.12; b: 100 → 100 units at 0.30; c new ($2)
    # Q 200 → 400, P̄₀ = 40 / 200 = 0.20: volume = 200 × 0.20 = 40
    # shares a 0.5 → 0.75, b 0.5 → 0.25: mix = 400 × (0.25 × 0.10 − 0.25 × 0.30) = −20
    # price = 300 × 0.02 = 6; change = (36 + 30 + 2) − 40 = 28 = 40 − 20 + 6 + 2
    got = parts(
        [
            segment("a", (100, "10"), (300, "36")),
            segment("b", (100, "30"), (100, "30")),
            segment("c", (0, "0"), (5, "2")),
        ]
    )
    assert got == {"volume": 40, "mix": -20, "price": 6, "new": 2}


def test_rounded_components_add_up_to_the_rounded_change():
    rng = random.Random(5)
    for _ in range(300):
        segments = [
            (
                str(n),
                D(rng.choice([0, rng.randrange(1, 10_000)])),
                D(rng.randrange(0, 10**9)) / D(10**8),
                D(rng.choice([0, rng.randrange(1, 10_000)])),
                D(rng.randrange(0, 10**9)) / D(10**8),
            )
            for n in range(rng.randrange(1, 6))
        ]
        current = sum((s[4] for s in segments), D(0)).quantize(D("0.01"))
        base = sum((s[2] for s in segments), D(0)).quantize(D("0.01"))
        found = run_macro(segments)
        totals = {n: sum(Fraction(row[n]) for row in found.values()) for n in COMPONENTS}
        truth = exact(segments)
        # volume and mix are kept to 12 decimals; what they lose, price holds
        assert all(abs(totals[n] - truth[n]) <= Fraction(1, 10**10) for n in COMPONENTS)
        assert sum(totals.values()) == sum(Fraction(s[4]) - Fraction(s[2]) for s in segments)
        shown = rounded(totals, current - base)
        assert sum(shown.values()) == current - base
        # no component moves more than a cent away from its exact value
        assert all(abs(Fraction(shown[n]) - truth[n]) <= Fraction(1, 100) for n in COMPONENTS)


EXPLAIN = "/v1/cost-data/explain"
NOVEMBER = {"start_date": "2026-11-01", "end_date": "2026-11-30"}
OCTOBER = {"base_start_date": "2026-10-01", "base_end_date": "2026-10-31"}


def test_this_month_against_the_last_adds_up_to_the_summarys_change(client, keys, oracle):
    body = client.get(EXPLAIN, params={**NOVEMBER, **OCTOBER}, headers=auth(keys.acme)).json()
    nov = cost(oracle, "acme", datetime(2026, 11, 1), datetime(2026, 12, 1))
    oct_ = cost(oracle, "acme", datetime(2026, 10, 1), datetime(2026, 11, 1))
    assert (body["currentCost"], body["baseCost"]) == (cents(nov), cents(oct_))
    summary = client.get(
        "/v1/cost-data/summary", params={"time_window": "current-period"}, headers=auth(keys.acme)
    ).json()
    assert body["change"] == summary["changeAmount"]
    assert round(sum(body["components"].values()), 2) == body["change"]
    assert body["components"]["volume"] != 0
    assert body["unpricedEvents"]["current"] == sum(
        1
        for e in oracle
        if e.organization_id == "acme"
        and e.status in ("unpriced", "partially_priced")
        and datetime(2026, 11, 1) <= e.event_at < datetime(2026, 12, 1)
    )
    # the segments are the whole cost: model × usage type, each period's sum the total
    assert {tuple(s["segment"]) for s in body["segments"]} == {("model", "usageType")}
    for field, total in (("currentCost", nov), ("baseCost", oct_)):
        assert abs(sum(D(str(s[field])) for s in body["segments"]) - total) < D("0.01") * len(
            body["segments"]
        )


def test_by_model_segments_are_the_by_model_breakdowns(client, keys, oracle):
    body = client.get(
        EXPLAIN, params={**NOVEMBER, **OCTOBER, "by": "model"}, headers=auth(keys.acme)
    ).json()
    current = breakdown(oracle, "acme", date(2026, 11, 1), date(2026, 11, 30), "model")
    base = breakdown(oracle, "acme", date(2026, 10, 1), date(2026, 10, 31), "model")
    got = {s["segment"]["model"]: s for s in body["segments"] if s["segment"]["model"]}
    for model, total, events in current:
        assert (got[model]["currentCost"], got[model]["currentUnits"]) == (total, events)
    for model, total, events in base:
        assert (got[model]["baseCost"], got[model]["baseUnits"]) == (total, events)
    assert round(sum(body["components"].values()), 2) == body["change"]


def test_the_default_base_is_the_same_number_of_days_just_before(client, keys):
    body = client.get(
        EXPLAIN,
        params={"start_date": "2026-11-11", "end_date": "2026-11-20"},
        headers=auth(keys.acme),
    ).json()
    assert (body["baseStartDate"], body["baseEndDate"]) == ("2026-11-01", "2026-11-10")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"by": "planet"}, "Invalid by: planet. Valid options: model, provider, feature"),
        ({"base_start_date": "2026-10-01"}, "base_start_date and base_end_date go together"),
        (
            {"base_start_date": "2026-10-31", "base_end_date": "2026-10-01"},
            "end_date 2026-10-01 is before",
        ),
    ],
)
def test_a_bad_question_is_a_400_that_says_why(client, keys, params, message):
    response = client.get(EXPLAIN, params=params, headers=auth(keys.acme))
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


# --- forecast ---------------------------------------------------------------------------

START = date(2026, 10, 5)  # a Monday


def days(values: list[str]) -> dict[date, Day]:
    """A cost per day from START, each with its weekday's window worked out here: the same
    weekday 1 – 4 weeks before, from START on (as fct_daily_cost_forecasts has them)."""
    costs = {START + timedelta(days=n): D(v) for n, v in enumerate(values)}
    rows = {}
    for day in [START + timedelta(days=n) for n in range(len(values) + 7)]:
        window = [day - timedelta(days=7 * k) for k in (1, 2, 3, 4)]
        window = [d for d in window if d >= START]
        total = sum((costs.get(d, D(0)) for d in window), D(0))
        rows[day] = Day(costs.get(day, D(0)), total, len(window))
    return rows


def test_a_weekly_pattern_is_forecast_by_weekday():
    # four weeks of $10 Mondays and $1 other days; today is the fifth Monday, half gone, and
    # the period ends on Sunday: 0.5 × 10 + 6 × 1 = 11 to come, after $7 so far
    history = days(["10", "1", "1", "1", "1", "1", "1"] * 4)
    today = START + timedelta(days=28)
    found = forecast(history, today, Fraction(1, 2), today + timedelta(days=6), D(7))
    assert found.forecast == 18
    # every backtested day was predicted exactly: the band is the forecast itself
    assert (found.low, found.high, found.history_days) == (18, 18, 28)


def test_days_a_week_or_more_ahead_repeat_their_weekdays_mean():
    # the same history; the period runs 15 days from today: two more Mondays at $10
    history = days(["10", "1", "1", "1", "1", "1", "1"] * 4)
    today = START + timedelta(days=28)
    found = forecast(history, today, Fraction(1), today + timedelta(days=14), D(0))
    assert found.forecast == 10 + 6 + 10 + 6 + 10


def test_the_band_is_the_backtests_10th_to_90th_percentile():
    # two weeks; days 7 – 13 are backtested from the same weekday a week before:
    # errors 2−1, 0, 0, 0, 0, 0, 0−1 → 10th percentile −0.4, 90th 0.4 (linear)
    history = days(["1"] * 7 + ["2", "1", "1", "1", "1", "1", "0"])
    today = START + timedelta(days=14)  # a Monday: its mean is (1 + 2) / 2
    found = forecast(history, today, Fraction(1), today, D(0))
    assert found.forecast == Fraction(3, 2)
    assert (found.low, found.high) == (Fraction(11, 10), Fraction(19, 10))


def test_when_every_backtest_erred_one_way_the_band_starts_at_the_forecast():
    # a cost that grows by $1 a week: each backtested day is $1 over its weekday's last week
    history = days([str(1 + n // 7) for n in range(14)])
    today = START + timedelta(days=14)
    found = forecast(history, today, Fraction(1), today, D(0))
    # today's mean: (1 + 2) / 2; every error +1, so the 10th and 90th percentiles are +1
    assert (found.forecast, found.low, found.high) == (
        Fraction(3, 2),
        Fraction(3, 2),
        Fraction(5, 2),
    )


def test_less_than_two_weeks_of_history_has_no_band():
    history = days(["3"] * 13)
    today = START + timedelta(days=13)
    found = forecast(history, today, Fraction(1), today + timedelta(days=1), D(5))
    assert (found.forecast, found.low, found.high, found.history_days) == (11, None, None, 13)


def test_the_forecast_endpoint_against_the_oracle(client, keys, oracle):
    body = client.get("/v1/cost-data/forecast", headers=auth(keys.acme)).json()
    now = datetime(2026, 11, 24, 12)
    acme = [e for e in oracle if e.organization_id == "acme"]
    actual = cost(acme, "acme", datetime(2026, 11, 1), now + timedelta(microseconds=1))
    daily: dict[date, Decimal] = {}
    for e in acme:
        if e.event_at.date() < now.date():
            daily[e.event_at.date()] = daily.get(e.event_at.date(), D(0)) + e.cost_usd
    first = min(d for d, c in daily.items() if c)

    def mean(day: date) -> Fraction:
        same = [day - timedelta(days=7 * k) for k in (1, 2, 3, 4)]
        same = [d for d in same if d >= first]
        return sum((Fraction(daily.get(d, D(0))) for d in same), Fraction(0)) / len(same)

    rest = Fraction(1, 2) * mean(now.date()) + sum(
        mean(date(2026, 11, day)) for day in range(25, 31)
    )
    assert body["actualToDate"] == cents(actual)
    expected = Fraction(actual) + rest
    assert body["forecast"] == cents(D(expected.numerator) / D(expected.denominator))
    assert body["periodStart"] == "2026-11-01T00:00:00.000Z"
    assert body["insufficientHistory"] is False and body["low"] <= body["forecast"] <= body["high"]
    refused = client.get(
        "/v1/cost-data/forecast", params={"time_window": "last-7-days"}, headers=auth(keys.acme)
    )
    assert refused.status_code == 400


# --- anomalies --------------------------------------------------------------------------


def test_the_anomalies_endpoint_against_the_oracle(client, keys, oracle):
    body = client.get(
        "/v1/cost-data/anomalies",
        params={"start_date": "2026-11-01", "end_date": "2026-11-24", "by": "model",
                "min_impact": "0.05"},
        headers=auth(keys.acme),
    ).json()  # fmt: skip
    acme = [e for e in oracle if e.organization_id == "acme"]
    first = min(e.event_at.date() for e in acme if e.cost_usd and e.event_at.year == 2026)
    daily: dict[tuple, Decimal] = {}
    for e in acme:
        if e.model is not None:
            key = (e.model, e.event_at.date())
            daily[key] = daily.get(key, D(0)) + e.cost_usd
    expected = []
    for model in {m for m, _ in daily}:
        for n in range(24):
            day = date(2026, 11, 1) + timedelta(days=n)
            weeks = [day - timedelta(days=7 * k) for k in range(1, 9)]
            values = [daily.get((model, d), D(0)) for d in weeks if d >= first]
            if len(values) < 4:
                continue
            x, m = daily.get((model, day), D(0)), statistics.median(values)
            mad = statistics.median(abs(v - m) for v in values)
            scale = D("1.4826") * mad or D("1.253314") * sum(abs(v - m) for v in values) / len(
                values
            )
            if abs(x - m) >= D("0.05") and (scale == 0 or abs(x - m) / scale > D("3.5")):
                expected.append((day.isoformat(), model, cents(m), cents(x)))
    got = [
        (a["date"], a["segment"]["model"], a["expected"], a["actual"]) for a in body["anomalies"]
    ]
    assert sorted(got) == sorted(expected) and expected
    impacts = [a["impact"] for a in body["anomalies"]]
    assert impacts == sorted(impacts, reverse=True)
