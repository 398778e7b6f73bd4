from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query

from api.cost_data import service
from api.cost_data.period_costs import PeriodCosts
from api.cost_data.schemas import CostSummary, CostTrend, ModelBreakdown, ProviderBreakdown
from api.csv_answers import CsvRoute
from api.deps import Answers, AppSettings, CostsReader, Now, Zone
from api.errors import ValidationFailed, error_responses
from api.periods import DEFAULT_TIME_WINDOW, GRANULARITIES, TIME_WINDOWS, date_range
from api.periods import time_window as window_named

router = APIRouter(prefix="/v1/cost-data", tags=["cost data"], route_class=CsvRoute)
ERRORS = error_responses(400, 401, 403, 429, 500, 503)

StartDate = Annotated[
    str | None,
    Query(
        description="First date of the organization's calendar (its time zone), YYYY-MM-DD (default: the first day of end_date's month).",
        examples=["2026-01-01"],
    ),
]
EndDate = Annotated[
    str | None,
    Query(
        description="Last date of the organization's calendar, inclusive, YYYY-MM-DD (default: its today).",
        examples=["2026-01-31"],
    ),
]


@router.get(
    "/summary",
    response_model=CostSummary,
    responses=ERRORS,
    summary="Cost of a period against the period before",
)
async def cost_summary(
    key: CostsReader,
    snapshot: Answers,
    now: Now,
    zone: Zone,
    time_window: Annotated[
        str,
        Query(
            description=f"One of {', '.join(TIME_WINDOWS)}. current-period is the calendar month "
            "containing now; last-period the month before; last-7-days / last-30-days the 7 / 30 x "
            "24 hours ending now. The previous period is the same length just before."
        ),
    ] = DEFAULT_TIME_WINDOW,
) -> CostSummary:
    window = window_named(time_window, now, zone)
    org = key.organization_id
    costs = snapshot.kept(PeriodCosts)
    periods = ((window.previous_start, window.start), (window.start, window.end))
    return await snapshot.remember(
        ("summary", org, window),
        partial(service.summary, costs, org, window),
        blocking=not costs.in_memory(org, *periods),
    )


@router.get(
    "/by-model",
    response_model=ModelBreakdown,
    responses=ERRORS,
    summary="Cost per model over a date range",
)
async def cost_by_model(
    key: CostsReader,
    snapshot: Answers,
    now: Now,
    zone: Zone,
    settings: AppSettings,
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> ModelBreakdown:
    dates = date_range(start_date, end_date, now, settings.max_range_days, zone)
    org = key.organization_id
    return await snapshot.answer(("by-model", org, dates), service.by_model, org, dates)


@router.get(
    "/by-provider",
    response_model=ProviderBreakdown,
    responses=ERRORS,
    summary="Cost per provider over a date range",
)
async def cost_by_provider(
    key: CostsReader,
    snapshot: Answers,
    now: Now,
    zone: Zone,
    settings: AppSettings,
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> ProviderBreakdown:
    dates = date_range(start_date, end_date, now, settings.max_range_days, zone)
    org = key.organization_id
    return await snapshot.answer(("by-provider", org, dates), service.by_provider, org, dates)


@router.get(
    "/trend",
    response_model=CostTrend,
    responses=ERRORS,
    summary="Cost time series with every bucket present",
)
async def cost_trend(
    key: CostsReader,
    snapshot: Answers,
    now: Now,
    zone: Zone,
    settings: AppSettings,
    start_date: StartDate = None,
    end_date: EndDate = None,
    granularity: Annotated[str, Query(description="day, week (Monday start) or month.")] = "day",
) -> CostTrend:
    if granularity not in GRANULARITIES:
        raise ValidationFailed(
            f"Invalid granularity: {granularity}. Valid options: {', '.join(GRANULARITIES)}"
        )
    dates = date_range(start_date, end_date, now, settings.max_range_days, zone)
    org = key.organization_id
    return await snapshot.answer(
        ("trend", org, dates, granularity), service.trend, org, dates, granularity
    )
