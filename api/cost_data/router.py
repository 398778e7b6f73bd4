from typing import Annotated

from fastapi import APIRouter, Query

from api.cost_data import service
from api.cost_data.schemas import CostSummary, CostTrend, ModelBreakdown, ProviderBreakdown
from api.deps import AppSettings, CostsReader, Now, Snapshot
from api.errors import ValidationFailed, error_responses
from api.periods import DEFAULT_TIME_WINDOW, GRANULARITIES, TIME_WINDOWS, date_range
from api.periods import time_window as window_named

router = APIRouter(prefix="/v1/cost-data", tags=["cost data"])
ERRORS = error_responses(400, 401, 403, 429, 500, 503)

StartDate = Annotated[
    str | None,
    Query(
        description="First UTC date, YYYY-MM-DD (default: the first day of end_date's month).",
        examples=["2026-01-01"],
    ),
]
EndDate = Annotated[
    str | None,
    Query(
        description="Last UTC date, inclusive, YYYY-MM-DD (default: today).",
        examples=["2026-01-31"],
    ),
]


@router.get(
    "/summary",
    response_model=CostSummary,
    responses=ERRORS,
    summary="Cost of a period against the period before",
)
def cost_summary(
    key: CostsReader,
    con: Snapshot,
    now: Now,
    time_window: Annotated[
        str,
        Query(
            description=f"One of {', '.join(TIME_WINDOWS)}. current-period is the calendar month "
            "containing now; last-period the month before; last-7-days / last-30-days the 7 / 30 x "
            "24 hours ending now. The previous period is the same length just before."
        ),
    ] = DEFAULT_TIME_WINDOW,
) -> CostSummary:
    return service.summary(con, key.organization_id, window_named(time_window, now))


@router.get(
    "/by-model",
    response_model=ModelBreakdown,
    responses=ERRORS,
    summary="Cost per model over a date range",
)
def cost_by_model(
    key: CostsReader,
    con: Snapshot,
    now: Now,
    settings: AppSettings,
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> ModelBreakdown:
    dates = date_range(start_date, end_date, now, settings.max_range_days)
    return service.by_model(con, key.organization_id, dates)


@router.get(
    "/by-provider",
    response_model=ProviderBreakdown,
    responses=ERRORS,
    summary="Cost per provider over a date range",
)
def cost_by_provider(
    key: CostsReader,
    con: Snapshot,
    now: Now,
    settings: AppSettings,
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> ProviderBreakdown:
    dates = date_range(start_date, end_date, now, settings.max_range_days)
    return service.by_provider(con, key.organization_id, dates)


@router.get(
    "/trend",
    response_model=CostTrend,
    responses=ERRORS,
    summary="Cost time series with every bucket present",
)
def cost_trend(
    key: CostsReader,
    con: Snapshot,
    now: Now,
    settings: AppSettings,
    start_date: StartDate = None,
    end_date: EndDate = None,
    granularity: Annotated[str, Query(description="day, week (Monday start) or month.")] = "day",
) -> CostTrend:
    if granularity not in GRANULARITIES:
        raise ValidationFailed(
            f"Invalid granularity: {granularity}. Valid options: {', '.join(GRANULARITIES)}"
        )
    dates = date_range(start_date, end_date, now, settings.max_range_days)
    return service.trend(con, key.organization_id, dates, granularity)
