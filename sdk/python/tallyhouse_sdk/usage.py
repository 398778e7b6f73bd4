"""Token usage read from a provider's response, split the way Tallyhouse prices it.

Tallyhouse counts every token once: `input_tokens` are the input tokens that were neither read
from nor written to a cache; cache reads and writes are counts of their own; `reasoning_tokens`
are beyond `output_tokens`. Providers report these differently, and this module undoes each
one's arithmetic:

| provider (response) | input reported | output reported |
|---|---|---|
| OpenAI Chat Completions, Mistral | `prompt_tokens` includes `cached_tokens` and `cache_write_tokens` | `completion_tokens` includes `reasoning_tokens` |
| OpenAI Responses | `input_tokens` includes `cached_tokens` and `cache_write_tokens` | `output_tokens` includes `reasoning_tokens` |
| Anthropic Messages | `input_tokens` excludes cache reads and writes | `output_tokens` includes `thinking_tokens` |
| Google Gemini | `prompt_token_count` includes `cached_content_token_count`; `tool_use_prompt_token_count` is more input | `candidates_token_count` excludes `thoughts_token_count` |
| AWS Bedrock Converse | `inputTokens` excludes cache reads and writes | `outputTokens` |

A response is recognised from the object or its dict form (`model_dump()`, `to_dict()`, or
the JSON a provider returned), so the SDK needs none of the providers' packages.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

# model-name prefixes of Mistral's models, whose chat answers look like OpenAI's
_MISTRAL_PREFIXES = (
    "mistral",
    "open-mistral",
    "open-mixtral",
    "mixtral",
    "ministral",
    "codestral",
    "pixtral",
    "magistral",
    "devstral",
    "voxtral",
)


@dataclass(frozen=True)
class TokenUsage:
    """One request's tokens, each counted once (see the module's table)."""

    model: str | None
    provider: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def named(self, model: str | None, provider: str | None) -> TokenUsage:
        """The same counts, with the model and provider given (when given) instead."""
        return replace(self, model=model or self.model, provider=provider or self.provider)

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
            + self.reasoning_tokens
        )


class UnrecognisedResponse(ValueError):
    """Not a response whose usage this SDK can read."""


def as_dict(response: Any) -> dict[str, Any]:
    """The dict form of a response object (pydantic models, Google's types, plain dicts)."""
    if isinstance(response, dict):
        return response
    for method in ("model_dump", "to_dict", "dict"):
        dump = getattr(response, method, None)
        if callable(dump):
            try:
                dumped = dump()
            except TypeError:
                continue
            if isinstance(dumped, dict):
                return dumped
    raise UnrecognisedResponse(f"cannot read usage from a {type(response).__name__}")


def usage_of(response: Any, *, model: str | None = None, provider: str | None = None) -> TokenUsage:
    """The usage in a response; `model` and `provider` override what it says (a Bedrock
    Converse answer names no model). UnrecognisedResponse when it is none of the known kinds."""
    usage = _read(as_dict(response))
    if usage is None:
        raise UnrecognisedResponse("no usage this SDK recognises in the response")
    return usage.named(model, provider)


def _read(data: dict[str, Any]) -> TokenUsage | None:
    usage = data.get("usage")
    gemini = data.get("usage_metadata") or data.get("usageMetadata")
    if gemini:
        return _gemini(data, gemini)
    if not isinstance(usage, dict):
        return None
    if data.get("type") == "message" or "cache_creation_input_tokens" in usage:
        return _anthropic(data, usage)
    if data.get("object") == "response" or "input_tokens_details" in usage:
        return _openai_responses(data, usage)
    if "prompt_tokens" in usage:
        return _openai_chat(data, usage)
    if "inputTokens" in usage:
        return _bedrock(usage)
    return None


def _n(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _detail(usage: dict[str, Any], details: str, name: str) -> int:
    found = usage.get(details)
    return _n(found.get(name)) if isinstance(found, dict) else 0


def _openai_chat(data: dict[str, Any], usage: dict[str, Any]) -> TokenUsage:
    model = data.get("model")
    mistral = isinstance(model, str) and model.lower().startswith(_MISTRAL_PREFIXES)
    names = ("prompt_tokens", "completion_tokens", "prompt_tokens_details",
             "completion_tokens_details")  # fmt: skip
    return _openai(model, "mistral" if mistral else "openai", usage, *names)


def _openai_responses(data: dict[str, Any], usage: dict[str, Any]) -> TokenUsage:
    names = ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")
    return _openai(data.get("model"), "openai", usage, *names)


def _openai(
    model: Any, provider: str, usage: dict[str, Any], inputs: str, outputs: str,
    input_details: str, output_details: str,
) -> TokenUsage:  # fmt: skip
    """OpenAI's arithmetic, under either API's names: cache reads and writes inside the
    input count, reasoning inside the output count."""
    cached = _detail(usage, input_details, "cached_tokens")
    written = _detail(usage, input_details, "cache_write_tokens")
    reasoning = _detail(usage, output_details, "reasoning_tokens")
    return TokenUsage(
        model=model,
        provider=provider,
        input_tokens=max(_n(usage.get(inputs)) - cached - written, 0),
        output_tokens=max(_n(usage.get(outputs)) - reasoning, 0),
        cache_read_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=reasoning,
    )


def _anthropic(data: dict[str, Any], usage: dict[str, Any]) -> TokenUsage:
    thinking = _detail(usage, "output_tokens_details", "thinking_tokens")
    return TokenUsage(
        model=data.get("model"),
        provider="anthropic",
        input_tokens=_n(usage.get("input_tokens")),
        output_tokens=max(_n(usage.get("output_tokens")) - thinking, 0),
        reasoning_tokens=thinking,
        cache_read_tokens=_n(usage.get("cache_read_input_tokens")),
        cache_write_tokens=_n(usage.get("cache_creation_input_tokens")),
    )


def _gemini(data: dict[str, Any], usage: dict[str, Any]) -> TokenUsage:
    def count(snake: str) -> int:
        camel = snake.split("_")[0] + "".join(p.title() for p in snake.split("_")[1:])
        return _n(usage.get(snake, usage.get(camel)))

    cached = count("cached_content_token_count")
    return TokenUsage(
        model=data.get("model_version") or data.get("modelVersion"),
        provider="google",
        input_tokens=max(count("prompt_token_count") - cached, 0)
        + count("tool_use_prompt_token_count"),
        output_tokens=count("candidates_token_count"),
        cache_read_tokens=cached,
        reasoning_tokens=count("thoughts_token_count"),
    )


def _bedrock(usage: dict[str, Any]) -> TokenUsage:
    return TokenUsage(
        model=None,  # a Converse answer does not name its model: track(..., model=...)
        provider="aws",
        input_tokens=_n(usage.get("inputTokens")),
        output_tokens=_n(usage.get("outputTokens")),
        cache_read_tokens=_n(usage.get("cacheReadInputTokens")),
        cache_write_tokens=_n(usage.get("cacheWriteInputTokens")),
    )


class StreamUsage:
    """The usage of a streamed response, read from its chunks as they pass: OpenAI's last
    chunk (with `stream_options={"include_usage": True}`) or `response.completed` event,
    Anthropic's `message_start` and cumulative `message_delta` usage, Gemini's last chunk,
    Bedrock `converse_stream`'s `metadata` event, Mistral's last `data` chunk."""

    def __init__(self) -> None:
        self.usage: TokenUsage | None = None
        self._anthropic: dict[str, Any] = {}
        self._model: str | None = None

    def feed(self, chunk: Any) -> None:
        try:
            data = as_dict(chunk)
        except UnrecognisedResponse:
            return
        kind = data.get("type")
        if kind == "message_start" and isinstance(data.get("message"), dict):
            self._model = data["message"].get("model")
            self._anthropic = dict(data["message"].get("usage") or {})
        elif kind == "message_delta" and isinstance(data.get("usage"), dict):
            # cumulative counts: each replaces the one before
            self._anthropic.update({k: v for k, v in data["usage"].items() if v is not None})
        elif kind in ("response.completed", "response.incomplete") and isinstance(
            data.get("response"), dict
        ):
            self.usage = _read(data["response"]) or self.usage
            return
        elif isinstance(data.get("metadata"), dict) and "usage" in data["metadata"]:
            # Bedrock's converse_stream: the usage comes in its closing metadata event
            self.usage = _read(data["metadata"]) or self.usage
            return
        elif isinstance(data.get("data"), dict):
            # Mistral's stream: each event wraps its chunk in `data`; the last one has usage
            self.usage = _read(data["data"]) or self.usage
            return
        else:
            self.usage = _read(data) or self.usage
            return
        self.usage = _anthropic({"model": self._model}, self._anthropic)
