"""Where this period's cost is heading (docs/insights.md#forecast).

The forecast is the actual cost so far plus, for each day left in the period (the rest of
today pro rata), its weekday's mean cost over the 28 days before today. The daily predictions
are a mart, `fct_daily_cost_forecasts`: each day of an organization's calendar with the mean of
its weekday over the 28 days before it. The week from today has the means of the 28 days
before today, one per weekday, and every later day left repeats its weekday's.

The band comes from backtests on the organization's own history: every day from the 8th of
its history to yesterday was predicted the same way, and the errors (actual − predicted) of
every run of as many consecutive days as are left are summed; `low` and `high` are the
forecast plus the 10th and 90th percentile of those sums (linear interpolation), widened to
hold the forecast itself and never below the actual cost so far. With fewer than 14 days of
history there is no band.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

MIN_HISTORY_DAYS = 14  # fewer: no band
MIN_BACKTEST_LEAD = 7  # a backtested day has at least this many days before it
LOW, HIGH = Fraction(10, 100), Fraction(90, 100)


@dataclass(frozen=True)
class Day:
    """A row of fct_daily_cost_forecasts: the day's cost and its weekday's window."""

    cost: Decimal
    window_cost: Decimal
    window_days: int

    @property
    def predicted(self) -> Fraction:
        return Fraction(self.window_cost) / self.window_days if self.window_days else Fraction(0)


NOTHING = Day(Decimal(0), Decimal(0), 0)  # a day past the mart's: no cost, predicted 0


def percentile(values: list[Fraction], share: Fraction) -> Fraction:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(frozen=True)
class Forecast:
    forecast: Fraction
    low: Fraction | None
    high: Fraction | None
    history_days: int


def forecast(
    days: dict[date, Day],
    today: date,
    today_left: Fraction,
    period_end: date,
    actual: Decimal,
) -> Forecast:
    """`days`: the organization's rows of fct_daily_cost_forecasts before today + 7 (a day
    past them predicts 0); `today_left`: the share of today still to come; `period_end`: the
    period's last day; `actual`: its cost so far."""
    first = min(days, default=today)
    history_days = max(0, (today - first).days)

    def predicted(day: date) -> Fraction:
        """`day`'s weekday's mean over the 28 days before today."""
        same = today + timedelta(days=(day - today).days % 7)
        return days.get(same, NOTHING).predicted

    left = (period_end - today).days
    rest = today_left * predicted(today) + sum(
        (predicted(today + timedelta(days=n)) for n in range(1, left + 1)), Fraction(0)
    )
    expected = Fraction(actual) + rest
    if history_days < MIN_HISTORY_DAYS:
        return Forecast(expected, None, None, history_days)
    tested = [first + timedelta(days=n) for n in range(MIN_BACKTEST_LEAD, history_days)]
    errors = [Fraction(days.get(d, NOTHING).cost) - days.get(d, NOTHING).predicted for d in tested]
    horizon = max(1, min(left + 1, len(errors)))
    sums = [sum(errors[i : i + horizon], Fraction(0)) for i in range(len(errors) - horizon + 1)]
    # the band holds the forecast: when the backtests' errors all lean one way (a history
    # that grows faster than a weekday's mean follows), it reaches from the forecast that way
    low = max(Fraction(actual), min(expected, expected + percentile(sums, LOW)))
    high = max(expected, expected + percentile(sums, HIGH))
    return Forecast(expected, low, high, history_days)
