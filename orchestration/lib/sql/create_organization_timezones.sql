-- The organizations' time zones as the last build exported them from the control store
-- (core/organizations.py); an organization without a row is UTC. The daily marts date events
-- in them (dbt_project/macros/local_date.sql).
create schema if not exists raw;

create table if not exists raw.organization_timezones (
    organization_id varchar not null primary key,
    timezone varchar not null
);
