"""/v1/end-user-costs/{externalId}/*: auth, scopes, tenant isolation, exact values."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import pytest

from tests.api.conftest import auth
from tests.api.oracle_answers import breakdown, cents, change, cost


@pytest.fixture(scope="module")
def acme_only_user(oracle) -> str:
    """acme's busiest end user that globex has never seen."""
    globex = {e.end_user_id for e in oracle if e.organization_id == "globex"}
    counts = Counter(
        e.end_user_id for e in oracle if e.organization_id == "acme" and e.end_user_id not in globex
    )
    return counts.most_common(1)[0][0]


@pytest.fixture(scope="module")
def busiest_user(oracle) -> str:
    """An end user id that both organizations have seen (each has its own costs for it)."""
    return Counter(e.end_user_id for e in oracle if e.organization_id == "acme").most_common(1)[0][
        0
    ]


class TestEndUserSummary:
    def url(self, user: str) -> str:
        return f"/v1/end-user-costs/{user}/summary"

    def test_401_without_a_key(self, client, acme_only_user):
        assert client.get(self.url(acme_only_user)).status_code == 401

    def test_403_without_the_costs_read_scope(self, client, keys, acme_only_user):
        assert (
            client.get(self.url(acme_only_user), headers=auth(keys.acme_write_only)).status_code
            == 403
        )

    def test_another_organizations_end_user_is_not_found(self, client, keys, acme_only_user):
        response = client.get(self.url(acme_only_user), headers=auth(keys.globex))
        assert response.status_code == 404
        assert response.json()["error"] | {"correlationId": None} == {
            "code": "END_USER_NOT_FOUND",
            "message": f"End user not found: {acme_only_user}",
            "correlationId": None,
            "details": {"retryable": False},
        }

    def test_an_end_user_never_seen_is_not_found(self, client, keys):
        assert client.get(self.url("nobody-at-all"), headers=auth(keys.acme)).status_code == 404

    def test_bad_dates(self, client, keys, acme_only_user):
        response = client.get(
            self.url(acme_only_user), params={"end_date": "tomorrow"}, headers=auth(keys.acme)
        )
        assert response.status_code == 400

    def test_exact_values_against_the_days_before(self, client, keys, oracle, busiest_user):
        params = {"start_date": "2026-11-01", "end_date": "2026-11-20"}
        body = client.get(self.url(busiest_user), params=params, headers=auth(keys.acme)).json()
        total = cents(
            cost(oracle, "acme", datetime(2026, 11, 1), datetime(2026, 11, 21), busiest_user)
        )
        # the 20 days before: 2026-10-12 .. 2026-10-31
        previous = cents(
            cost(oracle, "acme", datetime(2026, 10, 12), datetime(2026, 11, 1), busiest_user)
        )
        amount, percent = change(total, previous)
        assert body.pop("endUserId").startswith("euid_")
        assert body == {
            "externalId": busiest_user,
            "totalCost": total,
            "previousPeriodCost": previous,
            "changeAmount": amount,
            "changePercent": percent,
            "periodStart": "2026-11-01T00:00:00.000Z",
            "periodEnd": "2026-11-20T00:00:00.000Z",
        }
        assert total > 0 and previous > 0

    def test_the_same_user_id_in_another_organization_has_its_own_costs(
        self, client, keys, oracle, busiest_user
    ):
        params = {"start_date": "2026-11-01", "end_date": "2026-11-20"}
        body = client.get(self.url(busiest_user), params=params, headers=auth(keys.globex)).json()
        assert body["totalCost"] == cents(
            cost(oracle, "globex", datetime(2026, 11, 1), datetime(2026, 11, 21), busiest_user)
        )


class TestEndUserByModel:
    def url(self, user: str) -> str:
        return f"/v1/end-user-costs/{user}/by-model"

    def test_401_with_a_malformed_header(self, client, acme_only_user):
        assert (
            client.get(self.url(acme_only_user), headers={"Authorization": "Token abc"}).status_code
            == 401
        )

    def test_403_without_the_costs_read_scope(self, client, keys, acme_only_user):
        assert (
            client.get(self.url(acme_only_user), headers=auth(keys.acme_write_only)).status_code
            == 403
        )

    def test_another_organizations_end_user_is_not_found(self, client, keys, acme_only_user):
        assert client.get(self.url(acme_only_user), headers=auth(keys.globex)).status_code == 404

    def test_exact_breakdown(self, client, keys, oracle, busiest_user):
        params = {"start_date": "2026-10-01", "end_date": "2026-11-24"}
        body = client.get(self.url(busiest_user), params=params, headers=auth(keys.acme)).json()
        expected = breakdown(
            oracle, "acme", date(2026, 10, 1), date(2026, 11, 24), "model", busiest_user
        )
        assert body["externalId"] == busiest_user
        assert [
            (r["model"], r["totalCost"], r["eventCount"]) for r in body["breakdown"]
        ] == expected
        assert len(expected) > 1
