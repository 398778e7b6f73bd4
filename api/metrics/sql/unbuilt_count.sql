-- How many of an organization's landing-store events lie in (after, last]: on PostgreSQL,
-- whether one with a lower sequence number committed after a higher one was read.
select count(*)
from landing_events
where
    organization_id = :org
    and seq > :after
    and seq <= :last
