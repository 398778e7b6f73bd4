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
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": UsageEventIn.model_json_schema(
                        ref_template="#/components/schemas/{model}"
                    )
                }
            },
        }
    },
)
def record_event(
    key: UsageWriter,
    request: Request,
    now: Now,
    settings: AppSettings,
    event: Annotated[dict[str, Any], Body()],
) -> Any:
    # validated once, by the same code as each event of a batch (schema documented above)
    prepared = service.prepare(0, event, now, *_limits(settings), key.organization_id)
    if isinstance(prepared, service.Outcome):
        raise ValidationFailed(f"Invalid event: {prepared.message}")
    (outcome,) = request.app.state.committer.record(key.organization_id, [prepared], now)
    if outcome.status == "conflict":
        raise Conflict(outcome.message)
    status = 201 if outcome.status == "recorded" else 200
    return JSONResponse(outcome.event, status_code=status)


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
        service.prepare(i, raw, now, *_limits(settings), key.organization_id)
        for i, raw in enumerate(batch.events)
    ]
    valid = [p for p in prepared if isinstance(p, service.Prepared)]
    outcomes = {o.index: o for o in prepared if isinstance(o, service.Outcome)}
    if valid:
        for outcome in request.app.state.committer.record(key.organization_id, valid, now):
            outcomes[outcome.index] = outcome
    results = []
    counts = dict.fromkeys(("recorded", "duplicate", "invalid", "conflict"), 0)
    for index in range(len(batch.events)):
        outcome = outcomes[index]
        counts[outcome.status] += 1
        error = None
        if outcome.status in ("invalid", "conflict"):
            code = "VALIDATION_ERROR" if outcome.status == "invalid" else "IDEMPOTENCY_CONFLICT"
            error = {"code": code, "message": outcome.message}
        results.append(
            {"index": index, "status": outcome.status, "event": outcome.event, "error": error}
        )
    # plain data: a 1,000-event answer need not be validated again on the way out
    return JSONResponse(
        {
            "recorded": counts["recorded"],
            "duplicates": counts["duplicate"],
            "invalid": counts["invalid"],
            "conflicts": counts["conflict"],
            "results": results,
        }
    )
