"""Where this period's cost is heading (docs/insights.md#forecast).

The forecast is the actual cost so far plus, for each day left in the period (the rest of
today pro rata), the mean cost of the same weekday over the 28 days before today. Its band
comes from backtests on the organization's own history: every day with at least 7 days
before it is predicted the same way from the 28 days before it, and the errors (actual −
predicted) of every run of as many consecutive days as are left are summed; `low` and `high`
are the forecast plus the 10th and 90th percentile of those sums (linear interpolation),
widened to hold the forecast itself and never below the actual cost so far. With fewer than
14 days of history there is no band.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

WINDOW_DAYS = 28  # the days the same-weekday mean is taken over
MIN_HISTORY_DAYS = 14  # fewer: no band
MIN_BACKTEST_LEAD = 7  # a backtested day has at least this many days before it
LOW, HIGH = Fraction(10, 100), Fraction(90, 100)


def weekday_mean(daily: dict[date, Decimal], day: date) -> Fraction:
    """The mean cost of `day`'s weekday over the WINDOW_DAYS days before it that have history
    (a day of the history without cost is 0); 0 when there are none."""
    first = min(daily, default=day)
    same = [
        day - timedelta(days=7 * weeks)
        for weeks in range(1, WINDOW_DAYS // 7 + 1)
        if day - timedelta(days=7 * weeks) >= first
    ]
    if not same:
        return Fraction(0)
    return sum((Fraction(daily.get(d, Decimal(0))) for d in same), Fraction(0)) / len(same)


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
    daily: dict[date, Decimal],
    today: date,
    today_left: Fraction,
    period_end: date,
    actual: Decimal,
) -> Forecast:
    """`daily`: the organization's cost per day of its calendar before today (complete days,
    from its first day with cost); `today_left`: the share of today still to come;
    `period_end`: the period's last day; `actual`: its cost so far."""
    history = sorted(daily)
    history_days = (today - history[0]).days if history else 0
    rest = today_left * weekday_mean(daily, today) + sum(
        (
            weekday_mean(daily, today + timedelta(days=n))
            for n in range(1, (period_end - today).days + 1)
        ),
        Fraction(0),
    )
    expected = Fraction(actual) + rest
    if history_days < MIN_HISTORY_DAYS:
        return Forecast(expected, None, None, history_days)
    first = history[0]
    tested = [first + timedelta(days=n) for n in range(MIN_BACKTEST_LEAD, history_days)]
    errors = [
        Fraction(daily.get(d, Decimal(0)))
        - weekday_mean({k: v for k, v in daily.items() if k < d}, d)
        for d in tested
    ]
    horizon = max(1, min((period_end - today).days + 1, len(errors)))
    sums = [sum(errors[i : i + horizon], Fraction(0)) for i in range(len(errors) - horizon + 1)]
    # the band holds the forecast: when the backtests' errors all lean one way (a history
    # that grows faster than a weekday's mean follows), it reaches from the forecast that way
    low = max(Fraction(actual), min(expected, expected + percentile(sums, LOW)))
    high = max(expected, expected + percentile(sums, HIGH))
    return Forecast(expected, low, high, history_days)
