from __future__ import annotations

from pydantic import BaseModel, Field

from api.cost_data.schemas import ModelCost


class EndUserSummary(BaseModel):
    endUserId: str = Field(description="Tallyhouse's id for this end user (euid_…).")
    externalId: str = Field(description="The end user's id in your app (the events' userId).")
    totalCost: float = Field(description="Cost over the date range, USD, rounded to cents.")
    previousPeriodCost: float = Field(description="Cost over the same number of days just before.")
    changeAmount: float = Field(description="totalCost - previousPeriodCost, USD.")
    changePercent: float | None = Field(
        description="changeAmount in percent of previousPeriodCost; null when that was zero."
    )
    periodStart: str = Field(description="start_date at 00:00 UTC (ISO-8601).")
    periodEnd: str = Field(
        description="end_date at 00:00 UTC (ISO-8601); the whole day is included."
    )


class EndUserModelBreakdown(BaseModel):
    endUserId: str = Field(description="Tallyhouse's id for this end user (euid_…).")
    externalId: str = Field(description="The end user's id in your app.")
    breakdown: list[ModelCost] = Field(description="One entry per model, most expensive first.")
