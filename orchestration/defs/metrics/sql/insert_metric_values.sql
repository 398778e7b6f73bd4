-- One metric's evaluated slices ($1 organization, $2 metric, $3 version, $4 as_of) joined
-- back to what each slice is; the values come from the sandbox as `evaluated`.
insert into marts.fct_metric_values (
    metric_value_id, organization_id, metric_id, definition_version, customer_id, slice_key,
    slice_type, relative_days, slice_start, slice_end, result_rows, metric_value, as_of
)
select
    md5(concat_ws('|', $1, $2, slices.customer_id, slices.slice_key)) as metric_value_id,
    $1 as organization_id,
    $2 as metric_id,
    $3 as definition_version,
    slices.customer_id,
    slices.slice_key,
    slices.slice_type,
    slices.relative_days,
    slices.slice_start,
    slices.slice_end,
    evaluated.result_rows,
    evaluated.metric_value,
    $4 as as_of
from evaluated
inner join slices on evaluated.slice_id = slices.slice_id
