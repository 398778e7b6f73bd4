"""The FastAPI application: routers, the error envelope everywhere, one log line per request."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.cost_data.router import router as cost_data_router
from api.dashboard.router import router as dashboard_router
from api.deps import single_parameters
from api.end_user_costs.router import router as end_user_costs_router
from api.errors import (
    CORRELATION_HEADER,
    ApiError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
    error_response,
    new_correlation_id,
)
from api.insights.router import router as insights_router
from api.keys.service import KeyCache
from api.limits.alerts import AlertWatcher
from api.limits.evaluate import evaluator
from api.limits.router import alerts_router, webhooks_router
from api.limits.router import router as limits_router
from api.limits.webhooks import WebhookSender
from api.metrics.router import router as metrics_router
from api.ping import router as ping_router
from api.rate_limit import RateLimiter
from api.snapshot import SnapshotReader
from api.traces.router import router as traces_router
from api.usage_events.router import router as usage_events_router
from api.usage_events.service import GroupCommitter
from core.control_store import engine_for
from core.settings import Settings

log = logging.getLogger("tallyhouse.api")


class RequestLogMiddleware:
    """Gives every request a correlation id (response header, state) and logs one line for it.

    An error no handler took is answered here with a 500 in the envelope and logged in one
    more line: where it was raised and its message, never a whole traceback (a
    RecursionError's would be a megabyte). Caught here, it never reaches the server's own
    handler, which would log the traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = new_correlation_id()
        scope.setdefault("state", {})["correlation_id"] = cid
        started = time.perf_counter()
        status = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"x-correlation-id"
                ]
                headers.append((CORRELATION_HEADER.lower().encode(), cid.encode()))
                if version := scope["state"].get("snapshot_version"):
                    # which published snapshot answered: every answer comes from exactly one
                    headers.append((b"x-snapshot-version", version.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            request = Request(scope, receive)
            if isinstance(error, _BodyTooLarge) or BodyLimitMiddleware.too_large(request):
                answer: ApiError = _too_large()
            else:
                log.error(
                    "unhandled error correlation_id=%s type=%s at=%s message=%.200r",
                    cid,
                    type(error).__name__,
                    _raised_at(error),
                    str(error),
                )
                answer = ApiError("Something went wrong on our end")
            if status is None:
                await error_response(request, answer)(scope, receive, send_with_id)
        finally:
            state = scope["state"]
            log.info(
                "%s %s %s %.1fms correlation_id=%s org=%s code=%s",
                scope["method"],
                scope["path"],
                status or 500,
                (time.perf_counter() - started) * 1000,
                cid,
                state.get("organization_id", "-"),
                state.get("error_code", "-"),
            )


MAX_BODY_BYTES = 4 * 1024 * 1024  # a full batch of 1,000 events fits with room to spare


class BodyLimitMiddleware:
    """Refuses request bodies over MAX_BODY_BYTES with a 413 in the envelope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                scope.setdefault("state", {})["body_too_large"] = True
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await self._refuse(scope, receive, send)

    @staticmethod
    def too_large(request: Request) -> bool:
        """Whether this request's body was cut off at the limit (a handler that reads the body
        itself may have turned that into an error of its own)."""
        return bool(request.scope.get("state", {}).get("body_too_large"))

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(Request(scope, receive), _too_large())(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        return error_response(request, error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError):
        if BodyLimitMiddleware.too_large(request):
            return error_response(request, _too_large())
        if any(e["type"] == "json_invalid" for e in error.errors()):
            return error_response(request, ValidationFailed("Malformed JSON in the request body"))
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p not in ('body', 'query', 'path')) or 'body'}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in error.errors()[:10]
        )
        return error_response(request, ValidationFailed(f"Invalid request: {problems}"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        if BodyLimitMiddleware.too_large(request):
            return error_response(request, _too_large())
        if error.status_code == 404 and (twin := _slash_twin(request)) is not None:
            # a relative Location: never built from the request's Host header
            query = request.url.query
            return RedirectResponse(twin + (f"?{query}" if query else ""), status_code=307)
        if error.status_code == 405:
            return error_response(
                request,
                MethodNotAllowed(f"Method {request.method} not allowed on {request.url.path}"),
            )
        if error.status_code == 404:
            return error_response(
                request, NotFound(f"No such endpoint: {request.method} {request.url.path}")
            )
        generic = ApiError(str(error.detail))
        generic.status_code = error.status_code
        generic.code = "HTTP_ERROR"
        return error_response(request, generic)


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body larger than {MAX_BODY_BYTES} bytes")


def _raised_at(error: BaseException) -> str:
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None:
        return "-"
    return f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}"


def _slash_twin(request: Request) -> str | None:
    """The path with its trailing slash removed (or one added), if a route has that path."""
    path = request.url.path
    twin = path.rstrip("/") if path.endswith("/") else path + "/"
    if not twin.startswith("/") or twin.startswith("//"):
        return None  # "//host" would be another site
    scope = {**request.scope, "path": twin}
    for route in request.app.router.routes:
        if route.matches(scope)[0] is Match.FULL:
            return twin
    return None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.snapshot.start()
        app.state.committer = GroupCommitter(app.state.store)
        app.state.alerts = AlertWatcher(evaluator(app.state), lambda: app.state.snapshot.version)
        app.state.alerts.start()
        app.state.webhooks = WebhookSender(
            app.state.store,
            allow_private=settings.webhook_allow_private,
            retry_seconds=settings.webhook_retry_seconds,
            lease_seconds=settings.webhook_lease_seconds,
        )
        app.state.webhooks.start()
        yield
        app.state.webhooks.stop()
        app.state.alerts.stop()
        app.state.committer.close()
        app.state.snapshot.stop()

    app = FastAPI(
        title="Tallyhouse API",
        version="0.1.0",
        description="Usage and LLM-cost analytics: cost summaries, breakdowns, trends and "
        "end-user costs and metric values from the published warehouse snapshot. Authenticate with "
        "`Authorization: Bearer sk_test_…`. Every error uses one envelope with a correlation id.",
        lifespan=lifespan,
        dependencies=[Depends(single_parameters)],
    )
    # our 404 handler redirects a path that differs by a trailing slash, relatively
    app.router.redirect_slashes = False
    app.state.settings = settings
    app.state.store = engine_for(settings.control_store_url)
    app.state.snapshot = SnapshotReader(
        settings.current_snapshot, answers_cached=settings.answers_cached
    )
    app.state.rate_limiter = RateLimiter(settings.rate_limit)
    app.state.key_cache = KeyCache(app.state.store)
    _install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(RequestLogMiddleware)
    for router in (
        ping_router,
        usage_events_router,
        cost_data_router,
        insights_router,
        end_user_costs_router,
        metrics_router,
        limits_router,
        alerts_router,
        webhooks_router,
        traces_router,
        dashboard_router,
    ):
        app.include_router(router)
    return app
