import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.deps import AppSettings, Now, UsageWriter
from api.errors import Conflict, ValidationFailed, error_responses
from api.usage_events import codec, service
from api.usage_events.schemas import MAX_BATCH, BatchResult, RecordedEvent, UsageEventIn

router = APIRouter(prefix="/v1/usage", tags=["usage events"])
_EVENT_SCHEMA = UsageEventIn.model_json_schema(ref_template="#/components/schemas/{model}")
# each item is validated on its own: an invalid one is answered in `results` (status
# invalid), not by refusing the batch, so the schema documents any item as acceptable
_BATCH_ITEM = {
    "anyOf": [_EVENT_SCHEMA, {}],
    "description": "A usage event. Every item is validated on its own; one that is not a "
    "valid event gets status `invalid` at its index and the rest are recorded.",
}
_BATCH_SCHEMA = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": _BATCH_ITEM}
    },
}


def _json_body(schema: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _parse(raw: bytes) -> Any:
    """Plain JSON, for bodies the fast lane refused: the model then says what is wrong."""
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise ValidationFailed("The request body is not valid UTF-8") from None
    try:
        return json.loads(text)
    except ValueError:
        raise ValidationFailed("Malformed JSON in the request body") from None
    except RecursionError:
        raise ValidationFailed("The request body nests too deeply to be read") from None


@router.post(
    "/events",
    status_code=201,
    response_model=RecordedEvent,
    responses={
        200: {"model": RecordedEvent, "description": "A retry: the event was already stored"},
        **error_responses(400, 401, 403, 409, 413, 429, 500),
    },
    summary="Record one usage event (durable before the answer; idempotent)",
    openapi_extra=_json_body(_EVENT_SCHEMA),
)
async def record_event(key: UsageWriter, request: Request, now: Now, settings: AppSettings) -> Any:
    raw = await request.body()
    event = codec.decode_event(raw) or _parse(raw)
    return await run_in_threadpool(_record_one, request, key.organization_id, event, now, settings)


def _record_one(request: Request, organization_id: str, event: Any, now, settings) -> Response:
    prepared = service.prepare(0, event, now, *service.time_limits(settings), organization_id)
    if isinstance(prepared, service.Outcome):
        raise ValidationFailed(f"Invalid event: {prepared.message}")
    (outcome,) = request.app.state.committer.record(organization_id, [prepared], now)
    request.app.state.alerts.stored(organization_id, [outcome])
    if outcome.status == "conflict":
        raise Conflict(outcome.message)
    return JSONResponse(outcome.event, status_code=201 if outcome.status == "recorded" else 200)


@router.post(
    "/events/batch",
    response_model=BatchResult,
    responses=error_responses(400, 401, 403, 413, 429, 500),
    summary=f"Record 1 to {MAX_BATCH} usage events; a result for every event, by index",
    openapi_extra=_json_body(_BATCH_SCHEMA),
)
async def record_batch(key: UsageWriter, request: Request, now: Now, settings: AppSettings) -> Any:
    raw = await request.body()
    events: list[Any] | None = codec.decode_batch(raw)
    if events is None:
        body = _parse(raw)
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise ValidationFailed('Invalid request: the body must be {"events": [...]}')
        events = body["events"]
    if not 1 <= len(events) <= MAX_BATCH:
        raise ValidationFailed(f"A batch holds 1 to {MAX_BATCH} events; got {len(events)}")
    return await run_in_threadpool(
        _record_many, request, key.organization_id, events, now, settings
    )


def _record_many(
    request: Request, organization_id: str, events: list[Any], now, settings
) -> Response:
    prepared = [
        service.prepare(i, raw, now, *service.time_limits(settings), organization_id)
        for i, raw in enumerate(events)
    ]
    valid = [p for p in prepared if isinstance(p, service.Prepared)]
    outcomes = {o.index: o for o in prepared if isinstance(o, service.Outcome)}
    if valid:
        recorded = request.app.state.committer.record(organization_id, valid, now)
        for outcome in recorded:
            outcomes[outcome.index] = outcome
        request.app.state.alerts.stored(organization_id, recorded)
    results = []
    counts = dict.fromkeys(("recorded", "duplicate", "invalid", "conflict"), 0)
    for index in range(len(events)):
        outcome = outcomes[index]
        counts[outcome.status] += 1
        error = None
        if outcome.status in ("invalid", "conflict"):
            code = "VALIDATION_ERROR" if outcome.status == "invalid" else "IDEMPOTENCY_CONFLICT"
            error = {"code": code, "message": outcome.message}
        results.append(
            {"index": index, "status": outcome.status, "event": outcome.event, "error": error}
        )
    payload = {
        "recorded": counts["recorded"],
        "duplicates": counts["duplicate"],
        "invalid": counts["invalid"],
        "conflicts": counts["conflict"],
        "results": results,
    }
    # plain data encoded in C: a 1,000-event answer need not be validated again on the way out
    return Response(codec.encode(payload), media_type="application/json")
