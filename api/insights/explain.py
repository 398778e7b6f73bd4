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

Each segment's parts are worked out in SQL, by the macro explain_components
(dbt_project/macros/explain.sql) that the mart fct_monthly_cost_explanations builds with:
volume and mix in DOUBLE kept to 12 decimals, price what is left in DECIMAL, so the parts sum
exactly to the change. Here each component is rounded to cents, and the cents the rounding
lost or gained go to the components that lost or gained the most (largest remainder), so the
rounded components add up to the rounded change (the difference of the rounded totals, as the
cost summary shows it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

COMPONENTS = ("volume", "mix", "price", "new", "discontinued")


@dataclass(frozen=True)
class Segment:
    """A segment's units and cost in both periods, its status (both, new, discontinued or
    none) and its parts of the change, in the order of COMPONENTS."""

    first_key: str | None
    second_key: str | None
    status: str
    base_units: Decimal
    base_cost: Decimal
    units: Decimal
    cost: Decimal
    volume: Decimal
    mix: Decimal
    price: Decimal
    new: Decimal
    discontinued: Decimal

    @property
    def key(self) -> tuple[str | None, ...]:
        return (self.first_key, self.second_key)

    @property
    def parts(self) -> tuple[Decimal, ...]:
        return (self.volume, self.mix, self.price, self.new, self.discontinued)


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
