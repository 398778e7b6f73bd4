insert into api_keys (
    key_id, key_prefix, key_hash, organization_id, scopes, environment, created_at
) values (:key_id, :key_prefix, :key_hash, :organization_id, :scopes, :environment, :created_at)
