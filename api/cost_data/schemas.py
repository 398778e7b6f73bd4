from __future__ import annotations

from pydantic import BaseModel, Field


class CostSummary(BaseModel):
    totalCost: float = Field(description="Cost of the period in USD, rounded to cents.")
    previousPeriodCost: float = Field(description="Cost of the period before, in USD.")
    changeAmount: float = Field(description="totalCost - previousPeriodCost, in USD.")
    changePercent: float | None = Field(
        description="changeAmount as a percent of previousPeriodCost (2 decimals); "
        "null when the previous period cost nothing."
    )
    periodStart: str = Field(description="First instant of the period (UTC, ISO-8601).")
    periodEnd: str = Field(description="Last instant of the period (UTC, ISO-8601).")


class ModelCost(BaseModel):
    model: str = Field(
        description="Model: the catalogue id (dated names roll up), or the name as sent."
    )
    totalCost: float = Field(description="Cost in USD, rounded to cents.")
    eventCount: int = Field(description="Events of this model.")
    percentOfTotal: float = Field(
        description="Share of the total cost, in percent (0.1); shares add up to 100."
    )


class ProviderCost(BaseModel):
    provider: str = Field(description="Provider id (openai, anthropic, ...).")
    totalCost: float = Field(description="Cost in USD, rounded to cents.")
    eventCount: int = Field(description="Events of this provider.")
    percentOfTotal: float = Field(
        description="Share of the total cost, in percent (0.1); shares add up to 100."
    )


class ModelBreakdown(BaseModel):
    breakdown: list[ModelCost] = Field(description="One entry per model, most expensive first.")


class ProviderBreakdown(BaseModel):
    breakdown: list[ProviderCost] = Field(
        description="One entry per provider, most expensive first."
    )


class TrendPoint(BaseModel):
    periodStart: str = Field(description="First day of the bucket (YYYY-MM-DD).")
    totalCost: float = Field(description="Cost in the bucket within the date range, USD.")
    eventCount: int = Field(description="Events in the bucket within the date range.")


class CostTrend(BaseModel):
    granularity: str = Field(description="day, week (Monday start) or month.")
    startDate: str = Field(description="First date of the range (YYYY-MM-DD).")
    endDate: str = Field(description="Last date of the range, inclusive (YYYY-MM-DD).")
    series: list[TrendPoint] = Field(
        description="Every bucket of the range, in order; zero where nothing happened."
    )
