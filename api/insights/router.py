from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query

from api.cost_data.period_costs import PeriodCosts
from api.cost_data.router import EndDate, StartDate
from api.csv_answers import CsvRoute
from api.deps import Answers, AppSettings, CostsReader, Now, Zone
from api.errors import ValidationFailed, error_responses
from api.insights import service
from api.insights.schemas import CostAnomalies, CostForecast, Explanation
from api.periods import date_range
from api.periods import time_window as window_named

router = APIRouter(prefix="/v1/cost-data", tags=["insights"], route_class=CsvRoute)
ERRORS = error_responses(400, 401, 403, 429, 500, 503)
BY = ("model", "provider", "feature")
ANOMALY_BY = (*BY, "end_user")


def _check_by(by: str | None, options: tuple[str, ...]) -> None:
    if by is not None and by not in options:
        raise ValidationFailed(f"Invalid by: {by}. Valid options: {', '.join(options)}")


@router.get(
    "/explain",
    response_model=Explanation,
    responses=ERRORS,
    summary="Why cost moved: the change split into volume, mix, price, new and discontinued",
)
async def explain_change(
    key: CostsReader,
    snapshot: Answers,
    now: Now,
    zone: Zone,
    settings: AppSettings,
    start_date: StartDate = None,
    end_date: EndDate = None,
    base_start_date: Annotated[
        str | None,
        Query(
            description="First date of the base period (default: the same number of days "
            "just before start_date)."
        ),
    ] = None,
    base_end_date: Annotated[
        str | None, Query(description="Last date of the base period, inclusive.")
    ] = None,
    by: Annotated[
        str | None,
        Query(
            description="model, provider or feature: segments of that dimension, with events "
            "as units (default: model × usage type, with tokens)."
        ),
    ] = None,
) -> Explanation:
    _check_by(by, BY)
    dates = date_range(start_date, end_date, now, settings.max_range_days, zone)
    if (base_start_date is None) != (base_end_date is None):
        raise ValidationFailed("base_start_date and base_end_date go together")
    base = (
        dates.previous()
        if base_start_date is None
        else date_range(base_start_date, base_end_date, now, settings.max_range_days, zone)
    )
    org = key.organization_id
    return await snapshot.answer(
        ("explain", org, dates, base, by), service.explanation, org, dates, base, by
    )


@router.get(
    "/forecast",
    response_model=CostForecast,
    responses=ERRORS,
    summary="Where this month's cost is heading, with a band from backtests",
)
async def cost_forecast(
    key: CostsReader,
    snapshot: Answers,
    now: Now,
    zone: Zone,
    time_window: Annotated[
        str,
        Query(
            description="current-period (the organization's month holding now): the one "
            "period a forecast is for."
        ),
    ] = "current-period",
) -> CostForecast:
    if time_window != "current-period":
        raise ValidationFailed(
            f"Invalid time_window: {time_window}. A forecast is for current-period"
        )
    window = window_named(time_window, now, zone)
    org = key.organization_id
    costs = snapshot.kept(PeriodCosts)
    today = now.astimezone(zone).date()
    days = await snapshot.answer(("forecast days", org, today), service.forecast_days, org, today)
    to_date = (window.start, now + timedelta(microseconds=1))
    return await snapshot.remember(
        ("forecast", org, window, now),
        partial(service.cost_forecast, days, costs, org, window, now),
        blocking=not costs.in_memory(org, to_date),
    )


@router.get(
    "/anomalies",
    response_model=CostAnomalies,
    responses=ERRORS,
    summary="Days whose cost departs from the same weekday's usual (robust z-score > 3.5)",
)
async def cost_anomalies(
    key: CostsReader,
    snapshot: Answers,
    now: Now,
    zone: Zone,
    settings: AppSettings,
    start_date: StartDate = None,
    end_date: EndDate = None,
    by: Annotated[
        str | None,
        Query(
            description="model, provider, feature or end_user: each one's days (default: "
            "the organization's)."
        ),
    ] = None,
    min_impact: Annotated[
        Decimal | None,
        Query(
            ge=0,
            description="The least departure in USD (default: TALLYHOUSE_ANOMALY_MIN_USD, 1.00).",
        ),
    ] = None,
) -> CostAnomalies:
    _check_by(by, ANOMALY_BY)
    dates = date_range(start_date, end_date, now, settings.max_range_days, zone)
    least = settings.anomaly_min_usd if min_impact is None else min_impact
    org = key.organization_id
    return await snapshot.answer(
        ("anomalies", org, dates, by, least), service.cost_anomalies, org, dates, by, least
    )
