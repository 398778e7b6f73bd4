"""Days whose cost is unusual for their segment (docs/insights.md#anomalies).

A day's cost x is compared with the same weekday of the 8 weeks before it (at least 4 of them
within the organization's history; a day without cost counts as 0): with m their median and
MAD the median of |xᵢ − m|, its robust z-score is |x − m| / (1.4826 · MAD). It is an anomaly
when the score is above 3.5 **and** |x − m| is at least the minimum impact in dollars. When
MAD is 0 (half the weeks alike), the scale is 1.253314 × the mean of |xᵢ − m|; when that is 0
too (every week alike), any departure of at least the minimum impact is an anomaly, with no
score. Anomalies are ranked by their impact |x − m|, largest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from statistics import median

WEEKS = 8
MIN_WEEKS = 4
THRESHOLD = Fraction(35, 10)
MAD_SCALE = Fraction(14826, 10000)
MEAN_AD_SCALE = Fraction(1253314, 1000000)


@dataclass(frozen=True)
class Anomaly:
    day: date
    segment: str | None
    expected: Fraction
    actual: Fraction
    score: Fraction | None

    @property
    def impact(self) -> Fraction:
        return abs(self.actual - self.expected)


def anomalies(
    daily: dict[str | None, dict[date, Decimal]],
    first_day: date,
    days: list[date],
    min_impact: Decimal,
) -> list[Anomaly]:
    """`daily`: segment → its cost per day (days without cost left out); `first_day`: the
    organization's first day with a cost; `days`: the days to look at."""
    found = []
    for segment, costs in daily.items():
        for day in days:
            weeks = [day - timedelta(days=7 * k) for k in range(1, WEEKS + 1)]
            weeks = [d for d in weeks if d >= first_day]
            if len(weeks) < MIN_WEEKS:
                continue
            values = [Fraction(costs.get(d, Decimal(0))) for d in weeks]
            actual = Fraction(costs.get(day, Decimal(0)))
            middle = median(values)
            departure = abs(actual - middle)
            if departure == 0 or departure < Fraction(min_impact):
                continue
            deviations = [abs(v - middle) for v in values]
            scale = MAD_SCALE * median(deviations)
            if scale == 0:
                scale = MEAN_AD_SCALE * sum(deviations, Fraction(0)) / len(deviations)
            score = None if scale == 0 else departure / scale
            if score is None or score > THRESHOLD:
                found.append(Anomaly(day, segment, middle, actual, score))
    return sorted(found, key=lambda a: (-a.impact, a.day, str(a.segment)))
