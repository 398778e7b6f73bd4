-- Each organization's time zone, as the build exported it (an organization without a row is
-- UTC: the daily marts coalesce to it).
select
    organization_id,
    timezone
from {{ source('tallyhouse', 'organization_timezones') }}
