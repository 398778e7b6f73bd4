import json

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from orchestration.defs.resources import TallyhouseResource, dbt_vars
from orchestration.lib.dbt_manifest import ensure_manifest
from orchestration.lib.dbt_translator import TallyhouseDbtTranslator
from orchestration.settings import DBT_PROJECT_DIR

# the manifest is derived from the project's files: (re)parse when they are newer
ensure_manifest()
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=TallyhouseDbtTranslator())
def tallyhouse_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, tallyhouse: TallyhouseResource
):
    """Seeds, staging views, pricing intermediates and marts; dbt tests become asset checks."""
    variables = dbt_vars(tallyhouse.settings(), tallyhouse.now())
    yield from dbt.cli(["build", "--vars", json.dumps(variables)], context=context).stream()
