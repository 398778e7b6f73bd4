-- The floor: one hand-written DuckDB query from the landing files to the daily cost mart
-- (the view floor_event_costs, event_costs.sql, is expanded into it).
create or replace table floor_daily_costs as
select
    cast(event_at as date) as cost_date,
    organization_id,
    end_user_id,
    count(*) as event_count,
    sum(cost_usd) as cost_usd
from floor_event_costs
group by all;
