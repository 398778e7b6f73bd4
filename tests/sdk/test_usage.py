"""The SDK reads each provider's usage and counts every token once (DESIGN.md: input excludes
cached tokens; reasoning is beyond output)."""

from __future__ import annotations

import pytest
from anthropic.types import (
    MessageDeltaUsage,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
)
from genai_prices import extract_usage
from openai.types.chat import ChatCompletionChunk
from tallyhouse_sdk import Tallyhouse, TokenUsage, usage_of

from tests.sdk import responses


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        # 1,200 prompt tokens of which 1,024 cached: 176 fresh, 1,024 read from the cache
        (responses.openai_chat(), TokenUsage("gpt-4o-mini-2024-07-18", "openai", 176, 300, 1024)),
        # 500 in (100 cached), 800 out of which 600 reasoning
        (responses.openai_responses(), TokenUsage("o3-mini", "openai", 400, 200, 100, 0, 600)),
        # Anthropic counts cache reads and writes outside input_tokens: taken as they are
        (
            responses.anthropic_message(),
            TokenUsage("claude-3-5-sonnet-20241022", "anthropic", 50, 200, 2000, 1000),
        ),
        # 1,000 prompt (400 cached), 200 candidates, 50 thoughts beyond them
        (
            responses.gemini_response(),
            TokenUsage("gemini-2.5-flash", "google", 600, 200, 400, 0, 50),
        ),
        (responses.bedrock_converse(), TokenUsage(None, "aws", 700, 150, 300, 0)),
        (responses.mistral_chat(), TokenUsage("mistral-large-latest", "mistral", 900, 100)),
    ],
    ids=["openai-chat", "openai-responses", "anthropic", "gemini", "bedrock", "mistral"],
)
def test_each_providers_usage_is_split_with_every_token_once(response, expected):
    assert usage_of(response) == expected
    # the dict form reads the same
    dumped = response if isinstance(response, dict) else response.model_dump()
    assert usage_of(dumped) == expected


@pytest.mark.parametrize(
    ("response", "provider", "flavor"),
    [
        (responses.openai_chat(), "openai", "chat"),
        (responses.openai_responses(), "openai", "responses"),
        (responses.anthropic_message(), "anthropic", "default"),
        (responses.gemini_response(), "google", "default"),
    ],
)
def test_the_split_adds_up_to_what_genai_prices_reads_from_the_same_response(
    response, provider, flavor
):
    """genai-prices' own reader (input including cache reads and writes) as the oracle."""
    theirs = extract_usage(
        response.model_dump(mode="json", by_alias=True), provider_id=provider, api_flavor=flavor
    )
    ours = usage_of(response)
    assert ours.input_tokens + ours.cache_read_tokens + ours.cache_write_tokens == (
        theirs.usage.input_tokens
    )
    assert (ours.cache_read_tokens or None) == theirs.usage.cache_read_tokens
    assert ours.output_tokens + ours.reasoning_tokens == theirs.usage.output_tokens


def test_an_openai_stream_is_passed_through_and_its_final_usage_recorded():
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    stream = [
        ChatCompletionChunk.model_validate(
            {**chunk, "choices": [{"index": 0, "delta": {"content": word}}]}
        )
        for word in ("Hel", "lo")
    ] + [
        ChatCompletionChunk.model_validate(
            {**chunk, "choices": [],
             "usage": {"prompt_tokens": 40, "completion_tokens": 2, "total_tokens": 42,
                       "prompt_tokens_details": {"cached_tokens": 0}}}
        )
    ]  # fmt: skip
    client = Tallyhouse(disabled=True)
    passed = list(client.wrap_stream(iter(stream), user_id="u1"))
    assert passed == stream
    (event,) = client.recorded
    assert event["metadata"]["inputTokens"] == 40 and event["metadata"]["outputTokens"] == 2
    assert event["quantity"] == 42 and event["userId"] == "u1"


def test_an_anthropic_stream_records_its_cumulative_usage():
    start = RawMessageStartEvent.model_validate(
        {"type": "message_start",
         "message": {"id": "m", "type": "message", "role": "assistant",
                     "model": "claude-3-5-sonnet-20241022", "content": [],
                     "stop_reason": None, "stop_sequence": None,
                     "usage": {"input_tokens": 30, "output_tokens": 1,
                               "cache_read_input_tokens": 500,
                               "cache_creation_input_tokens": 0}}}
    )  # fmt: skip
    deltas = [
        RawMessageDeltaEvent(
            type="message_delta",
            delta={"stop_reason": None, "stop_sequence": None},
            usage=MessageDeltaUsage(output_tokens=n),
        )
        for n in (5, 12)  # cumulative: the last one is the total
    ]
    client = Tallyhouse(disabled=True)
    list(client.wrap_stream(iter([start, *deltas])))
    (event,) = client.recorded
    assert {k: event["metadata"][k] for k in ("model", "inputTokens", "outputTokens",
                                              "cacheReadTokens")} == {
        "model": "claude-3-5-sonnet-20241022", "inputTokens": 30, "outputTokens": 12,
        "cacheReadTokens": 500,
    }  # fmt: skip


def test_bedrock_and_mistral_streams_record_their_closing_usage():
    bedrock = [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "Hi"}, "contentBlockIndex": 0}},
        {"messageStop": {"stopReason": "end_turn"}},
        {"metadata": {"usage": {"inputTokens": 20, "outputTokens": 4, "totalTokens": 24,
                                "cacheReadInputTokens": 100}, "metrics": {"latencyMs": 9}}},
    ]  # fmt: skip
    mistral_chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1,
                     "model": "mistral-small-latest"}  # fmt: skip
    mistral = [
        {"data": {**mistral_chunk, "choices": [{"index": 0, "delta": {"content": "Bon"}}]}},
        {"data": {**mistral_chunk, "choices": [],
                  "usage": {"prompt_tokens": 30, "completion_tokens": 6, "total_tokens": 36}}},
    ]  # fmt: skip
    client = Tallyhouse(disabled=True)
    assert list(client.wrap_stream(iter(bedrock), model="amazon.nova-pro-v1:0")) == bedrock
    assert list(client.wrap_stream(iter(mistral))) == mistral
    splits = [
        {k: e["metadata"][k] for k in ("model", "provider", "inputTokens", "outputTokens",
                                       "cacheReadTokens")}
        for e in client.recorded
    ]  # fmt: skip
    assert splits == [
        {"model": "amazon.nova-pro-v1:0", "provider": "aws", "inputTokens": 20,
         "outputTokens": 4, "cacheReadTokens": 100},
        {"model": "mistral-small-latest", "provider": "mistral", "inputTokens": 30,
         "outputTokens": 6, "cacheReadTokens": 0},
    ]  # fmt: skip


def test_what_cannot_be_read_is_counted_never_raised():
    client = Tallyhouse(disabled=True)
    assert client.track(object()) is None
    assert client.track({"choices": []}) is None
    assert client.stats["unrecognised"] == 2 and client.recorded == []
