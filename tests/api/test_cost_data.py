"""/v1/cost-data/*: auth, scopes, parameters, then exact values against the oracle."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from api.cost_data.period_costs import PeriodCosts
from tests.api.conftest import auth
from tests.api.oracle_answers import breakdown, cents, change, cost

NOW = datetime(2026, 11, 24, 12, 0)  # the fixture's pinned clock, UTC


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TestSummary:
    URL = "/v1/cost-data/summary"

    def test_401_without_a_key(self, client):
        response = client.get(self.URL)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"

    def test_403_without_the_costs_read_scope(self, client, keys):
        response = client.get(self.URL, headers=auth(keys.acme_write_only))
        assert response.status_code == 403
        assert response.json()["error"]["message"] == "API key lacks required scope: costs:read"

    def test_another_organization_sees_only_its_own_costs(self, client, keys, oracle):
        body = client.get(self.URL, headers=auth(keys.globex)).json()
        assert body["totalCost"] == cents(
            cost(oracle, "globex", datetime(2026, 11, 1), datetime(2026, 12, 1))
        )

    def test_unknown_time_window_lists_the_valid_ones(self, client, keys):
        response = client.get(self.URL, params={"time_window": "weekly"}, headers=auth(keys.acme))
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert error["message"] == (
            "Invalid time_window: weekly. Valid options: current-period, last-period, last-7-days, last-30-days"
        )

    @pytest.mark.parametrize(
        ("window", "start", "end", "previous_start", "period_start", "period_end"),
        [
            (
                "current-period",
                datetime(2026, 11, 1),
                datetime(2026, 12, 1),
                datetime(2026, 10, 1),
                datetime(2026, 11, 1),
                datetime(2026, 11, 30, 23, 59, 59, 999000),
            ),
            (
                "last-period",
                datetime(2026, 10, 1),
                datetime(2026, 11, 1),
                datetime(2026, 9, 1),
                datetime(2026, 10, 1),
                datetime(2026, 10, 31, 23, 59, 59, 999000),
            ),
            (
                "last-7-days",
                NOW - timedelta(days=7),
                NOW + timedelta(microseconds=1),
                NOW - timedelta(days=14),
                NOW - timedelta(days=7),
                NOW,
            ),
            (
                "last-30-days",
                NOW - timedelta(days=30),
                NOW + timedelta(microseconds=1),
                NOW - timedelta(days=60),
                NOW - timedelta(days=30),
                NOW,
            ),
        ],
    )
    def test_exact_totals_per_window(
        self, client, keys, oracle, window, start, end, previous_start, period_start, period_end
    ):
        body = client.get(self.URL, params={"time_window": window}, headers=auth(keys.acme)).json()
        total = cents(cost(oracle, "acme", start, end))
        previous = cents(cost(oracle, "acme", previous_start, start))
        amount, percent = change(total, previous)
        assert body == {
            "totalCost": total,
            "previousPeriodCost": previous,
            "changeAmount": amount,
            "changePercent": percent,
            "periodStart": _iso(period_start),
            "periodEnd": _iso(period_end),
        }
        assert total > 0

    def test_default_window_is_the_current_period(self, client, keys):
        default = client.get(self.URL, headers=auth(keys.acme)).json()
        explicit = client.get(
            self.URL, params={"time_window": "current-period"}, headers=auth(keys.acme)
        ).json()
        assert default == explicit


class TestPeriodCostsFromMemory:
    """The summary's sums (api/cost_data/period_costs.py) against the oracle, exact to the last
    decimal, for periods whose edges fall on events, just beside them, on hour starts and inside
    one hour: whole hours come from the hourly rollup, the edge hours from their events."""

    def test_any_period_equals_the_sum_of_its_events(self, snapshot, oracle):
        costs = PeriodCosts(snapshot)
        acme = sorted(e.event_at for e in oracle if e.organization_id == "acme")
        rng = random.Random(11)
        tick = timedelta(microseconds=1)
        periods = [
            (datetime(2026, 11, 1), datetime(2026, 12, 1)),  # whole hours only
            (acme[0], acme[-1] + tick),  # every event, both edges inside an hour
            (acme[10], acme[10]),  # empty
            (acme[20], acme[10]),  # reversed: empty
        ]
        for _ in range(60):
            a, b = sorted(rng.sample(acme, 2))
            periods.append(
                (a + rng.choice([-tick, 0 * tick, tick]), b + rng.choice([0 * tick, tick]))
            )
        hour = acme[len(acme) // 2].replace(minute=0, second=0, microsecond=0)
        periods.append((hour + timedelta(minutes=5), hour + timedelta(minutes=50)))  # one hour
        periods.append((hour, hour + timedelta(minutes=30)))  # from an hour's start
        periods.append((hour - timedelta(minutes=30), hour))  # to an hour's start
        for start, end in periods:
            assert costs.cost("acme", start, end) == cost(oracle, "acme", start, end), (start, end)
        assert sum(cost(oracle, "acme", s, e) > 0 for s, e in periods) > 60
        assert costs.in_memory("acme", *periods[-3:])
        assert costs.cost("nobody", datetime(2026, 1, 1), datetime(2027, 1, 1)) == 0

    def test_one_subjects_period_equals_the_sum_of_its_events(self, snapshot, oracle):
        """A limit's subject (an end user, a model, a provider, a feature): the same sums over
        that subject's events, the first from a query, the rest from memory."""
        costs = PeriodCosts(snapshot)
        acme = [e for e in oracle if e.organization_id == "acme"]
        instants = sorted(e.event_at for e in acme)
        rng = random.Random(12)
        tick = timedelta(microseconds=1)
        subjects = {
            "end_user": lambda e: e.end_user_id,
            "model": lambda e: e.model,
            "provider": lambda e: e.provider,
            "feature": lambda e: e.body.get("metadata", {}).get("feature"),
        }
        checked = 0
        for subject_type, of in subjects.items():
            ids = sorted({of(e) for e in acme if of(e) is not None and e.cost_usd > 0})
            for subject_id in rng.sample(ids, min(3, len(ids))):
                periods = [(datetime(2026, 11, 1), datetime(2026, 12, 1))]
                for _ in range(8):
                    a, b = sorted(rng.sample(instants, 2))
                    periods.append((a + rng.choice([-tick, 0 * tick, tick]), b + tick))
                for start, end in periods:
                    expected = sum(
                        (
                            e.cost_usd
                            for e in acme
                            if of(e) == subject_id and start <= e.event_at < end
                        ),
                        Decimal(0),
                    )
                    got = costs.cost("acme", start, end, (subject_type, subject_id))
                    assert got == expected, (subject_type, subject_id, start, end)
                    checked += expected > 0
                assert costs.in_memory("acme", *periods, subject=(subject_type, subject_id))
        assert checked > 40


class TestByModel:
    URL = "/v1/cost-data/by-model"
    RANGE = {"start_date": "2026-10-01", "end_date": "2026-10-31"}

    def test_401_with_an_unknown_key(self, client):
        response = client.get(self.URL, params=self.RANGE, headers=auth("sk_test_" + "x" * 32))
        assert response.status_code == 401

    def test_403_without_the_costs_read_scope(self, client, keys):
        assert (
            client.get(self.URL, params=self.RANGE, headers=auth(keys.acme_write_only)).status_code
            == 403
        )

    @pytest.mark.parametrize(
        ("params", "message"),
        [
            ({"start_date": "2026-1-1"}, "Invalid start_date: 2026-1-1. Expected YYYY-MM-DD"),
            ({"start_date": "2026-02-30"}, "Invalid start_date: 2026-02-30 is not a calendar date"),
            (
                {"start_date": "2026-10-31", "end_date": "2026-10-01"},
                "Invalid date range: end_date 2026-10-01 is before start_date 2026-10-31",
            ),
            (
                {"start_date": "2024-01-01", "end_date": "2026-10-01"},
                "Invalid date range: 1005 days; at most 400 days",
            ),
        ],
    )
    def test_bad_dates(self, client, keys, params, message):
        response = client.get(self.URL, params=params, headers=auth(keys.acme))
        assert response.status_code == 400
        assert response.json()["error"]["message"] == message

    def test_exact_breakdown_most_expensive_first(self, client, keys, oracle):
        body = client.get(self.URL, params=self.RANGE, headers=auth(keys.acme)).json()
        expected = breakdown(oracle, "acme", date(2026, 10, 1), date(2026, 10, 31), "model")
        assert [
            (r["model"], r["totalCost"], r["eventCount"]) for r in body["breakdown"]
        ] == expected
        assert round(sum(r["percentOfTotal"] for r in body["breakdown"]), 6) == 100.0
        top = body["breakdown"][0]
        total = sum(r[1] for r in expected)
        assert abs(top["percentOfTotal"] - top["totalCost"] * 100 / total) <= 0.1

    def test_another_organizations_breakdown_is_its_own(self, client, keys, oracle):
        body = client.get(self.URL, params=self.RANGE, headers=auth(keys.globex)).json()
        expected = breakdown(oracle, "globex", date(2026, 10, 1), date(2026, 10, 31), "model")
        assert [
            (r["model"], r["totalCost"], r["eventCount"]) for r in body["breakdown"]
        ] == expected


class TestByProvider:
    URL = "/v1/cost-data/by-provider"

    def test_401_with_a_revoked_key(self, client, keys):
        assert client.get(self.URL, headers=auth(keys.revoked)).status_code == 401

    def test_403_without_the_costs_read_scope(self, client, keys):
        assert client.get(self.URL, headers=auth(keys.acme_write_only)).status_code == 403

    def test_exact_breakdown(self, client, keys, oracle):
        params = {"start_date": "2026-11-01", "end_date": "2026-11-24"}
        body = client.get(self.URL, params=params, headers=auth(keys.acme)).json()
        expected = breakdown(oracle, "acme", date(2026, 11, 1), date(2026, 11, 24), "provider")
        assert [
            (r["provider"], r["totalCost"], r["eventCount"]) for r in body["breakdown"]
        ] == expected
        assert "azure" in {r["provider"] for r in body["breakdown"]}


class TestTrend:
    URL = "/v1/cost-data/trend"

    def test_401_and_403(self, client, keys):
        assert client.get(self.URL).status_code == 401
        assert client.get(self.URL, headers=auth(keys.acme_write_only)).status_code == 403

    def test_unknown_granularity(self, client, keys):
        response = client.get(self.URL, params={"granularity": "hour"}, headers=auth(keys.acme))
        assert response.status_code == 400
        assert (
            response.json()["error"]["message"]
            == "Invalid granularity: hour. Valid options: day, week, month"
        )

    def test_every_day_is_present_with_exact_costs(self, client, keys, oracle):
        params = {"start_date": "2026-09-20", "end_date": "2026-10-05"}
        body = client.get(self.URL, params=params, headers=auth(keys.acme)).json()
        days = [date(2026, 9, 20) + timedelta(days=i) for i in range(16)]
        assert [p["periodStart"] for p in body["series"]] == [d.isoformat() for d in days]
        for point, day in zip(body["series"], days, strict=True):
            start = datetime.combine(day, datetime.min.time())
            assert point["totalCost"] == cents(
                cost(oracle, "acme", start, start + timedelta(days=1))
            )
        assert body["series"][0] == {"periodStart": "2026-09-20", "totalCost": 0.0, "eventCount": 0}

    def test_weeks_start_on_monday_and_months_on_the_first(self, client, keys, oracle):
        params = {"start_date": "2026-10-01", "end_date": "2026-11-24", "granularity": "week"}
        weeks = client.get(self.URL, params=params, headers=auth(keys.acme)).json()["series"]
        assert weeks[0]["periodStart"] == "2026-09-28" and weeks[-1]["periodStart"] == "2026-11-23"
        assert len(weeks) == 9
        first = cost(oracle, "acme", datetime(2026, 10, 1), datetime(2026, 10, 5))
        assert weeks[0]["totalCost"] == cents(first)
        params["granularity"] = "month"
        months = client.get(self.URL, params=params, headers=auth(keys.acme)).json()["series"]
        assert [m["periodStart"] for m in months] == ["2026-10-01", "2026-11-01"]
        assert months[1]["totalCost"] == cents(
            cost(oracle, "acme", datetime(2026, 11, 1), datetime(2026, 11, 25))
        )
