"""Rounding at the API edge: money is DECIMAL until it leaves as JSON."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def usd(amount: Decimal | int | None) -> Decimal:
    return Decimal(amount or 0).quantize(CENT, ROUND_HALF_UP)


def change(total: Decimal, previous: Decimal) -> tuple[Decimal, Decimal | None]:
    """(changeAmount, changePercent) of rounded totals; no percentage from a zero base."""
    amount = total - previous
    if previous == 0:
        return amount, None
    return amount, (amount * 100 / previous).quantize(CENT, ROUND_HALF_UP)


def shares(amounts: list[Decimal]) -> list[Decimal]:
    """Percent of the total to 0.1, adding up to exactly 100 (largest remainder)."""
    total = sum(amounts, Decimal(0))
    if total == 0:
        return [Decimal("0.0") for _ in amounts]
    tenths = [a * 1000 / total for a in amounts]
    floors = [int(t) for t in tenths]
    missing = 1000 - sum(floors)
    order = sorted(range(len(amounts)), key=lambda i: tenths[i] - floors[i], reverse=True)
    for i in order[:missing]:
        floors[i] += 1
    return [(Decimal(f) / 10).quantize(TENTH) for f in floors]


def ranked(rows: list[tuple[str, Decimal, int]]) -> list[tuple[str, Decimal, int, Decimal]]:
    """(name, cost, events) rows, most expensive first, as (name, cost to the cent, events,
    percent of the total): shares from the exact costs, adding up to 100."""
    return [
        (name, usd(cost), int(events), share)
        for (name, cost, events), share in zip(
            rows, shares([cost for _, cost, _ in rows]), strict=True
        )
    ]
