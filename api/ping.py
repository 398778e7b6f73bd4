from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import AnyKey, Now, Zone
from api.errors import error_responses
from api.periods import iso_ms

router = APIRouter(tags=["ping"])


class Ping(BaseModel):
    ok: bool = Field(description="Always true: the key is valid and the API is up.")
    organizationId: str = Field(description="The organization the key belongs to.")
    keyPrefix: str = Field(description="The key's public prefix (sk_test_abcd).")
    scopes: list[str] = Field(description="The key's scopes.")
    timestamp: str = Field(description="The server's now (UTC).")
    timezone: str = Field(
        description="The organization's time zone (IANA name): its days, weeks and months, as "
        "the served snapshot was built (UTC until one is set; docs/timezones.md)."
    )


@router.get(
    "/v1/ping",
    response_model=Ping,
    responses=error_responses(401, 429, 500),
    summary="Check a key: any valid key, any scope",
)
async def ping(key: AnyKey, now: Now, zone: Zone) -> Ping:
    return Ping(
        ok=True,
        organizationId=key.organization_id,
        keyPrefix=key.key_prefix,
        scopes=sorted(key.scopes),
        timestamp=iso_ms(now),
        timezone=zone.key,
    )
