"""The API's answers worked out from the oracle's events with plain Python and Decimal."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from tests.expected import ExpectedEvent

CENT = Decimal("0.01")


def cents(value: Decimal) -> float:
    return float(value.quantize(CENT, ROUND_HALF_UP))


def cost(
    events: list[ExpectedEvent], org: str, start: datetime, end: datetime, user: str | None = None
) -> Decimal:
    """Sum over start <= event_at < end."""
    return sum(
        (
            e.cost_usd
            for e in events
            if e.organization_id == org
            and start <= e.event_at < end
            and (user is None or e.end_user_id == user)
        ),
        Decimal(0),
    )


def change(total: float, previous: float) -> tuple[float, float | None]:
    t, p = Decimal(str(total)), Decimal(str(previous))
    percent = None if p == 0 else float(((t - p) * 100 / p).quantize(CENT, ROUND_HALF_UP))
    return float(t - p), percent


def breakdown(
    events: list[ExpectedEvent], org: str, first: date, last: date, by: str, user: str | None = None
) -> list[tuple[str, float, int]]:
    costs: dict[str, Decimal] = defaultdict(Decimal)
    counts: dict[str, int] = defaultdict(int)
    for e in events:
        name = getattr(e, by)
        if (
            e.organization_id == org
            and first <= e.event_at.date() <= last
            and name is not None
            and (user is None or e.end_user_id == user)
        ):
            costs[name] += e.cost_usd
            counts[name] += 1
    ordered = sorted(costs, key=lambda name: (-costs[name], name))
    return [(name, cents(costs[name]), counts[name]) for name in ordered]
