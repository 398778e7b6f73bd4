create table if not exists api_keys (
    key_id varchar(40) primary key,
    key_prefix varchar(24) not null,
    key_hash varchar(64) not null unique,
    organization_id varchar(64) not null,
    scopes varchar(200) not null,
    environment varchar(8) not null,
    created_at timestamp not null,
    revoked_at timestamp
);
create index if not exists api_keys_organization on api_keys (organization_id);
