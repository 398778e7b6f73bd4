"""Period comparisons and hourly usage against sums computed from the fact by hand."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal


def _month_start(day: date) -> date:
    return day.replace(day=1)


def test_monthly_costs_compare_with_the_previous_month(snapshot):
    by_month: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for org, day, cost in snapshot.execute(
        "select organization_id, event_date, cost_usd from fct_usage_costs"
    ).fetchall():
        by_month[(org, _month_start(day))] += cost
    rows = snapshot.execute(
        "select organization_id, period_start, cost_usd, previous_cost_usd, change_usd, change_percent "
        "from fct_period_costs where period_grain = 'month' and model = '(all models)'"
    ).fetchall()
    assert rows
    for org, start, cost, previous, change, percent in rows:
        prev_start = _month_start(start - timedelta(days=1))
        assert cost == by_month.get((org, start), 0)
        assert previous == by_month.get((org, prev_start), 0)
        assert change == cost - previous
        if previous == 0:
            assert percent is None
        else:
            assert percent == round(float((cost - previous) * 100 / previous), 4)


def test_periods_run_without_gaps_to_the_as_of_date(snapshot):
    def months(org: str) -> list[date]:
        rows = snapshot.execute(
            "select distinct period_start from fct_period_costs "
            "where period_grain = 'month' and organization_id = ? order by 1",
            [org],
        ).fetchall()
        return [row[0] for row in rows]

    # fixture: 60 days ending 2026-11-24, and one acme event on 2026-01-13
    assert months("globex") == [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]
    assert months("acme") == [date(2026, m, 1) for m in range(1, 12)]


def test_per_model_periods_add_up_to_the_overall_row(snapshot):
    mismatches = snapshot.execute("""
        select organization_id, period_grain, period_start
        from fct_period_costs
        group by 1, 2, 3
        having sum(case when model <> '(all models)' then cost_usd else 0 end)
            <> sum(case when model = '(all models)' then cost_usd else 0 end)
    """).fetchall()
    assert mismatches == []


def test_hourly_usage_aggregates_quantities(snapshot):
    expected: dict[tuple, list[Decimal]] = defaultdict(list)
    for org, user, event_type, metric, at, quantity in snapshot.execute(
        "select organization_id, end_user_id, event_type, metric_name, event_at, quantity "
        "from fct_usage_costs"
    ).fetchall():
        expected[
            (org, user, event_type, metric, at.replace(minute=0, second=0, microsecond=0))
        ].append(quantity)
    rows = snapshot.execute(
        "select organization_id, customer_id, event_type, metric_name, usage_hour, event_count, "
        "quantity_sum, quantity_min, quantity_max from fct_hourly_usage"
    ).fetchall()
    assert len(rows) == len(expected)
    for org, customer, event_type, metric, hour, count, total, low, high in rows:
        values = expected[(org, customer, event_type, metric, hour)]
        assert (count, total, low, high) == (len(values), sum(values), min(values), max(values))


def test_models_dimension_shows_current_prices(snapshot):
    row = snapshot.execute(
        "select input_usd_per_million, output_usd_per_million, cache_read_usd_per_million "
        "from dim_models where provider_id = 'openai' and model_id = 'gpt-4o'"
    ).fetchone()
    # gpt-4o: $2.50 in, $10 out, $1.25 cached input per million tokens
    assert row == (Decimal("2.5"), Decimal("10"), Decimal("1.25"))
