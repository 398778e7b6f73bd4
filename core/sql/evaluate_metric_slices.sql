-- One metric's SQL over every slice at once: `filtered_events` is bound to each slice's
-- events (one customer, from slice_start, before slice_end; null bounds are open) by a
-- correlated CTE. The metric's SQL, validated and re-rendered (core/metric_sql.py),
-- takes the place of the one parameter before it runs, in the sandbox only.
select
    metric_slices.slice_id,
    evaluation.result_rows,
    evaluation.metric_value
from metric_slices
cross join lateral (
    -- read by the metric's SQL, below
    with filtered_events as (  -- noqa: ST03
        select
            metric_events.event_id,
            metric_events.customer_id,
            metric_events.event_name,
            metric_events.metric_name,
            metric_events.event_value,
            metric_events.event_string,
            metric_events.properties,
            metric_events.timestamp,
            metric_events.cost_usd
        from metric_events
        where
            metric_events.customer_id = metric_slices.customer_id
            and (
                metric_slices.slice_start is null
                or metric_events.timestamp >= metric_slices.slice_start
            )
            and (
                metric_slices.slice_end is null
                or metric_events.timestamp < metric_slices.slice_end
            )
    )

    select
        count(*) as result_rows,
        any_value(metric_result.metric_value) as metric_value
    from ($metric_sql) as metric_result (metric_value)
) as evaluation
