import json
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.asset_utils import get_asset_check_key_for_test

from core.settings import DBT_PROJECT_DIR
from orchestration.defs.resources import TallyhouseResource, dbt_as_of, dbt_vars
from orchestration.lib.build_state import (
    catch_up_bounds,
    code_fingerprint,
    forget_static_models,
    full_refresh_due,
    input_fingerprint,
    published_fingerprint,
    record_static_models,
    record_tested_build,
    record_unit_tests_passed,
    static_models_built,
    static_nodes,
    unit_tests_due,
)
from orchestration.lib.dbt_manifest import ensure_manifest, event_facts
from orchestration.lib.dbt_translator import TallyhouseDbtTranslator
from orchestration.lib.lake import export_raw

INVOCATIONS_KEPT = 10
# what dbt reads when a model runs (dbt_project/macros/incremental.sql)
THROUGH_VARIABLE = "TALLYHOUSE_DBT_THROUGH_INGEST_RUN"
FACTS_CAUGHT_UP_VARIABLE = "TALLYHOUSE_DBT_FACTS_CAUGHT_UP"

# the manifest is derived from the project's files: (re)parse when they are newer
ensure_manifest()
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
translator = TallyhouseDbtTranslator()
# the incremental models with one row per event, which a backlog's catch-up passes build and
# a publish appends to
EVENT_FACTS = event_facts(json.loads(dbt_project.manifest_path.read_text()))


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=translator)
def tallyhouse_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, tallyhouse: TallyhouseResource
):
    """Seeds, staging views, pricing intermediates and marts; dbt tests become asset checks."""
    settings = tallyhouse.settings()
    now = tallyhouse.now()
    with tallyhouse.connect() as warehouse:
        fingerprint = input_fingerprint(warehouse, settings, now)
        full_refresh = full_refresh_due(warehouse, settings)
    if full_refresh and not settings.full_refresh:
        context.log.info(
            "organizations' time zones changed since the served snapshot was built: the marts "
            "are rebuilt from the raw layer, each daily row dated in its organization's zone"
        )
    if not full_refresh and fingerprint == published_fingerprint(settings.current_snapshot):
        # nothing yielded: Dagster marks the models and the publish as skipped
        context.log.info(
            f"nothing new since the serving snapshot was built (inputs {fingerprint[:12]}): "
            "dbt and publish skipped"
        )
        return
    variables = dbt_vars(settings)
    # dbt's subprocess inherits this process's environment: that is how "now" reaches it
    os.environ.update(dbt_as_of(now))
    if settings.engine == "spark":
        with tallyhouse.connect() as warehouse:
            exported = export_raw(warehouse, settings.lake_dir)
        context.log.info(f"exported the raw layer to {settings.lake_dir / 'raw'}: {exported}")
    command = ["build", "--target", settings.engine, "--vars", json.dumps(variables)]
    code = code_fingerprint(settings)
    unit_tests = unit_tests_due(settings, code)
    manifest = json.loads(dbt_project.manifest_path.read_text())
    static = static_nodes(manifest)
    # some unit tests test static models: while they are due, those are built and tested too
    static_built = _static_models_built(
        context, tallyhouse, code, rebuild=unit_tests or full_refresh
    )
    if static_built is not None:  # one value: dagster-dbt's parser takes one per flag
        command += ["--exclude", " ".join(static)]
    caught_up = _catch_up(context, dbt, tallyhouse, command, full_refresh)
    if full_refresh:
        command.append("--full-refresh")
    if not unit_tests:
        command += ["--exclude-resource-type", "unit_test"]
        context.log.info(
            "dbt unit tests skipped: the models, macros, seeds and dbt are as when they last "
            f"passed in this home (code {code[:12]})"
        )
    if caught_up and full_refresh:
        # the facts were rebuilt pass by pass: this pass appends the rest to them
        os.environ[FACTS_CAUGHT_UP_VARIABLE] = "1"
    if static_built is not None:  # before their dependents: Dagster wants them in that order
        yield from _static_models_kept(context, manifest, static, static_built, code)
    try:
        invocation = dbt.cli(
            command, context=context, target_path=_invocation_dir(settings, context, "build")
        )
        yield from invocation.stream()  # raises when a model or a test failed
    finally:
        os.environ.pop(FACTS_CAUGHT_UP_VARIABLE, None)
    _keep_partial_parse(invocation.target_path)
    if unit_tests:
        record_unit_tests_passed(settings, code)
    with tallyhouse.connect() as warehouse:
        # the next builds' event-level tests read only newer rows (dbt_project/macros/tests.sql)
        record_tested_build(warehouse, now)
        # a run of some of the assets (Dagster's UI can select them) may not have built them all
        built_all = set(_static_keys(manifest, static)) <= context.selected_asset_keys
        if static_built is None and settings.engine == "duckdb" and built_all:
            record_static_models(warehouse, code, now)
    _prune_invocations(invocation.target_path, keep=INVOCATIONS_KEPT)


def _static_models_built(
    context: dg.AssetExecutionContext, tallyhouse: TallyhouseResource, code: str, rebuild: bool
) -> datetime | None:
    """When the static models (seeds, and the price models that read only them) in the embedded
    warehouse were built from this code: this build leaves them as they are. None: they are
    rebuilt (other code, `rebuild`, a full refresh, Spark, never built), and forgotten until
    that build succeeds."""
    settings = tallyhouse.settings()
    if settings.engine != "duckdb":
        return None
    with tallyhouse.connect() as warehouse:
        reuse = not rebuild
        built = static_models_built(warehouse, code) if reuse else None
        if built is None:
            forget_static_models(warehouse)
    if built is not None:
        context.log.info(
            f"seeds and static price models left as built at {built:%Y-%m-%d %H:%M:%S} UTC: "
            f"the project's code is the same (code {code[:12]}; docs/operations.md#static-models)"
        )
    return built


def _static_keys(manifest: dict, static: list[str]) -> list[dg.AssetKey]:
    """The asset keys of the static models (`static`, by name, each after its parents)."""
    nodes = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("seed", "model")
    }
    return [translator.get_asset_key(nodes[name]) for name in static]


def _static_models_kept(
    context: dg.AssetExecutionContext,
    manifest: dict,
    static: list[str],
    built: datetime,
    code: str,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """The static models this build left as they are, and their tests, as Dagster's events:
    their tables are those their last build wrote and tested, from the same code."""
    names = set(static)
    metadata = {
        "left_as_built_at": dg.MetadataValue.timestamp(built.replace(tzinfo=UTC)),
        "code_fingerprint": code[:12],
    }
    for key in _static_keys(manifest, static):  # parents first, as Dagster requires
        if key in context.selected_asset_keys:
            yield dg.Output(None, output_name=key.to_python_identifier(), metadata=metadata)
    nodes = manifest["nodes"]
    for unique_id, node in nodes.items():
        if node["resource_type"] != "test":
            continue
        parents = node.get("depends_on", {}).get("nodes", [])
        if not parents or any(nodes.get(p, {}).get("name") not in names for p in parents):
            continue
        check = get_asset_check_key_for_test(manifest, translator, unique_id, None)
        if check is not None and check in context.selected_asset_check_keys:
            yield dg.AssetCheckResult(
                asset_key=check.asset_key, check_name=check.name, passed=True, metadata=metadata
            )


def _catch_up(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    tallyhouse: TallyhouseResource,
    command: list[str],
    full_refresh: bool,
) -> int:
    """Build the event facts (and what they read) through a backlog's slices of ingest runs,
    one dbt pass each, before the build's own pass; returns how many passes ran. Data tests
    wait for the build's own pass, which tests every new row at once."""
    settings = tallyhouse.settings()
    if settings.engine != "duckdb":
        return 0  # Spark's cluster is sized for its data: one pass
    with tallyhouse.connect(read_only=True) as warehouse:
        bounds = catch_up_bounds(
            warehouse, rebuild=full_refresh, slice_events=settings.build_slice_events
        )
    for number, (through, events) in enumerate(bounds, start=1):
        started = time.monotonic()
        context.log.info(
            f"catch-up pass {number} of {len(bounds)}: pricing {events:,} events of ingest runs "
            f"through {through}"
        )
        passed = [*command, "--select", " ".join(f"+{m}" for m in EVENT_FACTS)]
        passed += ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
        if full_refresh and number == 1:
            passed.append("--full-refresh")
        os.environ[THROUGH_VARIABLE] = str(through)
        try:
            invocation = dbt.cli(
                passed,
                manifest=dbt_project.manifest_path,
                # beside the build's own invocations, pruned with them
                target_path=_invocation_dir(settings, context, f"catch-up-{number}"),
            )
            invocation.wait()  # raises when a model failed
        finally:
            os.environ.pop(THROUGH_VARIABLE, None)
        _prune_invocations(invocation.target_path, keep=INVOCATIONS_KEPT)
        context.log.info(
            f"catch-up pass {number} of {len(bounds)} done in {time.monotonic() - started:.1f} s"
        )
    return len(bounds)


def _invocation_dir(settings, context: dg.AssetExecutionContext, name: str) -> Path:
    return settings.dbt_invocations_dir / f"tallyhouse_dbt_models-{context.run.run_id[:7]}-{name}"


def _keep_partial_parse(invocation_target: Path) -> None:
    """dagster-dbt starts each invocation from dbt_project/target/partial_parse.msgpack: keep
    this one's there, so that the next build with the same variables re-parses only what
    changed instead of the whole project (replaced atomically: builds of other homes may be
    reading it)."""
    parsed = invocation_target / "partial_parse.msgpack"
    if not parsed.exists():
        return
    kept = DBT_PROJECT_DIR / "target" / "partial_parse.msgpack"
    staging = kept.with_name(f"partial_parse.{os.getpid()}.tmp")
    shutil.copyfile(parsed, staging)
    os.replace(staging, kept)


def _prune_invocations(current: Path, keep: int) -> None:
    """Each dbt invocation logs to its own folder under the home's dbt/ (dagster-dbt): keep
    the newest few for debugging, not one per build forever."""
    folders = sorted(
        current.parent.glob("tallyhouse_dbt_models-*"), key=lambda p: p.stat().st_mtime
    )
    for old in folders[:-keep]:
        if old != current:
            shutil.rmtree(old, ignore_errors=True)
