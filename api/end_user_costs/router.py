from typing import Annotated

from fastapi import APIRouter, Path

from api.cost_data.router import EndDate, StartDate
from api.csv_answers import CsvRoute
from api.deps import Answers, AppSettings, CostsReader, Now, Zone
from api.end_user_costs import service
from api.end_user_costs.schemas import EndUserModelBreakdown, EndUserSummary
from api.errors import error_responses
from api.periods import date_range

router = APIRouter(prefix="/v1/end-user-costs", tags=["end-user costs"], route_class=CsvRoute)
ERRORS = error_responses(400, 401, 403, 404, 429, 500, 503)
ExternalId = Annotated[
    str,
    Path(
        description="The end user's id in your app (the events' userId).",
        max_length=255,
        examples=["user_123"],
    ),
]


@router.get(
    "/{externalId:path}/summary",
    response_model=EndUserSummary,
    responses=ERRORS,
    summary="One end user's cost over a date range against the days before",
)
async def end_user_summary(
    externalId: ExternalId,
    key: CostsReader,
    snapshot: Answers,
    now: Now,  # noqa: N803
    zone: Zone,
    settings: AppSettings,
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> EndUserSummary:
    dates = date_range(start_date, end_date, now, settings.max_range_days, zone)
    org = key.organization_id
    return await snapshot.answer(
        ("end-user summary", org, externalId, dates), service.summary, org, externalId, dates
    )


@router.get(
    "/{externalId:path}/by-model",
    response_model=EndUserModelBreakdown,
    responses=ERRORS,
    summary="One end user's cost per model over a date range",
)
async def end_user_by_model(
    externalId: ExternalId,
    key: CostsReader,
    snapshot: Answers,
    now: Now,  # noqa: N803
    zone: Zone,
    settings: AppSettings,
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> EndUserModelBreakdown:
    dates = date_range(start_date, end_date, now, settings.max_range_days, zone)
    org = key.organization_id
    return await snapshot.answer(
        ("end-user by_model", org, externalId, dates), service.by_model, org, externalId, dates
    )
