from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from api.deps import AppSettings, Now, UsageWriter
from api.errors import Conflict, ValidationFailed, error_responses
from api.usage_events import service
from api.usage_events.schemas import (
    MAX_BATCH,
    BatchIn,
    BatchItemError,
    BatchItemResult,
    BatchResult,
    RecordedEvent,
    UsageEventIn,
)

router = APIRouter(prefix="/v1/usage", tags=["usage events"])


def _limits(settings) -> tuple[timedelta, timedelta]:
    return timedelta(days=settings.max_event_age_days), timedelta(
        seconds=settings.max_future_seconds
    )


@router.post(
    "/events",
    status_code=201,
    response_model=RecordedEvent,
    responses={
        200: {"model": RecordedEvent, "description": "A retry: the event was already stored"},
        **error_responses(400, 401, 403, 409, 413, 429, 500),
    },
    summary="Record one usage event (durable before the answer; idempotent)",
)
def record_event(
    key: UsageWriter,
    request: Request,
    now: Now,
    settings: AppSettings,
    event: Annotated[UsageEventIn, Body()],
) -> Any:
    prepared = service.prepare(0, event.model_dump(exclude_unset=True), now, *_limits(settings))
    if isinstance(prepared, service.Outcome):
        raise ValidationFailed(f"Invalid event: {prepared.message}")
    (outcome,) = service.record(request.app.state.store, key.organization_id, [prepared], now)
    if outcome.status == "conflict":
        raise Conflict(outcome.message)
    status = 201 if outcome.status == "recorded" else 200
    return JSONResponse(outcome.event.model_dump(), status_code=status)


@router.post(
    "/events/batch",
    response_model=BatchResult,
    responses=error_responses(400, 401, 403, 413, 429, 500),
    summary=f"Record 1 to {MAX_BATCH} usage events; a result for every event, by index",
)
def record_batch(
    key: UsageWriter,
    request: Request,
    now: Now,
    settings: AppSettings,
    batch: Annotated[BatchIn, Body()],
) -> BatchResult:
    if not 1 <= len(batch.events) <= MAX_BATCH:
        raise ValidationFailed(f"A batch holds 1 to {MAX_BATCH} events; got {len(batch.events)}")
    prepared = [
        service.prepare(i, raw, now, *_limits(settings)) for i, raw in enumerate(batch.events)
    ]
    valid = [p for p in prepared if isinstance(p, service.Prepared)]
    outcomes = {o.index: o for o in prepared if isinstance(o, service.Outcome)}
    for outcome in service.record(request.app.state.store, key.organization_id, valid, now):
        outcomes[outcome.index] = outcome
    results = []
    for index in range(len(batch.events)):
        outcome = outcomes[index]
        error = None
        if outcome.status in ("invalid", "conflict"):
            code = "VALIDATION_ERROR" if outcome.status == "invalid" else "IDEMPOTENCY_CONFLICT"
            error = BatchItemError(code=code, message=outcome.message)
        results.append(
            BatchItemResult(index=index, status=outcome.status, event=outcome.event, error=error)
        )
    count = lambda status: sum(1 for r in results if r.status == status)  # noqa: E731
    return BatchResult(
        recorded=count("recorded"),
        duplicates=count("duplicate"),
        invalid=count("invalid"),
        conflicts=count("conflict"),
        results=results,
    )
