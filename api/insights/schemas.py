from __future__ import annotations

from pydantic import BaseModel, Field


class Components(BaseModel):
    volume: float = Field(
        description="(Q₁ − Q₀) · P̄₀: more or fewer units at the base's average price."
    )
    mix: float = Field(
        description="Q₁ · Σ (s₁ − s₀) · p₀: units moving between dearer and cheaper segments."
    )
    price: float = Field(description="Σ q₁ · (p₁ − p₀): the same units at new prices per unit.")
    new: float = Field(description="Cost of segments present only in the current period.")
    discontinued: float = Field(description="Minus the cost of segments present only in the base.")


class UnpricedEvents(BaseModel):
    current: int = Field(description="Events of the current period no price was found for.")
    base: int = Field(description="The same, in the base period.")


class SegmentChange(BaseModel):
    segment: dict[str, str | None] = Field(
        description='What the segment is: {"model", "usageType"}, or {"model"} / {"provider"} / '
        '{"feature"} with `by`.'
    )
    status: str = Field(description="both, new, discontinued (which periods it has units in).")
    baseUnits: float = Field(description="Units (tokens; events with `by`) in the base period.")
    currentUnits: float = Field(description="Units in the current period.")
    baseCost: float = Field(description="Cost in the base period, USD (cents).")
    currentCost: float = Field(description="Cost in the current period, USD (cents).")
    change: float = Field(description="currentCost − baseCost.")


class Explanation(BaseModel):
    startDate: str = Field(description="First date of the current period (the organization's).")
    endDate: str = Field(description="Last date of the current period, inclusive.")
    baseStartDate: str = Field(description="First date of the base period.")
    baseEndDate: str = Field(description="Last date of the base period, inclusive.")
    currentCost: float = Field(description="Cost of the current period, USD (cents).")
    baseCost: float = Field(description="Cost of the base period, USD (cents).")
    change: float = Field(description="currentCost − baseCost; the components add up to it.")
    components: Components
    unpricedEvents: UnpricedEvents
    segments: list[SegmentChange] = Field(
        description="Every segment, the largest change (either way) first."
    )


class CostForecast(BaseModel):
    periodStart: str = Field(description="First instant of the period (the zone's offset).")
    periodEnd: str = Field(description="Last instant of the period.")
    actualToDate: float = Field(description="Cost from the period's start to now, USD (cents).")
    forecast: float = Field(description="actualToDate plus the expected cost of the rest.")
    low: float | None = Field(description="10th percentile (backtests); null without a band.")
    high: float | None = Field(description="90th percentile (backtests); null without a band.")
    method: str = Field(description="How the forecast and its band are made.")
    historyDays: int = Field(description="Complete days of history before today.")
    insufficientHistory: bool = Field(
        description="Fewer than 14 days of history: the forecast stands, without a band."
    )


class CostAnomaly(BaseModel):
    date: str = Field(description="The day (YYYY-MM-DD, the organization's calendar).")
    segment: dict[str, str | None] = Field(
        description='Whose cost: {} for the organization\'s, else {"model": …} (or provider, '
        "feature, endUser) with `by`."
    )
    expected: float = Field(description="The median of the same weekday over the 8 weeks before.")
    actual: float = Field(description="The day's cost, USD (cents).")
    impact: float = Field(description="|actual − expected|: how the list is ranked.")
    score: float | None = Field(
        description="Robust z-score |x − median| / (1.4826 · MAD), 2 decimals; null when every "
        "week before cost the same."
    )


class CostAnomalies(BaseModel):
    startDate: str = Field(description="First day looked at.")
    endDate: str = Field(description="Last day looked at, inclusive.")
    minImpact: float = Field(description="The least departure, USD, an anomaly has.")
    anomalies: list[CostAnomaly] = Field(description="The largest impact first.")
