"""POST /v1/traces: OpenTelemetry GenAI spans, recorded as usage events (docs/otel.md)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import AppSettings, Now, UsageWriter
from api.errors import ValidationFailed, error_responses
from api.traces import genai, otlp
from api.usage_events import service
from api.usage_events.schemas import MAX_BATCH

router = APIRouter(tags=["OpenTelemetry"])
logger = logging.getLogger("tallyhouse.api")
SKIPPED_HEADER = "X-Tallyhouse-Skipped-Spans"


@router.post(
    "/v1/traces",
    responses={
        200: {
            "description": "OTLP's ExportTraceServiceResponse, in the request's encoding; "
            "partialSuccess says how many spans were rejected and why",
            "content": {otlp.PROTOBUF: {}, otlp.JSON: {}},
        },
        **error_responses(400, 401, 403, 413, 429, 500),
    },
    summary="Record the usage of OpenTelemetry GenAI spans (OTLP/HTTP, protobuf or JSON)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                otlp.PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                otlp.JSON: {"schema": {"type": "object"}},
            },
        }
    },
)
async def export_traces(
    key: UsageWriter, request: Request, now: Now, settings: AppSettings
) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        body = otlp.inflate(await request.body(), request.headers.get("content-encoding"))
        spans = otlp.read_spans(body, content_type)
    except otlp.BadRequest as problem:
        raise ValidationFailed(f"Invalid OTLP request: {problem}") from None
    return await run_in_threadpool(
        _record, request, key.organization_id, spans, content_type, now, settings
    )


def _record(
    request: Request, organization_id: str, spans: list[otlp.Span], content_type, now, settings
) -> Response:
    usage = [span for span in spans if genai.has_usage(span)]
    skipped = len(spans) - len(usage)
    bodies: list[Any] = [genai.event_body(span, settings.otlp_feature_attribute) for span in usage]
    prepared = [
        service.prepare(i, body, now, *service.time_limits(settings), organization_id)
        for i, body in enumerate(bodies)
    ]
    outcomes = [p for p in prepared if isinstance(p, service.Outcome)]
    valid = [p for p in prepared if isinstance(p, service.Prepared)]
    for start in range(0, len(valid), MAX_BATCH):
        recorded = request.app.state.committer.record(
            organization_id, valid[start : start + MAX_BATCH], now
        )
        request.app.state.alerts.stored(organization_id, recorded)
        outcomes += recorded
    refused = sorted(
        (o for o in outcomes if o.status in ("invalid", "conflict")), key=lambda o: o.index
    )
    counts = {
        status: sum(o.status == status for o in outcomes) for status in ("recorded", "duplicate")
    }
    logger.info(
        "otlp: %d spans, %d recorded, %d duplicates, %d rejected, %d without GenAI usage skipped",
        len(spans), counts["recorded"], counts["duplicate"], len(refused), skipped,
    )  # fmt: skip
    message = "; ".join(f"span {usage[o.index].span_id}: {o.message}" for o in refused[:10]) + (
        "; …" if len(refused) > 10 else ""
    )
    return Response(
        otlp.answer(content_type, len(refused), message),
        media_type=content_type,
        headers={SKIPPED_HEADER: str(skipped)},
    )
