"""The cost marts against an oracle that prices every landing event with genai-prices."""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb
import pytest

from tests.conftest import FIXTURE_EVENTS, MALFORMED_LINES
from tests.expected import expected_events, read_bodies

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def expected(built_home):
    settings, _ = built_home
    return expected_events(settings.landing_dir)


@pytest.fixture(scope="module")
def facts(snapshot):
    rows = snapshot.execute(
        "select organization_id, idempotency_key, cost_usd, pricing_status, model, event_at "
        "from fct_usage_costs"
    ).fetchall()
    return {(org, key): (cost, status, model, at) for org, key, cost, status, model, at in rows}


def test_every_event_costs_what_calc_price_says(expected, facts):
    assert facts.keys() == expected.keys()
    wrong = [
        (key, facts[key][0], event.cost_usd)
        for key, event in expected.items()
        if abs(facts[key][0] - event.cost_usd) > Decimal("1e-9")
    ]
    assert wrong == []


def test_models_and_providers_are_the_catalogue_ids(expected, snapshot):
    rows = snapshot.execute(
        "select organization_id, idempotency_key, model, provider from fct_usage_costs"
    ).fetchall()
    assert {(o, k): (m, p) for o, k, m, p in rows} == {
        k: (e.model, e.provider) for k, e in expected.items()
    }


def test_pricing_status_matches_the_oracle(expected, facts):
    assert {k: facts[k][1] for k in expected} == {k: e.status for k, e in expected.items()}


def test_the_fixture_exercises_every_pricing_case(expected):
    statuses = Counter(e.status for e in expected.values())
    assert statuses["priced"] > 1000
    assert statuses["unpriced"] > 0
    assert statuses["caller_cost"] > 0
    assert statuses["not_applicable"] > 0
    models = {e.body["metadata"].get("model") for e in expected.values()}
    assert {"gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022", "deepseek-chat"} <= models


def test_total_cost_is_exact_to_the_cent(expected, snapshot):
    oracle = sum((e.cost_usd for e in expected.values()), Decimal(0))
    (total,) = snapshot.execute("select sum(cost_usd) from fct_usage_costs").fetchone()
    assert total.quantize(CENT, ROUND_HALF_EVEN) == oracle.quantize(CENT, ROUND_HALF_EVEN)
    assert abs(total - oracle) < Decimal("1e-9")


def test_per_organization_totals_match(expected, snapshot):
    oracle: dict[str, Decimal] = {}
    for e in expected.values():
        oracle[e.organization_id] = oracle.get(e.organization_id, Decimal(0)) + e.cost_usd
    rows = dict(
        snapshot.execute(
            "select organization_id, sum(cost_usd) from fct_daily_costs group by 1"
        ).fetchall()
    )
    assert {k: v.quantize(CENT) for k, v in rows.items()} == {
        k: v.quantize(CENT) for k, v in oracle.items()
    }


def test_duplicates_are_counted_once(built_home, snapshot):
    settings, summary = built_home
    bodies = read_bodies(settings.landing_dir)
    keys = [(org, body["idempotencyKey"]) for org, _, _, body in bodies if "idempotencyKey" in body]
    duplicates = len(keys) - len(set(keys))
    assert duplicates == 60  # 1% of the generated events are retries
    (events,) = snapshot.execute("select count(*) from fct_usage_costs").fetchone()
    assert events == FIXTURE_EVENTS + 1 - duplicates  # + the spec example's event
    assert summary.duplicates == duplicates


def test_unpriced_events_are_kept_and_counted(expected, snapshot):
    unpriced = sum(1 for e in expected.values() if e.status == "unpriced")
    (daily,) = snapshot.execute("select sum(unpriced_event_count) from fct_daily_costs").fetchone()
    assert daily == unpriced
    (kept,) = snapshot.execute(
        "select count(*) from fct_usage_costs where pricing_status = 'unpriced' and cost_usd = 0"
    ).fetchone()
    assert kept == unpriced


def test_bad_lines_are_quarantined_with_their_reason(built_home, snapshot):
    _, summary = built_home
    rows = snapshot.execute(
        "select source_line, reason from rejected_events "
        "where source_file = 'acme/hand-written.jsonl' order by source_line"
    ).fetchall()
    assert rows == [
        (1, "event: must be a JSON object"),
        (2, "quantity: must be between 0 and 100000000000"),
        (3, "event: must be a JSON object"),
    ]
    assert summary.events_rejected == len(MALFORMED_LINES)


def test_daily_mart_sums_to_the_fact(snapshot):
    fact, daily = snapshot.execute(
        "select (select sum(cost_usd) from fct_usage_costs), (select sum(cost_usd) from fct_daily_costs)"
    ).fetchone()
    assert fact == daily


def test_dated_model_names_roll_up_to_their_model(snapshot):
    rows = snapshot.execute(
        "select distinct model from fct_usage_costs where model_ref = 'gpt-4o-2024-08-06'"
    ).fetchall()
    assert rows == [("gpt-4o",)]


def test_the_component_view_prices_each_event_as_calc_price_does(expected, home_copy):
    """int_usage_components_priced, the analysts' part-by-part prices, on its own (the fact
    prices each event in one row with the same rules): its costs summed per event."""
    with duckdb.connect(str(home_copy.warehouse_path), read_only=True) as warehouse:
        rows = warehouse.execute(
            "select events.organization_id, events.idempotency_key, "
            "sum(coalesce(parts.cost_usd, 0)), count(parts.price_id), count(*) "
            "from intermediate.int_usage_components_priced as parts "
            "join raw.usage_events as events using (event_id) group by all"
        ).fetchall()
    parts = {(org, key): (cost, priced, total) for org, key, cost, priced, total in rows}
    with_parts = {"priced", "partially_priced", "unpriced"}
    assert parts.keys() == {k for k, e in expected.items() if e.status in with_parts}
    wrong = [
        (key, cost, expected[key].cost_usd)
        for key, (cost, _, _) in parts.items()
        if abs(cost - expected[key].cost_usd) > Decimal("1e-9")
    ]
    assert wrong == []
    statuses = {
        key: "priced" if priced == total else "unpriced" if priced == 0 else "partially_priced"
        for key, (_, priced, total) in parts.items()
    }
    assert statuses == {key: expected[key].status for key in parts}
