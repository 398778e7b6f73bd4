"""Usage recorded where it happens, against a real server: the SDK tracks real provider
responses and sends them in batches through failures; the real OpenTelemetry SDK exports
GenAI spans to POST /v1/traces; after a build, every event costs what genai-prices'
calc_price says for the same usage."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import httpx
import pytest
import sqlalchemy as sa
from genai_prices import Usage, calc_price
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tallyhouse_sdk import AsyncTallyhouse, Tallyhouse

from api import subprocess_server
from api.keys.service import create_key
from core.control_store import engine_for, landing_events
from orchestration.build import run_build
from tests.api.conftest import auth, wait_for_snapshot
from tests.sdk import responses

pytestmark = pytest.mark.slow

ORG = "umbrella"
WHEN = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # two hours before the pinned "now"
WHEN_NS = int(WHEN.timestamp()) * 1_000_000_000


def price(usage: Usage, model: str, provider: str) -> Decimal:
    return calc_price(usage, model, provider_id=provider, genai_request_timestamp=WHEN).total_price


# what each tracked response or exported span should cost: genai-prices' Usage counts cached
# tokens inside input_tokens, as OpenAI and Gemini report them
EXPECTED: dict[str, Decimal] = {}


class Server:
    def __init__(self, home, base: str, key: str) -> None:
        self.home, self.base, self.key = home, base, key
        self.store = engine_for(home.control_store_url)

    def stored(self, prefix: str) -> dict[str, int]:
        """idempotency key → how many rows the landing store holds for it."""
        with self.store.connect() as con:
            rows = con.execute(
                sa.select(landing_events.c.idempotency_key, sa.func.count())
                .where(landing_events.c.organization_id == ORG)
                .where(landing_events.c.idempotency_key.startswith(prefix))
                .group_by(landing_events.c.idempotency_key)
            ).all()
        return dict(rows)


@pytest.fixture(scope="module")
def server(home_copy_module) -> Iterator[Server]:
    home = home_copy_module
    key = create_key(
        engine_for(home.control_store_url), ORG, ["usage:write", "costs:read"], "test", home.clock()
    )[1]
    env = {**os.environ, "TALLYHOUSE_HOME": str(home.root), "TALLYHOUSE_RATE_LIMIT": "0"}
    process, base = subprocess_server.start(env)
    try:
        yield Server(home, base, key)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _client(server: Server, base: str | None = None, **options) -> Tallyhouse:
    return Tallyhouse(
        api_key=server.key, base_url=base or server.base, clock=lambda: WHEN, **options
    )


def test_tracked_responses_of_six_providers_are_stored_once_each(server):
    tracked = {
        "sdk-openai-chat": (
            responses.openai_chat(),
            {},
            price(Usage(input_tokens=1200, cache_read_tokens=1024, output_tokens=300),
                  "gpt-4o-mini-2024-07-18", "openai"),
        ),
        "sdk-openai-responses": (
            responses.openai_responses(),
            {},
            price(Usage(input_tokens=500, cache_read_tokens=100, output_tokens=800),
                  "o3-mini", "openai"),
        ),
        "sdk-anthropic": (
            responses.anthropic_message(),
            {},
            price(Usage(input_tokens=3050, cache_read_tokens=2000, cache_write_tokens=1000,
                        output_tokens=200), "claude-3-5-sonnet-20241022", "anthropic"),
        ),
        "sdk-gemini": (
            responses.gemini_response(),
            {},
            price(Usage(input_tokens=1000, cache_read_tokens=400, output_tokens=250),
                  "gemini-2.5-flash", "google"),
        ),
        "sdk-bedrock": (
            responses.bedrock_converse(),
            {"model": "amazon.nova-pro-v1:0"},  # a Converse answer names no model
            price(Usage(input_tokens=1000, cache_read_tokens=300, output_tokens=150),
                  "amazon.nova-pro-v1:0", "aws"),
        ),
        "sdk-mistral": (
            responses.mistral_chat(),
            {},
            price(Usage(input_tokens=900, output_tokens=100), "mistral-large-latest", "mistral"),
        ),
    }  # fmt: skip
    with _client(server, batch_size=4) as client:
        for key, (response, options, cost) in tracked.items():
            assert (
                client.track(
                    response, user_id="user_42", feature="chat", idempotency_key=key, **options
                )
                == key
            )
            EXPECTED[key] = cost
        assert client.flush(timeout=30)
        assert client.stats["recorded"] == 6 and client.stats["failed"] == 0, client.stats
        # the same keys again (an app that retries its own call): stored once
        for key, (response, options, _) in tracked.items():
            client.track(
                response, user_id="user_42", feature="chat", idempotency_key=key, **options
            )
        assert client.flush(timeout=30)
        assert client.stats["duplicates"] == 6, client.stats
    assert server.stored("sdk-") == dict.fromkeys(tracked, 1)


def test_the_async_client_and_an_async_stream(server):
    async def app() -> list[str]:
        async def stream():
            yield responses.openai_chat(prompt=50, cached=0, completion=5)  # a last chunk's usage

        async with AsyncTallyhouse(
            api_key=server.key, base_url=server.base, clock=lambda: WHEN
        ) as client:
            keys = [client.track(responses.anthropic_message(), user_id="async_user")]
            async for _ in client.wrap_stream(
                stream(), user_id="async_user", idempotency_key="async-stream"
            ):
                pass
            assert await client.flush(timeout=30)
            assert client.stats["recorded"] == 2
        return [*keys, "async-stream"]

    keys = asyncio.run(app())
    stored = {**server.stored("sdk_"), **server.stored("async-")}
    assert {k: stored.get(k) for k in keys} == dict.fromkeys(keys, 1)


def test_what_an_app_tracked_is_sent_when_it_exits(server):
    script = f"""
from datetime import datetime, timezone
from tallyhouse_sdk import AsyncTallyhouse, Tallyhouse
client = Tallyhouse(api_key={server.key!r}, base_url={server.base!r}, flush_interval=60,
                    clock=lambda: datetime(2026, 11, 24, 10, tzinfo=timezone.utc))
client.track_usage(model="gpt-4o-mini", provider="openai", input_tokens=7,
                   idempotency_key="at-exit")
"""  # no flush, no close: the interpreter's exit sends it
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert server.stored("at-exit") == {"at-exit": 1}


class FlakyProxy:
    """A real HTTP receiver in front of the server: it answers the statuses in `script`
    first (429 with Retry-After: 0), then forwards; `stop` closes its port, `start` opens the
    same port again."""

    def __init__(self, upstream: str, script: list[int]) -> None:
        self.upstream, self.script, self.answered = upstream, list(script), []
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if proxy.script:
                    status = proxy.script.pop(0)
                    proxy.answered.append(status)
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                forwarded = httpx.post(
                    proxy.upstream + self.path,
                    content=body,
                    headers={k: self.headers[k] for k in ("Authorization", "Content-Type")},
                )
                proxy.answered.append(forwarded.status_code)
                self.send_response(forwarded.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(forwarded.content)))
                self.end_headers()
                self.wfile.write(forwarded.content)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def test_a_server_answering_503_then_429_then_201_stores_each_event_once(server):
    proxy = FlakyProxy(server.base, [503, 429])
    proxy.start()
    try:
        with _client(server, proxy.base, max_backoff=0.2) as client:
            keys = [
                client.track_usage(model="gpt-4o-mini", provider="openai", input_tokens=100,
                                   output_tokens=10, user_id="retry_user")
                for _ in range(3)
            ]  # fmt: skip
            assert client.flush(timeout=30)
            assert client.stats["retries"] == 2 and client.stats["recorded"] == 3
    finally:
        proxy.stop()
    assert proxy.answered == [503, 429, 200]
    assert {k: v for k, v in server.stored("sdk_").items() if k in keys} == dict.fromkeys(keys, 1)


def test_a_server_stopped_mid_flush_and_started_again_loses_nothing(server):
    proxy = FlakyProxy(server.base, [])
    proxy.start()
    try:
        with _client(server, proxy.base, max_backoff=0.5, flush_interval=0.05) as client:
            first = client.track_usage(model="gpt-4o-mini", provider="openai", input_tokens=1)
            assert client.flush(timeout=30)
            proxy.stop()  # the server goes away; the app goes on tracking
            keys = [
                client.track_usage(model="gpt-4o-mini", provider="openai", input_tokens=n)
                for n in range(2, 12)
            ]
            assert not client.flush(timeout=1.5)  # nothing can be sent yet
            assert client.stats["retries"] >= 1
            proxy.start()  # back, on the same port
            assert client.flush(timeout=30)
            assert client.stats["recorded"] == 11 and client.stats["failed"] == 0
    finally:
        proxy.stop()
    stored = server.stored("sdk_")
    assert {k: stored.get(k) for k in [first, *keys]} == dict.fromkeys([first, *keys], 1)


def _span(tracer, name: str, attributes: dict, offset_s: int = 0):
    start = WHEN_NS + offset_s * 1_000_000_000
    span = tracer.start_span(name, start_time=start, attributes=attributes)
    span.end(end_time=start + 1_500_000_000)
    return span


def test_spans_of_both_generations_of_the_conventions_are_recorded_once(server):
    exporter = OTLPSpanExporter(
        endpoint=f"{server.base}/v1/traces",
        headers={"Authorization": f"Bearer {server.key}"},
        compression=Compression.Gzip,
    )
    kept = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(kept))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")
    # the newer names: cache reads inside input_tokens, reasoning inside output_tokens
    newer = _span(tracer, "chat gpt-4o-mini", {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.cache_read.input_tokens": 200,
        "gen_ai.usage.output_tokens": 500,
        "user.id": "otel_user",
        "tallyhouse.feature": "summaries",
    })  # fmt: skip
    # v1.36 and before: gen_ai.system, the underscore cache names, enduser.id
    older = _span(tracer, "chat claude", {
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-3-5-sonnet-20241022",
        "gen_ai.usage.input_tokens": 3050,
        "gen_ai.usage.cache_read_input_tokens": 2000,
        "gen_ai.usage.cache_creation_input_tokens": 1000,
        "gen_ai.usage.output_tokens": 200,
        "enduser.id": "otel_user",
    }, offset_s=60)  # fmt: skip
    _span(tracer, "GET /orders", {"http.request.method": "GET"}, offset_s=120)  # no usage
    provider.force_flush()
    sent = kept.get_finished_spans()
    assert len(sent) == 3
    # the exporter sends the same spans again (a retry after a lost answer)
    assert exporter.export(sent) == SpanExportResult.SUCCESS
    keys = {
        f"otel-{span.context.trace_id:032x}-{span.context.span_id:016x}": span
        for span in (newer, older)
    }
    assert server.stored("otel-") == dict.fromkeys(keys, 1)
    new_key, old_key = keys
    EXPECTED[new_key] = price(
        Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=500),
        "gpt-4o-mini-2024-07-18", "openai",
    )  # fmt: skip
    EXPECTED[old_key] = price(
        Usage(input_tokens=3050, cache_read_tokens=2000, cache_write_tokens=1000, output_tokens=200),
        "claude-3-5-sonnet-20241022", "anthropic",
    )  # fmt: skip
    provider.shutdown()


def _attribute(key: str, value) -> dict:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def test_otlp_json_is_answered_in_json_with_its_rejects_counted(server):
    trace_id, good, bad = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "eee19b7ec3c1b175"
    span_attributes = {
        good: {"gen_ai.provider.name": "google", "gen_ai.response.model": "gemini-2.5-flash",
               "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 300,
               "gen_ai.usage.reasoning.output_tokens": 100, "user.id": "otel_user"},
        bad: {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
              "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": -5},
    }  # fmt: skip
    body = {
        "resourceSpans": [{
            "resource": {"attributes": [_attribute("service.name", "batch-job")]},
            "scopeSpans": [{"scope": {"name": "tests"}, "spans": [
                {"traceId": trace_id, "spanId": span_id, "name": "generate", "kind": 3,
                 "startTimeUnixNano": str(WHEN_NS), "endTimeUnixNano": str(WHEN_NS + 10**9),
                 "attributes": [_attribute(k, v) for k, v in attributes.items()]}
                for span_id, attributes in span_attributes.items()
            ]}],
        }]
    }  # fmt: skip
    for _ in range(2):  # sent twice: counted once
        answer = httpx.post(f"{server.base}/v1/traces", json=body, headers=auth(server.key))
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
        assert answer.json() == {
            "partialSuccess": {
                "rejectedSpans": "1",
                "errorMessage": f"span {bad}: metadata: token counts must be whole numbers "
                "between 0 and 100000000000",
            }
        }
    key = f"otel-{trace_id}-{good}"
    assert server.stored(key) == {key: 1}
    # reasoning is part of Gemini's output count here; priced at the output price
    EXPECTED[key] = price(Usage(input_tokens=1000, output_tokens=300), "gemini-2.5-flash", "google")


def test_a_span_that_reaches_an_entitlement_raises_its_alert_without_a_status_check(server):
    """Spans are writes like any other: the metric limits of their end user are evaluated as
    they are stored (docs/limits.md#alerts), here a limit of one LLM call."""
    key = create_key(
        server.store, ORG, ["metrics:write", "limits:read", "limits:write"], "test",
        server.home.clock(),
    )[1]  # fmt: skip
    metric = httpx.post(
        f"{server.base}/v1/metrics", headers=auth(key),
        json={"name": "LLM calls", "queryType": "simple", "aggregationType": "COUNT",
              "eventName": "llm_call", "valueType": "NUMERIC"},
    ).json()["id"]  # fmt: skip
    limit = httpx.post(
        f"{server.base}/v1/limits", headers=auth(key),
        json={"name": "One call", "subject": {"type": "end_user", "id": "otel_limited"},
              "measure": {"type": "metric", "metricId": metric}, "limit": 1,
              "window": {"type": "calendar_month"}, "thresholds": [100], "hard": True},
    ).json()  # fmt: skip
    provider = TracerProvider()
    exporter = OTLPSpanExporter(
        endpoint=f"{server.base}/v1/traces", headers={"Authorization": f"Bearer {server.key}"}
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = _span(provider.get_tracer("tests"), "chat", {
        "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5,
        "user.id": "otel_limited",
    }, offset_s=180)  # fmt: skip
    provider.shutdown()
    alerts = []
    for _ in range(100):
        alerts = httpx.get(
            f"{server.base}/v1/alerts", params={"limitId": limit["id"]}, headers=auth(key)
        ).json()
        if alerts:
            break
        time.sleep(0.05)
    assert [(a["subjectId"], a["threshold"], a["usage"]) for a in alerts] == [
        ("otel_limited", 100, 1)
    ]
    EXPECTED[f"otel-{span.context.trace_id:032x}-{span.context.span_id:016x}"] = price(
        Usage(input_tokens=10, output_tokens=5), "gpt-4o-mini", "openai"
    )


def test_a_body_that_is_not_otlp_is_a_400_in_the_envelope(server):
    for content, content_type in ((b"\x08\x96\x01garbage", "application/x-protobuf"),
                                  (b"{\"resourceSpans\": 7}", "application/json"),
                                  (b"spans", "text/plain")):  # fmt: skip
        answer = httpx.post(
            f"{server.base}/v1/traces",
            content=content,
            headers={**auth(server.key), "Content-Type": content_type},
        )
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert error["message"].startswith("Invalid OTLP request: ")


def test_after_a_build_every_event_costs_what_calc_price_says(server):
    assert len(EXPECTED) == 10, "the tests above record the events this one prices"
    summary = run_build(server.home)
    assert summary.success and summary.published
    with duckdb.connect(str(server.home.current_snapshot), read_only=True) as snapshot:
        costs = dict(
            snapshot.execute(
                "select idempotency_key, cost_usd from fct_usage_costs "
                "where organization_id = ? and idempotency_key in (select unnest(?))",
                [ORG, list(EXPECTED)],
            ).fetchall()
        )
    assert costs == EXPECTED
    # the quick start's promise: the tracked user's cost, through the API
    wait_for_snapshot(server.base, server.key, summary.snapshot_version)
    answer = httpx.get(
        f"{server.base}/v1/end-user-costs/user_42/summary",
        params={"start_date": "2026-11-24", "end_date": "2026-11-24"},
        headers=auth(server.key),
    )
    sdk_total = sum(v for k, v in EXPECTED.items() if k.startswith("sdk-"))
    assert answer.json()["totalCost"] == float(sdk_total.quantize(Decimal("0.01"), ROUND_HALF_UP))


def test_docs_examples_name_what_the_code_reads():
    """docs/otel.md's table lists every attribute the ingest reads, and nothing else."""
    from api.traces import genai

    table = Path(__file__).resolve().parents[2] / "docs" / "otel.md"
    text = table.read_text()
    for names in (genai.MODEL, genai.PROVIDER, genai.INPUT, genai.OUTPUT, genai.CACHE_READ,
                  genai.CACHE_WRITE, genai.REASONING, genai.USER):  # fmt: skip
        for name in names:
            assert f"`{name}`" in text, name


def test_the_quick_start_of_docs_sdk_md_records_its_event(server):
    """The docs' "try it" snippet, run as written against a server on today's clock (the
    snippet's events carry the real time)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "sdk.md").read_text()
    snippet = text.split("Try it without a provider account")[1].split("```python\n")[1]
    snippet = snippet.split("```")[0]
    env = {
        **{k: v for k, v in os.environ.items() if k != "TALLYHOUSE_NOW"},
        "TALLYHOUSE_HOME": str(server.home.root),
        "TALLYHOUSE_RATE_LIMIT": "0",
    }
    with subprocess_server.running(env) as base:
        code = snippet.replace("sk_test_…", server.key).replace("http://localhost:8000", base)
        exec(compile(code, "docs/sdk.md", "exec"), {})
    with server.store.connect() as con:
        bodies = [
            json.loads(body)
            for (body,) in con.execute(
                sa.select(landing_events.c.body).where(landing_events.c.organization_id == ORG)
            )
        ]
    # the key the SDK made (sdk_…); the six-provider test tracked the same response by its key
    quick = [
        b
        for b in bodies
        if b["idempotencyKey"].startswith("sdk_") and b["metadata"].get("inputTokens") == 176
    ]
    assert len(quick) == 1
    assert quick[0]["userId"] == "user_42" and quick[0]["metadata"] == {
        "model": "gpt-4o-mini-2024-07-18", "provider": "openai", "feature": "chat",
        "inputTokens": 176, "outputTokens": 300, "cacheReadTokens": 1024,
        "cacheWriteTokens": 0, "reasoningTokens": 0,
    }  # fmt: skip
