"""Real provider response objects, built offline with the providers' own packages (no
network): what an app has in hand after a call. Each comes with its usage as the provider
counts it, for genai-prices' calc_price (whose input count includes cached tokens)."""

from __future__ import annotations

from anthropic.types import Message
from google.genai import types as gemini
from openai.types.chat import ChatCompletion
from openai.types.responses import Response


def openai_chat(model="gpt-4o-mini-2024-07-18", prompt=1200, cached=1024, completion=300):
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1764000000,
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Hello"}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion,
                      "prompt_tokens_details": {"cached_tokens": cached},
                      "completion_tokens_details": {"reasoning_tokens": 0}},
        }
    )  # fmt: skip


def openai_responses(model="o3-mini", prompt=500, cached=100, output=800, reasoning=600):
    return Response.model_validate(
        {
            "id": "resp-1", "object": "response", "created_at": 1764000000, "model": model,
            "output": [], "parallel_tool_calls": False, "tool_choice": "auto", "tools": [],
            "usage": {"input_tokens": prompt,
                      "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
                      "output_tokens": output,
                      "output_tokens_details": {"reasoning_tokens": reasoning},
                      "total_tokens": prompt + output},
        }
    )  # fmt: skip


def anthropic_message(model="claude-3-5-sonnet-20241022", fresh=50, written=1000, read=2000,
                      output=200):  # fmt: skip
    return Message.model_validate(
        {
            "id": "msg-1", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "Hello"}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": fresh, "output_tokens": output,
                      "cache_creation_input_tokens": written, "cache_read_input_tokens": read},
        }
    )  # fmt: skip


def gemini_response(model="gemini-2.5-flash", prompt=1000, cached=400, candidates=200, thoughts=50):
    return gemini.GenerateContentResponse(
        model_version=model,
        usage_metadata=gemini.GenerateContentResponseUsageMetadata(
            prompt_token_count=prompt,
            candidates_token_count=candidates,
            cached_content_token_count=cached,
            thoughts_token_count=thoughts,
            total_token_count=prompt + candidates + thoughts,
        ),
    )


def bedrock_converse(fresh=700, read=300, written=0, output=150):
    # boto3's answer to bedrock-runtime.converse(): a dict, and no model in it
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": "Hello"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": fresh, "outputTokens": output,
                  "totalTokens": fresh + read + written + output,
                  "cacheReadInputTokens": read, "cacheWriteInputTokens": written},
        "metrics": {"latencyMs": 420},
    }  # fmt: skip


def mistral_chat(model="mistral-large-latest", prompt=900, completion=100):
    # the JSON Mistral's chat endpoint answers (its SDK's objects dump to the same dict)
    return {
        "id": "cmpl-1", "object": "chat.completion", "created": 1764000000, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "Bonjour"}}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
    }  # fmt: skip
