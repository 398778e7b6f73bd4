-- The events the write API acknowledged since the snapshot's build (`unbuilt_raw`: landing
-- store rows after the snapshot's inbox_through_seq), typed the way the build's ingest types
-- them: a quantity of DECIMAL(18,6), metadata as the warehouse writes JSON, the timestamp in
-- UTC or the time received. Events without a userId belong to no customer, as in the mart; an
-- unbuilt event has no cost yet.
select
    event_id,
    organization_id,
    customer_id,
    event_name,
    metric_name,
    try_cast(quantity_text as decimal(18, 6)) as event_value,
    event_string,
    cast(json(metadata_text) as varchar) as properties,
    coalesce(try_cast(try_cast(timestamp_text as timestamptz) as timestamp), received_at)
        as event_at,
    cast(null as decimal(38, 18)) as cost_usd
from unbuilt_raw
where customer_id is not null
