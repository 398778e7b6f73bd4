"""How dbt nodes become Dagster assets: one key per model, the model's folder as its group."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

RAW_EVENTS = dg.AssetKey("raw_usage_events")
RAW_METRIC_DEFINITIONS = dg.AssetKey("metric_definitions")
RAW_TIMEZONES = dg.AssetKey("organization_timezones")


class TallyhouseDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "prices"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "transform"

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey(dbt_resource_props["name"])

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        # dbt's run decides whether anything is new from a fingerprint of every raw input,
        # the exported metric definitions and time zones included: it starts once they are
        # written
        if RAW_EVENTS in {dep.asset_key for dep in spec.deps}:
            return spec.merge_attributes(deps=[RAW_METRIC_DEFINITIONS, RAW_TIMEZONES])
        return spec
