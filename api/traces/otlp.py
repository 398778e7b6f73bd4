"""OTLP/HTTP trace requests, read into plain spans, and OTLP's answer written back.

Both encodings OTLP/HTTP allows: binary protobuf (`application/x-protobuf`, decoded with
opentelemetry-proto) and JSON (`application/json`, OTLP's JSON mapping: lowerCamelCase field
names, trace and span ids as hex, 64-bit integers as strings or numbers). A gzip body
(`Content-Encoding: gzip`) is inflated up to a bound.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_INFLATED_BYTES = 32 * 1024 * 1024


class BadRequest(ValueError):
    """A body that is not an OTLP trace request; the message says why."""


@dataclass
class Span:
    trace_id: str  # hex
    span_id: str  # hex
    name: str
    end_unix_nano: int
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)  # the resource's attributes


def inflate(body: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding.lower() == "identity":
        return body
    if encoding.lower() != "gzip":
        raise BadRequest(f"Content-Encoding {encoding} is not supported (gzip is)")
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, MAX_INFLATED_BYTES)
    except zlib.error:
        raise BadRequest("the gzip body could not be inflated") from None
    if inflater.unconsumed_tail:
        raise BadRequest(f"the inflated body is larger than {MAX_INFLATED_BYTES} bytes")
    return data


def read_spans(body: bytes, content_type: str) -> list[Span]:
    if content_type == PROTOBUF:
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except (DecodeError, RecursionError):
            raise BadRequest("the body is not an OTLP ExportTraceServiceRequest") from None
        return list(_protobuf_spans(request))
    if content_type == JSON:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise BadRequest("the body is not valid JSON") from None
        try:
            return list(_json_spans(document))
        except (AttributeError, KeyError, TypeError, ValueError, RecursionError):
            raise BadRequest("the body is not an OTLP ExportTraceServiceRequest") from None
    raise BadRequest(f"Content-Type must be {PROTOBUF} or {JSON}")


def answer(content_type: str, rejected: int, message: str) -> bytes:
    """OTLP's ExportTraceServiceResponse, in the request's encoding; partial_success only
    when something was rejected."""
    if content_type == PROTOBUF:
        response = ExportTraceServiceResponse()
        if rejected:
            response.partial_success.rejected_spans = rejected
            response.partial_success.error_message = message
        return response.SerializeToString()
    payload: dict[str, Any] = {}
    if rejected:
        payload["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
    return json.dumps(payload).encode()


def _protobuf_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_protobuf_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _protobuf_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def _protobuf_spans(request: ExportTraceServiceRequest):
    for resource_spans in request.resource_spans:
        resource = {kv.key: _protobuf_value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield Span(
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    name=span.name,
                    end_unix_nano=span.end_time_unix_nano,
                    attributes={kv.key: _protobuf_value(kv.value) for kv in span.attributes},
                    resource=resource,
                )


def _json_value(value: dict[str, Any]) -> Any:
    for kind, read in (
        ("stringValue", str),
        ("boolValue", bool),
        ("intValue", int),  # a string or a number
        ("doubleValue", float),
        ("bytesValue", str),
    ):
        if kind in value:
            return read(value[kind])
    if "arrayValue" in value:
        return [_json_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _json_attributes(value["kvlistValue"].get("values", []))
    return None


def _json_attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["key"]: _json_value(item.get("value") or {}) for item in items}


def _json_spans(document: dict[str, Any]):
    for resource_spans in document.get("resourceSpans", []):
        resource = _json_attributes((resource_spans.get("resource") or {}).get("attributes", []))
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                yield Span(
                    trace_id=str(span.get("traceId", "")).lower(),
                    span_id=str(span.get("spanId", "")).lower(),
                    name=str(span.get("name", "")),
                    end_unix_nano=int(span.get("endTimeUnixNano") or 0),
                    attributes=_json_attributes(span.get("attributes", [])),
                    resource=resource,
                )
