select
    key_id,
    key_prefix,
    key_hash,
    organization_id,
    scopes,
    environment,
    revoked_at
from api_keys
where key_hash = :key_hash
