from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from api.csv_answers import CsvRoute
from api.deps import Answers, AppSettings, Now, Zone, require_scope
from api.errors import error_responses
from api.keys.service import ApiKey
from api.metrics import service, timeframe, values
from api.metrics.schemas import (
    DeletedMetric,
    MetricCreate,
    MetricDefinition,
    MetricUpdate,
    MetricValue,
)
from core.metric_sandbox import SandboxLimits

router = APIRouter(prefix="/v1/metrics", tags=["metrics"], route_class=CsvRoute)
MetricsReader = Annotated[ApiKey, Depends(require_scope("metrics:read"))]
MetricsWriter = Annotated[ApiKey, Depends(require_scope("metrics:write"))]
# an id that cannot be a metric's is simply not found (404), like another organization's
MetricId = Annotated[str, Path(description="The metric's id (met_…).", max_length=64)]
READ_ERRORS = error_responses(400, 401, 403, 404, 429, 500)
WRITE_ERRORS = error_responses(400, 401, 403, 404, 413, 429, 500)
# OpenAPI links: what a client (or a stateful fuzzer) can do next with a created metric's id
_METRIC_ID = {"id": "$response.body#/id"}
CREATED_LINKS = {
    201: {
        "description": "The metric as stored, with its new id.",
        "links": {
            name: {"operationId": operation, "parameters": _METRIC_ID}
            for name, operation in (
                ("GetMetric", "get_metric_v1_metrics__id__get"),
                ("UpdateMetric", "update_metric_v1_metrics__id__update_post"),
                ("DeleteMetric", "delete_metric_v1_metrics__id__delete_post"),
                ("MetricValue", "metric_value_v1_metrics__id__value_get"),
            )
        },
    }
}


@router.get(
    "", response_model=list[MetricDefinition], responses=READ_ERRORS, summary="List metrics"
)
def list_metrics(key: MetricsReader, request: Request) -> list[MetricDefinition]:
    store = request.app.state.store
    return [metric.public() for metric in service.list_metrics(store, key.organization_id)]


@router.post(
    "",
    status_code=201,
    response_model=MetricDefinition,
    responses={**WRITE_ERRORS, **CREATED_LINKS},
    summary="Create a metric definition",
)
def create_metric(
    body: MetricCreate, key: MetricsWriter, request: Request, now: Now, settings: AppSettings
) -> MetricDefinition:
    metric = service.create_metric(
        request.app.state.store,
        key.organization_id,
        body,
        now,
        SandboxLimits.from_settings(settings),
    )
    return metric.public()


@router.get("/{id}", response_model=MetricDefinition, responses=READ_ERRORS, summary="Get a metric")
def get_metric(id: MetricId, key: MetricsReader, request: Request) -> MetricDefinition:
    metric = service.get_metric(request.app.state.store, key.organization_id, id)
    definition = metric.public()
    if metric.query_type == "indexed":
        view = request.app.state.snapshot.view()
        cursor = None if view is None else view.connection.cursor()
        try:
            definition.precomputation = values.precomputation(cursor, metric)
        finally:
            if cursor is not None:
                cursor.close()
    return definition


@router.post(
    "/{id}/update",
    response_model=MetricDefinition,
    responses=WRITE_ERRORS,
    summary="Update a metric (queryType, aggregationType and valueType cannot change)",
)
def update_metric(
    id: MetricId,
    body: MetricUpdate,
    key: MetricsWriter,
    request: Request,
    now: Now,
    settings: AppSettings,
) -> MetricDefinition:
    metric = service.update_metric(
        request.app.state.store,
        key.organization_id,
        id,
        body,
        now,
        SandboxLimits.from_settings(settings),
    )
    return metric.public()


@router.post(
    "/{id}/delete",
    response_model=DeletedMetric,
    responses=WRITE_ERRORS,
    summary="Delete a metric (soft: kept in the store, gone from the API)",
)
def delete_metric(id: MetricId, key: MetricsWriter, request: Request, now: Now) -> DeletedMetric:
    service.delete_metric(request.app.state.store, key.organization_id, id, now)
    return DeletedMetric(id=id, deleted=True)


@router.get(
    "/{id}/value",
    response_model=MetricValue,
    responses={**READ_ERRORS, **error_responses(503)},
    summary="A metric's value for a customer (or the organization) over a timeframe, by group",
)
async def metric_value(
    id: MetricId,
    key: MetricsReader,
    request: Request,
    view: Answers,
    now: Now,
    zone: Zone,
    settings: AppSettings,
    customerId: Annotated[  # noqa: N803
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="The customer (the events' userId); left out, the organization's "
            "value over all its customers.",
            examples=["user_123"],
        ),
    ] = None,
    groupBy: Annotated[  # noqa: N803
        str | None,
        Query(
            pattern=values.GROUP_BY_PATTERN,
            description="A metadata key (e.g. model): the answer's `groups` has the metric "
            "per value of it (at most 1,000 groups for simple metrics, 100 for SQL metrics).",
            examples=["model"],
        ),
    ] = None,
    timeframe_: Annotated[
        str | None,
        Query(
            alias="timeframe",
            description="ALL (default), RELATIVE or ABSOLUTE: a type with `days` or `start` "
            'and `end` beside it, a JSON object such as {"type":"RELATIVE","days":7}, or '
            "timeframe[type]=…&timeframe[days]=…",
            examples=["RELATIVE"],
        ),
    ] = None,
    days: Annotated[
        int | None, Query(ge=1, description="RELATIVE: the number of days ending now.")
    ] = None,
    start: Annotated[
        str | None, Query(description="ABSOLUTE: first instant or date counted (UTC).")
    ] = None,
    end: Annotated[
        str | None,
        Query(description="ABSOLUTE: first instant not counted; a date counts that whole day."),
    ] = None,
) -> MetricValue:
    store = request.app.state.store
    frame = timeframe.parse(request.query_params, settings.max_range_days, zone)
    if store.dialect.name == "sqlite":
        # local, indexed reads that never wait for a writer: on the event loop, as is a
        # value memory holds already (docs/metrics.md#how-fast); the rest in the thread pool
        metric = service.get_metric(store, key.organization_id, id)
        answer = values.remembered_value(view, store, metric, customerId, frame, now, groupBy)
        if answer is not None:
            return answer

    def computed() -> MetricValue:
        metric = service.get_metric(store, key.organization_id, id)
        return values.answer(view, store, metric, customerId, frame, now, settings, groupBy)

    return await run_in_threadpool(computed)
