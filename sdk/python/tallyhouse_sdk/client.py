"""The clients: record usage without ever slowing or breaking the app.

`track` turns a provider's response into one usage event and puts it on a bounded in-memory
queue; one background thread sends the queue in batches through
`POST /v1/usage/events/batch` (at `batch_size` events or every `flush_interval` seconds),
retrying network errors, 429 (after its Retry-After) and 5xx with exponential backoff and
jitter. Each event gets its idempotency key when it is tracked, so a batch sent twice (a retry
after a lost answer) is stored once. Nothing here raises into the app: problems are logged
(logger `tallyhouse_sdk`) and counted in `stats`.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import random
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from tallyhouse_sdk.usage import StreamUsage, TokenUsage, UnrecognisedResponse, usage_of

logger = logging.getLogger("tallyhouse_sdk")

DEFAULT_BASE_URL = "http://localhost:8000"
BATCH_PATH = "/v1/usage/events/batch"
MAX_BATCH = 1000  # what the batch endpoint takes
_STOP = object()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def usage_event(
    usage: TokenUsage,
    *,
    when: datetime,
    user_id: str | None = None,
    feature: str | None = None,
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """One `tokens` event with the split in metadata, as the API takes it."""
    details: dict[str, Any] = dict(metadata or {})
    for name, value in (("model", usage.model), ("provider", usage.provider), ("feature", feature)):
        if value is not None:
            details[name] = value
    details.update(
        inputTokens=usage.input_tokens,
        outputTokens=usage.output_tokens,
        cacheReadTokens=usage.cache_read_tokens,
        cacheWriteTokens=usage.cache_write_tokens,
        reasoningTokens=usage.reasoning_tokens,
    )
    moment = when.astimezone(UTC)
    event: dict[str, Any] = {
        "eventType": "llm_call",
        "metricName": "tokens",
        "quantity": usage.total,
        "idempotencyKey": idempotency_key or f"sdk_{uuid.uuid4().hex}",
        "timestamp": f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z",
        "metadata": details,
    }
    if user_id is not None:
        event["userId"] = user_id
    return event


class Tallyhouse:
    """Records usage events in a Tallyhouse server from a background thread.

    api_key and base_url default to $TALLYHOUSE_API_KEY and $TALLYHOUSE_BASE_URL.
    `disabled=True` (or $TALLYHOUSE_SDK_DISABLED=1) sends nothing: events are kept in
    `recorded`, for an app's own tests. `clock` gives "now" for event timestamps.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        max_queue: int = 10_000,
        timeout: float = 10.0,
        max_backoff: float = 30.0,
        disabled: bool | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.api_key = api_key or os.environ.get("TALLYHOUSE_API_KEY", "")
        self.base_url = (
            base_url or os.environ.get("TALLYHOUSE_BASE_URL") or DEFAULT_BASE_URL
        ).rstrip("/")
        if disabled is None:
            disabled = os.environ.get("TALLYHOUSE_SDK_DISABLED", "").lower() in ("1", "true")
        self.disabled = disabled
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.flush_interval = flush_interval
        self.max_backoff = max_backoff
        self.clock = clock
        self.recorded: list[dict[str, Any]] = []  # disabled mode: what would have been sent
        self._stats = dict.fromkeys(
            (
                "tracked", "recorded", "duplicates", "rejected", "conflicts", "dropped",
                "failed", "retries", "unrecognised", "errors",
            ),
            0,
        )  # fmt: skip
        self._lock = threading.Lock()
        self._pending = 0  # queued or being sent
        self._idle = threading.Condition(self._lock)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._flush_now = threading.Event()
        self._closing = threading.Event()
        self._give_up_at: float | None = None
        self._http = httpx.Client(timeout=timeout)
        self._worker: threading.Thread | None = None
        self._closed = False
        if not disabled:
            self._worker = threading.Thread(target=self._run, name="tallyhouse-sdk", daemon=True)
            self._worker.start()
            _close_at_exit(self)

    # ---- recording ----

    def track(
        self,
        response: Any,
        *,
        user_id: str | None = None,
        feature: str | None = None,
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        model: str | None = None,
        provider: str | None = None,
    ) -> str | None:
        """Record a provider response's usage. Returns the event's idempotency key, or None
        when the response's usage could not be read (logged and counted, never raised)."""
        try:
            usage = usage_of(response, model=model, provider=provider)
        except UnrecognisedResponse as problem:
            self._count("unrecognised")
            logger.warning("tallyhouse: usage not recorded: %s", problem)
            return None
        except Exception:  # a response object this SDK did not foresee
            self._count("errors")
            logger.exception("tallyhouse: usage not recorded")
            return None
        return self._record(usage, user_id, feature, metadata, idempotency_key)

    def track_usage(
        self,
        *,
        model: str,
        provider: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        reasoning_tokens: int = 0,
        user_id: str | None = None,
        feature: str | None = None,
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> str | None:
        """Record usage given by hand: input_tokens exclude cache reads and writes,
        reasoning_tokens are beyond output_tokens."""
        usage = TokenUsage(
            model=model,
            provider=provider,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            reasoning_tokens=reasoning_tokens,
        )
        return self._record(usage, user_id, feature, metadata, idempotency_key)

    def wrap_stream(self, stream: Any, **track: Any) -> Any:
        """Pass a streaming response through, chunk by chunk, and record its usage when it
        ends (OpenAI: create the stream with stream_options={"include_usage": True})."""
        if hasattr(stream, "__aiter__"):
            return self._wrap_async(stream, track)
        return self._wrap_sync(stream, track)

    def _wrap_sync(self, stream: Any, track: dict[str, Any]) -> Iterator[Any]:
        seen = StreamUsage()
        try:
            for chunk in stream:
                seen.feed(chunk)
                yield chunk
        finally:
            self._record_stream(seen, track)

    async def _wrap_async(self, stream: Any, track: dict[str, Any]) -> AsyncIterator[Any]:
        seen = StreamUsage()
        try:
            async for chunk in stream:
                seen.feed(chunk)
                yield chunk
        finally:
            self._record_stream(seen, track)

    def _record_stream(self, seen: StreamUsage, track: dict[str, Any]) -> None:
        if seen.usage is None:
            self._count("unrecognised")
            logger.warning("tallyhouse: the stream ended without usage; nothing recorded")
            return
        usage = seen.usage.named(track.get("model"), track.get("provider"))
        self._record(
            usage,
            track.get("user_id"),
            track.get("feature"),
            track.get("metadata"),
            track.get("idempotency_key"),
        )

    def _record(
        self,
        usage: TokenUsage,
        user_id: str | None,
        feature: str | None,
        metadata: dict[str, Any] | None,
        idempotency_key: str | None,
    ) -> str | None:
        try:
            event = usage_event(
                usage,
                when=self.clock(),
                user_id=user_id,
                feature=feature,
                metadata=metadata,
                idempotency_key=idempotency_key,
            )
            self._count("tracked")
            if self.disabled:
                self.recorded.append(event)
                return event["idempotencyKey"]
            if self._closed:
                self._count("dropped")
                logger.warning("tallyhouse: the client is closed; event dropped")
                return None
            with self._lock:
                self._pending += 1
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                with self._lock:
                    self._pending -= 1
                self._count("dropped")
                logger.warning("tallyhouse: the queue is full; event dropped")
                return None
            return event["idempotencyKey"]
        except Exception:
            self._count("errors")
            logger.exception("tallyhouse: usage not recorded")
            return None

    # ---- sending ----

    @property
    def stats(self) -> dict[str, int]:
        """Counts: tracked, recorded (stored by the server), duplicates, rejected (invalid),
        conflicts, dropped (queue full or closed), failed (gave up), retries, unrecognised,
        errors."""
        with self._lock:
            return dict(self._stats)

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._stats[name] += n

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything tracked so far; True when all of it was answered in time."""
        if self.disabled or self._worker is None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        self._flush_now.set()
        with self._idle:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining if remaining is not None else 0.5)
        return True

    def close(self, timeout: float | None = 10.0) -> None:
        """Flush (giving up on what cannot be sent within `timeout`) and stop the worker."""
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._give_up_at = None if timeout is None else time.monotonic() + timeout
            Tallyhouse.flush(self, timeout)  # the blocking flush, also for AsyncTallyhouse
            self._closing.set()
            self._queue.put(_STOP)
            self._worker.join(timeout=5)
        self._http.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            deadline = time.monotonic() + self.flush_interval
            while len(batch) < self.batch_size:
                wait = 0.0 if self._flush_now.is_set() else deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(item)
            if self._queue.empty():
                self._flush_now.clear()
            try:
                self._send(batch)
            except Exception:  # never let the worker die
                self._count("failed", len(batch))
                logger.exception("tallyhouse: a batch of %d events was not sent", len(batch))
            with self._idle:
                self._pending -= len(batch)
                self._idle.notify_all()

    def _send(self, batch: list[dict[str, Any]]) -> None:
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                answer = self._http.post(
                    self.base_url + BATCH_PATH,
                    json={"events": batch},
                    headers={"Authorization": f"Bearer {self.api_key}"},
                )
            except httpx.TransportError as problem:
                reason = f"{type(problem).__name__}: {problem}"
            else:
                if answer.status_code == 200:
                    self._counted(answer.json())
                    return
                reason = f"HTTP {answer.status_code}"
                if answer.status_code != 429 and answer.status_code < 500:
                    self._count("failed", len(batch))
                    logger.error(
                        "tallyhouse: %d events refused (%s): %s",
                        len(batch),
                        reason,
                        answer.text[:500],
                    )
                    return
                retry_after = _seconds(answer.headers.get("Retry-After"))
            delay = retry_after
            if delay is None:
                delay = min(self.max_backoff, 0.2 * 2**attempt) * random.uniform(0.5, 1.0)
            if self._give_up_at is not None and time.monotonic() + delay > self._give_up_at:
                self._count("failed", len(batch))
                logger.error("tallyhouse: %d events not sent (%s); giving up", len(batch), reason)
                return
            logger.info("tallyhouse: %s; retrying %d events in %.1f s", reason, len(batch), delay)
            self._count("retries")
            time.sleep(delay)
            attempt += 1

    def _counted(self, answer: dict[str, Any]) -> None:
        for name, key in (
            ("recorded", "recorded"),
            ("duplicates", "duplicates"),
            ("rejected", "invalid"),
            ("conflicts", "conflicts"),
        ):
            self._count(name, int(answer.get(key, 0)))
        for result in answer.get("results", []):
            if result.get("status") in ("invalid", "conflict"):
                logger.warning(
                    "tallyhouse: event not stored: %s", (result.get("error") or {}).get("message")
                )

    def __enter__(self) -> Tallyhouse:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncTallyhouse(Tallyhouse):
    """The same client for asyncio apps: `track` never blocks the event loop (it only
    queues), `flush` and `close` are awaitable, and `wrap_stream` takes async streams too. The
    sending runs on the client's own thread, so it goes on whatever the event loop does."""

    async def flush(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        import asyncio

        return await asyncio.to_thread(Tallyhouse.flush, self, timeout)

    async def close(self, timeout: float | None = 10.0) -> None:  # type: ignore[override]
        import asyncio

        await asyncio.to_thread(Tallyhouse.close, self, timeout)

    async def __aenter__(self) -> AsyncTallyhouse:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


_open_clients: weakref.WeakSet[Tallyhouse] = weakref.WeakSet()


def _close_at_exit(client: Tallyhouse) -> None:
    _open_clients.add(client)


@atexit.register
def _flush_all() -> None:
    """At interpreter exit, every open client sends what it still holds (5 s each at most)."""
    for client in list(_open_clients):
        Tallyhouse.close(client, timeout=5.0)
