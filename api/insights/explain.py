"""Why cost moved between two periods: the change split into volume, mix, price, new and
discontinued (docs/insights.md gives the formulas and a worked example).

Segments are (model, usage type) with their units (tokens), or the values of one dimension
(model, provider, feature) with their events as units. Over the segments present in both
periods (units in each), with q the units, c the cost, p = c / q, Q = Σq, s = q / Q and
P̄₀ = C₀ / Q₀:

    volume = (Q₁ − Q₀) · P̄₀
    mix    = Q₁ · Σ (s₁ − s₀) · p₀
    price  = Σ q₁ · (p₁ − p₀)
    new          = cost of the segments present only in the current period
    discontinued = − cost of the segments present only in the base period

They are worked out in exact fractions, so they sum to the change exactly; each is then
rounded to cents, and the cents the rounding lost or gained go to the components that lost
or gained the most (largest remainder), so the rounded components add up to the rounded
change (the difference of the rounded totals, as the cost summary shows it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

COMPONENTS = ("volume", "mix", "price", "new", "discontinued")


@dataclass(frozen=True)
class Segment:
    key: tuple[str | None, ...]
    base_units: Decimal
    base_cost: Decimal
    units: Decimal
    cost: Decimal

    @property
    def status(self) -> str:
        """both, new, discontinued or none (no units in either period)."""
        base, current = self.base_units > 0, self.units > 0
        return {(True, True): "both", (False, True): "new", (True, False): "discontinued"}.get(
            (base, current), "none"
        )


def components(segments: list[Segment]) -> dict[str, Fraction]:
    """The exact components; they sum to Σ cost − Σ base cost."""
    both = [s for s in segments if s.status == "both"]
    q0 = sum((Fraction(s.base_units) for s in both), Fraction(0))
    q1 = sum((Fraction(s.units) for s in both), Fraction(0))
    c0 = sum((Fraction(s.base_cost) for s in both), Fraction(0))
    parts = dict.fromkeys(COMPONENTS, Fraction(0))
    if both:
        average = c0 / q0
        parts["volume"] = (q1 - q0) * average
        parts["mix"] = q1 * sum(
            (
                (Fraction(s.units) / q1 - Fraction(s.base_units) / q0)
                * (Fraction(s.base_cost) / Fraction(s.base_units))
                for s in both
            ),
            Fraction(0),
        )
        parts["price"] = sum(
            (
                Fraction(s.cost)
                - Fraction(s.units) * Fraction(s.base_cost) / Fraction(s.base_units)
                for s in both
            ),
            Fraction(0),
        )
    # outside `both`, a segment's whole change is its part (a cost without units, which the
    # marts never have, counts with it, so that the parts always sum to the change)
    outside = {"new": "new", "discontinued": "discontinued", "none": "price"}
    for s in segments:
        if s.status in outside:
            parts[outside[s.status]] += Fraction(s.cost) - Fraction(s.base_cost)
    return parts


def cents(value: Fraction | Decimal) -> Decimal:
    """Rounded to cents exactly, half away from zero (as every amount the API shows)."""
    hundredths = Fraction(value) * 100
    whole = math.floor(abs(hundredths) + Fraction(1, 2))
    return (Decimal(whole if hundredths >= 0 else -whole) / 100).quantize(Decimal("0.01"))


def rounded(parts: dict[str, Fraction], change: Decimal) -> dict[str, Decimal]:
    """Each component in cents, adjusted (largest remainder) to add up to `change`."""
    shown = {name: cents(value) for name, value in parts.items()}
    off = int((change - sum(shown.values(), Decimal(0))) / Decimal("0.01"))
    step = Decimal("0.01") if off > 0 else Decimal("-0.01")
    # who lost the most to rounding gets a cent back first (or gave the most, the other way)
    order = sorted(
        parts, key=lambda name: (Fraction(shown[name]) - parts[name]) * (1 if off > 0 else -1)
    )
    for name in order[: abs(off)]:
        shown[name] += step
    return shown
