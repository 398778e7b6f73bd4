update api_keys
set revoked_at = :revoked_at
where (key_prefix = :prefix or key_id = :prefix) and revoked_at is null
