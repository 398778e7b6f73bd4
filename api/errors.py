"""Domain errors and the one envelope every error response uses."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

CORRELATION_HEADER = "X-Correlation-ID"
_ADJECTIVES = (
    "AMBER",
    "BRAVE",
    "CALM",
    "CORAL",
    "CRISP",
    "DUSKY",
    "EAGER",
    "FAIR",
    "GOLDEN",
    "HAPPY",
    "IVORY",
    "JOLLY",
    "KIND",
    "LUCKY",
    "MERRY",
    "NOBLE",
    "OLIVE",
    "PLUM",
    "QUIET",
    "RAPID",
    "RUBY",
    "SILVER",
    "SUNNY",
    "TEAL",
    "VIVID",
    "WARM",
    "WISE",
    "ZESTY",
)
_ANIMALS = (
    "BADGER",
    "BISON",
    "CAMEL",
    "DINOSAUR",
    "DOLPHIN",
    "EAGLE",
    "FALCON",
    "GECKO",
    "HERON",
    "IBEX",
    "JAGUAR",
    "KOALA",
    "LEMUR",
    "LYNX",
    "MARMOT",
    "NARWHAL",
    "OTTER",
    "PANDA",
    "PUFFIN",
    "RAVEN",
    "SEAL",
    "TAPIR",
    "TIGER",
    "WALRUS",
    "WOMBAT",
    "YAK",
    "ZEBRA",
)
_SUFFIX = string.ascii_letters + string.digits


def new_correlation_id() -> str:
    """Human-readable and unique enough to quote to support: OLIVE-DINOSAUR-1b2fE4."""
    bits = secrets.randbits(64)  # one draw, spent on the three parts (every request has one)
    bits, adjective = divmod(bits, len(_ADJECTIVES))
    bits, animal = divmod(bits, len(_ANIMALS))
    suffix = []
    for _ in range(6):
        bits, char = divmod(bits, len(_SUFFIX))
        suffix.append(_SUFFIX[char])
    return f"{_ADJECTIVES[adjective]}-{_ANIMALS[animal]}-{''.join(suffix)}"


class ApiError(Exception):
    status_code = 500
    code = "INTERNAL_ERROR"
    retryable = False

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class ValidationFailed(ApiError):
    status_code, code = 400, "VALIDATION_ERROR"


class Unauthorized(ApiError):
    status_code, code = 401, "UNAUTHORIZED"


class Forbidden(ApiError):
    status_code, code = 403, "FORBIDDEN"


class NotFound(ApiError):
    status_code, code = 404, "NOT_FOUND"


class EndUserNotFound(NotFound):
    code = "END_USER_NOT_FOUND"


class MethodNotAllowed(ApiError):
    status_code, code = 405, "METHOD_NOT_ALLOWED"


class Conflict(ApiError):
    status_code, code = 409, "IDEMPOTENCY_CONFLICT"


class PayloadTooLarge(ApiError):
    status_code, code = 413, "PAYLOAD_TOO_LARGE"


class RateLimited(ApiError):
    status_code, code, retryable = 429, "RATE_LIMITED", True


class SnapshotUnavailable(ApiError):
    status_code, code, retryable = 503, "SNAPSHOT_UNAVAILABLE", True


class ErrorDetails(BaseModel):
    retryable: bool = Field(description="Whether the same request may succeed if retried later.")


class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. VALIDATION_ERROR.")
    message: str = Field(description="What went wrong, for a person.")
    correlationId: str = Field(
        description="Quote this to support; also in the X-Correlation-ID header."
    )
    details: ErrorDetails = Field(description="Extra facts about the error.")


class ErrorMeta(BaseModel):
    timestamp: str = Field(description="When the error happened (UTC, ISO-8601).")
    path: str = Field(description="The request path.")
    method: str = Field(description="The request method.")


class ErrorEnvelope(BaseModel):
    success: bool = Field(description="Always false for errors.")
    error: ErrorBody = Field(description="The error.")
    meta: ErrorMeta = Field(description="About the request.")


def correlation_id(request: Request) -> str:
    value = getattr(request.state, "correlation_id", None)
    if value is None:
        value = request.state.correlation_id = new_correlation_id()
    return value


def error_response(request: Request, error: ApiError) -> JSONResponse:
    cid = correlation_id(request)
    request.state.error_code = error.code
    settings = getattr(request.app.state, "settings", None)
    moment = settings.clock() if settings is not None else datetime.now(UTC)
    now = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = {
        "success": False,
        "error": {
            "code": error.code,
            "message": error.message,
            "correlationId": cid,
            "details": {"retryable": error.retryable},
        },
        "meta": {"timestamp": now, "path": request.url.path, "method": request.method},
    }
    return JSONResponse(
        body, status_code=error.status_code, headers={CORRELATION_HEADER: cid, **error.headers}
    )


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI documentation of the error envelope for the given statuses."""
    descriptions = {
        400: "Invalid parameters or request body",
        401: "Missing or invalid API key",
        403: "API key lacks the required scope",
        404: "The resource does not exist for this organization",
        409: "Idempotency key already used for a different event",
        413: "Request body too large",
        429: "Rate limit exceeded (see Retry-After)",
        500: "Something went wrong on our end",
        503: "No serving snapshot published yet",
    }
    return {s: {"model": ErrorEnvelope, "description": descriptions[s]} for s in statuses}
