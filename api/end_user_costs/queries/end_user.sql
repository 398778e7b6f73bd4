-- The end user if this organization has ever seen them.
select end_user_key
from dim_end_users
where organization_id = $org and end_user_id = $external_id
