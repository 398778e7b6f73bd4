from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from api.csv_answers import CsvRoute
from api.deps import Answers, AppSettings, Now, require_scope
from api.errors import ValidationFailed, error_responses
from api.keys.service import ApiKey
from api.limits import alerts, service, status, webhooks
from api.limits.schemas import (
    Alert,
    DeletedLimit,
    DeletedWebhook,
    DeliveryAttempt,
    LimitCreate,
    LimitDefinition,
    LimitStatus,
    LimitUpdate,
    Webhook,
    WebhookCreate,
    WebhookCreated,
)
from api.periods import EARLIEST_INSTANT, END_OF_TIME, iso_ms, parse_instant
from core.metric_sandbox import SandboxLimits

router = APIRouter(prefix="/v1/limits", tags=["limits"], route_class=CsvRoute)
alerts_router = APIRouter(prefix="/v1/alerts", tags=["limits"], route_class=CsvRoute)
webhooks_router = APIRouter(prefix="/v1/webhooks", tags=["limits"], route_class=CsvRoute)
WebhookId = Annotated[str, Path(description="The webhook's id (whk_…).", max_length=64)]
LimitsReader = Annotated[ApiKey, Depends(require_scope("limits:read"))]
LimitsWriter = Annotated[ApiKey, Depends(require_scope("limits:write"))]
# an id that cannot be a limit's is simply not found (404), like another organization's
LimitId = Annotated[str, Path(description="The limit's id (lim_…).", max_length=64)]
READ_ERRORS = error_responses(400, 401, 403, 404, 429, 500)
WRITE_ERRORS = error_responses(400, 401, 403, 404, 413, 429, 500)


@router.get("", response_model=list[LimitDefinition], responses=READ_ERRORS, summary="List limits")
def list_limits(key: LimitsReader, request: Request) -> list[LimitDefinition]:
    store = request.app.state.store
    return [limit.public() for limit in service.list_limits(store, key.organization_id)]


@router.post(
    "",
    status_code=201,
    response_model=LimitDefinition,
    responses=WRITE_ERRORS,
    summary="Create a limit: a budget on cost or an entitlement on a metric",
)
def create_limit(
    body: LimitCreate, key: LimitsWriter, request: Request, now: Now
) -> LimitDefinition:
    return service.create_limit(request.app.state.store, key.organization_id, body, now).public()


@router.get("/{id}", response_model=LimitDefinition, responses=READ_ERRORS, summary="Get a limit")
def get_limit(id: LimitId, key: LimitsReader, request: Request) -> LimitDefinition:
    return service.get_limit(request.app.state.store, key.organization_id, id).public()


@router.post(
    "/{id}/update",
    response_model=LimitDefinition,
    responses=WRITE_ERRORS,
    summary="Update a limit (its subject and measure cannot change)",
)
def update_limit(
    id: LimitId, body: LimitUpdate, key: LimitsWriter, request: Request, now: Now
) -> LimitDefinition:
    store = request.app.state.store
    return service.update_limit(store, key.organization_id, id, body, now).public()


@router.post(
    "/{id}/delete",
    response_model=DeletedLimit,
    responses=WRITE_ERRORS,
    summary="Delete a limit (soft: kept in the store, gone from the API)",
)
def delete_limit(id: LimitId, key: LimitsWriter, request: Request, now: Now) -> DeletedLimit:
    service.delete_limit(request.app.state.store, key.organization_id, id, now)
    return DeletedLimit(id=id, deleted=True)


@router.get(
    "/{id}/status",
    response_model=LimitStatus,
    responses={**READ_ERRORS, **error_responses(503)},
    summary="A limit's status: usage in the current period, and whether access stands",
)
async def limit_status(
    id: LimitId,
    key: LimitsReader,
    request: Request,
    view: Answers,
    now: Now,
    settings: AppSettings,
    subjectId: Annotated[  # noqa: N803
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="The subject (end user, feature, model or provider) for a limit on "
            "each one; left out for a limit on one subject or the organization.",
        ),
    ] = None,
) -> LimitStatus:
    store = request.app.state.store
    if store.dialect.name == "sqlite":
        # local, indexed reads that never wait for a writer: on the event loop, as is a usage
        # memory holds already (docs/limits.md#the-check); the rest in the thread pool
        limit = service.get_limit(store, key.organization_id, id)
        answer = status.remembered_status(view, store, limit, subjectId, now)
        if answer is not None:
            return answer

    def computed() -> LimitStatus:
        return status.status(
            view,
            store,
            service.get_limit(store, key.organization_id, id),
            subjectId,
            now,
            SandboxLimits.from_settings(settings),
            settings.metric_cache_rows,
        )

    return await run_in_threadpool(computed)


@alerts_router.get(
    "",
    response_model=list[Alert],
    responses=READ_ERRORS,
    summary="The organization's alerts, oldest first: one per limit, subject, period and "
    "threshold reached",
)
def list_alerts(
    key: LimitsReader,
    request: Request,
    limitId: Annotated[  # noqa: N803
        str | None, Query(max_length=64, description="Only this limit's alerts.")
    ] = None,
    since: Annotated[
        str | None,
        Query(description="Only alerts recorded at or after this instant (ISO-8601)."),
    ] = None,
) -> list[Alert]:
    start = None
    if since is not None:
        try:
            start = parse_instant(since.strip())
        except ValueError:
            raise ValidationFailed(f"since: {since!r} is not an ISO-8601 instant") from None
        if not EARLIEST_INSTANT <= start <= END_OF_TIME:
            raise ValidationFailed(
                f"since must be from {iso_ms(EARLIEST_INSTANT)} to {iso_ms(END_OF_TIME)}"
            )
    return alerts.list_alerts(request.app.state.store, key.organization_id, limitId, start)


@webhooks_router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    responses=WRITE_ERRORS,
    summary="Add a webhook endpoint: every new alert is POSTed to it, signed",
)
def create_webhook(
    body: WebhookCreate, key: LimitsWriter, request: Request, now: Now, settings: AppSettings
) -> WebhookCreated:
    endpoint, secret = webhooks.create_endpoint(
        request.app.state.store, key.organization_id, body.url, body.description, now,
        settings.webhook_allow_private,
    )  # fmt: skip
    return WebhookCreated(**endpoint.public(), secret=secret)


@webhooks_router.get(
    "", response_model=list[Webhook], responses=READ_ERRORS, summary="List webhook endpoints"
)
def list_webhooks(key: LimitsReader, request: Request) -> list[Webhook]:
    endpoints = webhooks.list_endpoints(request.app.state.store, key.organization_id)
    return [Webhook(**endpoint.public()) for endpoint in endpoints]


@webhooks_router.post(
    "/{id}/delete",
    response_model=DeletedWebhook,
    responses=WRITE_ERRORS,
    summary="Delete a webhook endpoint (nothing more is sent to it)",
)
def delete_webhook(id: WebhookId, key: LimitsWriter, request: Request, now: Now) -> DeletedWebhook:
    webhooks.delete_endpoint(request.app.state.store, key.organization_id, id, now)
    return DeletedWebhook(id=id, deleted=True)


@webhooks_router.get(
    "/{id}/deliveries",
    response_model=list[DeliveryAttempt],
    responses=READ_ERRORS,
    summary="Every delivery attempt to a webhook endpoint, failed ones too, oldest first",
)
def webhook_deliveries(id: WebhookId, key: LimitsReader, request: Request) -> list[DeliveryAttempt]:
    rows = webhooks.attempts_of(request.app.state.store, key.organization_id, id)
    return [DeliveryAttempt(**row) for row in rows]
