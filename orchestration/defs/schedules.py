import dagster as dg

build_warehouse = dg.define_asset_job(
    "build_warehouse",
    selection=dg.AssetSelection.all(),
    description="Ingest new landing data, build the dbt marts, publish a serving snapshot.",
    executor_def=dg.in_process_executor,
)

hourly_build = dg.ScheduleDefinition(
    name="hourly_build",
    job=build_warehouse,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
