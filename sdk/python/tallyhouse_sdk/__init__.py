"""Record LLM usage in Tallyhouse from the provider responses an app already has.

from tallyhouse_sdk import Tallyhouse

tallyhouse = Tallyhouse(api_key="sk_live_…", base_url="http://localhost:8000")
tallyhouse.track(response, user_id="user_42", feature="chat")
"""

from tallyhouse_sdk.client import AsyncTallyhouse, Tallyhouse, usage_event
from tallyhouse_sdk.usage import StreamUsage, TokenUsage, UnrecognisedResponse, usage_of

__all__ = [
    "AsyncTallyhouse",
    "StreamUsage",
    "Tallyhouse",
    "TokenUsage",
    "UnrecognisedResponse",
    "usage_event",
    "usage_of",
]
