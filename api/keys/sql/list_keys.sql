select
    key_id,
    key_prefix,
    organization_id,
    scopes,
    environment,
    created_at,
    revoked_at
from api_keys
order by created_at, key_id
