select
    metric_value,
    result_rows,
    slice_start,
    slice_end,
    as_of
from fct_metric_values
where
    organization_id = $org
    and metric_id = $metric_id
    and definition_version = $definition_version
    and customer_id = $customer_id
    and slice_key = $slice_key
