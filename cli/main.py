"""The `tallyhouse` command line: generate demo data, build the warehouse, manage prices."""

from __future__ import annotations

import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from core.settings import SEEDS_DIR, get_settings

app = typer.Typer(help="Tallyhouse: usage and LLM-cost analytics warehouse.", no_args_is_help=True)
prices_app = typer.Typer(help="The model-price seed.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
store_app = typer.Typer(help="The control store (keys, metric definitions, API inbox).")
orgs_app = typer.Typer(help="Organizations' settings: their time zones.", no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")
app.add_typer(store_app, name="store")
# soft_wrap: long commands and keys stay on one line, ready to copy
console = Console(stderr=True, soft_wrap=True)


@app.command()
def generate(
    events: Annotated[int, typer.Option(help="Events to write, duplicates included.")] = 100_000,
    days: Annotated[int, typer.Option(help="Days of history, ending now.")] = 60,
    orgs: Annotated[int, typer.Option(help="Organizations.")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same events.")] = 42,
    file_format: Annotated[str, typer.Option("--format", help="auto, jsonl or parquet.")] = "auto",
) -> None:
    """Write realistic synthetic events into $TALLYHOUSE_HOME/landing/<organization>/."""
    from orchestration.lib.generator import generate_events

    settings = get_settings()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating events", total=events)
        result = generate_events(
            settings.landing_dir,
            events=events,
            days=days,
            orgs=orgs,
            seed=seed,
            now=settings.clock(),
            file_format=file_format,
            progress=lambda n: progress.advance(task, n),
        )
    console.print(
        f"wrote {result.events:,} events ({result.duplicates:,} retried duplicates) "
        f"in {len(result.files)} files under {settings.landing_dir}"
    )


@app.command()
def build(
    engine: Annotated[
        str | None,
        typer.Option(help="duckdb (embedded, the default) or spark: where dbt builds the marts."),
    ] = None,
    full_refresh: Annotated[
        bool,
        typer.Option(help="Rebuild the event facts from scratch (reprices history)."),
    ] = False,
    always_run: Annotated[
        bool,
        typer.Option(
            help="Start a Dagster run even when nothing changed since the last build (which "
            "otherwise says so and starts none)."
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Say whether a build would start a run, why, and what it would do; build nothing.",
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            help="Print Dagster's whole event log and dbt's output here, instead of a line per "
            "step (and the log in $TALLYHOUSE_HOME/logs/).",
        ),
    ] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Stay running: build now, then whenever landing files, the API inbox or "
            "anything else a build reads changes (docs/operations.md#the-long-lived-builder).",
        ),
    ] = False,
    debounce: Annotated[
        float,
        typer.Option(help="With --watch: seconds a change must hold still before a build."),
    ] = 1.0,
) -> None:
    """Ingest new landing data, build the marts with dbt, publish a serving snapshot."""
    if engine is not None:
        if engine not in ("duckdb", "spark"):
            raise typer.BadParameter("engine must be duckdb or spark")
        os.environ["TALLYHOUSE_ENGINE"] = engine  # the one settings object reads it
    if full_refresh:
        os.environ["TALLYHOUSE_FULL_REFRESH"] = "true"
    if dry_run:
        _plan(always_run)
        return
    if watch:
        _watch(verbose=verbose, debounce=debounce)
        return
    summary = _build(skip_unchanged=not always_run, verbose=verbose)
    if not summary.success:
        raise typer.Exit(code=1)


def _plan(always_run: bool) -> None:
    from orchestration.lib.build_plan import plan_next_build

    plan = plan_next_build(get_settings())
    if not plan.runs and always_run:
        plan.runs, plan.work = True, ["a run, though nothing changed (--always-run)"]
    console.print("the next build " + ("starts a run" if plan.runs else "starts no run") + ":")
    for reason in plan.reasons:
        console.print(f"  because {reason}")
    for step in plan.work:
        console.print(f"  - {step}")


def _usd(amount: str | None) -> str:
    return "0.00" if amount is None else f"{Decimal(amount):,.2f}"


def _watch(*, verbose: bool, debounce: float) -> None:
    """Build now and whenever the sources change, until SIGTERM or Ctrl-C. SIGTERM lets a build
    under way finish first: each build runs in a thread of its own, where Dagster leaves the
    process's signal handlers alone (in the main thread its run maps SIGTERM to an interrupt).
    Ctrl-C, or a kill, cuts a build short, crash-safe as any build is."""
    import signal
    import threading

    from orchestration.watch import WatchTiming, watch

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    settings = get_settings()
    timing = WatchTiming(debounce=debounce)

    def waiting() -> None:
        console.print(
            f"watching {settings.landing_dir}, the API inbox and the build's other sources: "
            f"a build when they change (still for {timing.debounce:g} s, or changing for "
            f"{timing.max_delay:g} s)"
        )

    def build(current) -> None:
        thread = threading.Thread(
            target=_build, kwargs={"verbose": verbose, "settings": current}, daemon=True
        )
        thread.start()
        while thread.is_alive():  # the main thread stays free to take signals
            thread.join(0.2)

    try:
        builds = watch(get_settings, build, timing=timing, stop=stop, on_wait=waiting)
    except KeyboardInterrupt:
        console.print("stopped")
        raise typer.Exit(code=130) from None
    console.print(f"stopped after {builds} builds")


def _build(*, skip_unchanged: bool = True, verbose: bool = False, settings=None):
    from orchestration.build import run_build
    from orchestration.lib.progress import listening

    settings = settings or get_settings()
    console.print(
        f"building the warehouse in {settings.root} (Dagster run view: dagster dev -w workspace.yaml)"
    )
    log_file = None
    if not verbose:
        stamp = settings.clock().strftime("%Y%m%dT%H%M%SZ")
        log_file = settings.root / "logs" / f"build-{stamp}.log"
    running: dict[str, float] = {}

    with console.status("starting the build") as status:

        def show(event: str, step: str, seconds: float | None) -> None:
            if event == "start":
                running[step] = time.monotonic()
            else:
                started = running.pop(step, time.monotonic())
                took = seconds if seconds is not None else time.monotonic() - started
                mark = "[green]done[/green]" if event == "done" else "[red]failed[/red]"
                console.print(f"  {step:<44} {mark} {took:6.1f} s")
            status.update(f"running {', '.join(running) or '…'}")

        started = time.monotonic()
        with listening(show):
            summary = run_build(settings, skip_unchanged=skip_unchanged, log_file=log_file)
        took = time.monotonic() - started
    if log_file is not None and log_file.exists():
        console.print(f"full log (Dagster's events, dbt's output): {log_file}")
    if summary.run_skipped:
        console.print(
            f"nothing new since build {summary.run_id[:8]} (landing files, API inbox, metric "
            "definitions, models, prices, settings and date unchanged): no run started; "
            f"{summary.files_skipped} files already ingested, {summary.events_total:,} events "
            f"in the warehouse, total cost ${_usd(summary.cost_usd_total)}; serving snapshot "
            f"{summary.snapshot_version}"
        )
        return summary
    status = "[green]succeeded[/green]" if summary.success else "[red]failed[/red]"
    console.print(
        f"build {summary.run_id[:8]} {status} in {took:.1f} s: {summary.files_ingested} new files "
        f"({summary.files_skipped} already ingested), {summary.events_ingested:,} events ingested, "
        f"{summary.events_rejected:,} rejected, {summary.duplicates:,} duplicates; "
        f"{summary.events_total:,} events in the warehouse, total cost ${_usd(summary.cost_usd_total)}"
    )
    if summary.success and summary.events_total == 0:
        console.print(
            f"nothing to build yet: no events in {settings.landing_dir} and none recorded "
            "through the API; the snapshot served is empty"
        )
    if summary.published:
        console.print(f"snapshot {summary.snapshot_version}: {settings.current_snapshot}")
        failed = sorted(name for name, (passed, _) in summary.checks.items() if not passed)
        console.print(
            f"data checks: {len(summary.checks) - len(failed)} of {len(summary.checks)} passed"
            + (f"; [yellow]not passed: {', '.join(failed)}[/yellow]" if failed else "")
        )
    elif summary.success and summary.snapshot_path:
        console.print(
            f"nothing new since snapshot {summary.snapshot_version}: models and publish skipped"
        )
    return summary


@app.command()
def demo(
    events: Annotated[int, typer.Option(help="Demo events.")] = 120_000,
    days: Annotated[int, typer.Option(help="Days of history.")] = 60,
    host: Annotated[str, typer.Option(help="Interface to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Build only, do not serve.")] = False,
) -> None:
    """Generate demo data (once), build the warehouse, create a demo key, print a curl, serve."""
    settings = get_settings()
    if not any(settings.landing_dir.glob("*/*")):
        generate(events=events, days=days, orgs=3, seed=42, file_format="auto")
    summary = _build()
    if not summary.success:
        raise typer.Exit(code=1)
    duckdb_shell = Path(sys.executable).parent / "duckdb"
    console.print(
        "query the marts:\n"
        f"  {duckdb_shell} -readonly {settings.current_snapshot} -c "
        '"select model, round(sum(cost_usd), 2) as cost_usd from fct_daily_costs group by 1 order by 2 desc"'
    )
    if no_serve:
        return
    from api.keys.service import SCOPES, create_key
    from core.control_store import engine_for

    _, plaintext = create_key(
        engine_for(settings.control_store_url), "acme", list(SCOPES), "test", settings.clock()
    )
    console.print(
        "demo key for organization acme (all scopes):\n"
        f"  export TALLYHOUSE_KEY={plaintext}\n"
        f'  curl "http://{host}:{port}/v1/cost-data/summary?time_window=current-period" '
        '-H "Authorization: Bearer $TALLYHOUSE_KEY"\n'
        f"dashboard: http://{host}:{port}/dashboard (sign in with the key above)"
    )
    serve(host=host, port=port)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the REST API and the dashboard (/dashboard) on the current snapshot (switches to
    new snapshots by itself)."""
    from api.serve import serve as serve_api

    serve_api(host, port, workers)


@keys_app.command("create")
def keys_create(
    org: Annotated[str, typer.Option(help="Organization id (letters, digits, _ and -).")],
    scopes: Annotated[
        str,
        typer.Option(help="Comma-separated: usage:write,costs:read,metrics:read,metrics:write."),
    ],
    env: Annotated[str, typer.Option(help="test or live.")] = "test",
) -> None:
    """Create a key; the key alone is printed on stdout, once."""
    from api.keys.service import create_key
    from core.control_store import engine_for

    settings = get_settings()
    try:
        key, plaintext = create_key(
            engine_for(settings.control_store_url),
            org,
            [s.strip() for s in scopes.split(",") if s.strip()],
            env,
            settings.clock(),
        )
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=2) from None
    console.print(
        f"created {key.key_id} ({key.key_prefix}…) for {org}: {','.join(sorted(key.scopes))}"
    )
    print(plaintext)


@keys_app.command("list")
def keys_list() -> None:
    """Every key: prefix, organization, scopes, created, revoked (never a whole key)."""
    from api.keys.service import list_keys
    from core.control_store import engine_for

    for row in list_keys(engine_for(get_settings().control_store_url)):
        revoked = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        print(
            f"{row['key_prefix']}…\t{row['key_id']}\t{row['organization_id']}\t{row['scopes']}\t"
            f"created {row['created_at']}\t{revoked}"
        )


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (sk_test_abcd) or id.")],
) -> None:
    """Revoke a key: it answers 401 from the next request on."""
    from api.keys.service import revoke_key
    from core.control_store import engine_for

    settings = get_settings()
    count = revoke_key(engine_for(settings.control_store_url), prefix, settings.clock())
    if count == 0:
        console.print(f"[red]no active key with prefix or id {prefix}[/red]")
        raise typer.Exit(code=1)
    console.print(f"revoked {count} key(s)")


@orgs_app.command("set")
def orgs_set(
    org: Annotated[str, typer.Argument(help="Organization id.")],
    timezone: Annotated[
        str, typer.Option(help="IANA time zone, e.g. Asia/Kolkata, America/St_Johns, UTC.")
    ],
) -> None:
    """Set an organization's time zone: its days, weeks and months from the next build on."""
    from core.control_store import engine_for
    from core.organizations import set_timezone

    settings = get_settings()
    try:
        set_timezone(engine_for(settings.control_store_url), org, timezone, settings.clock())
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=2) from None
    console.print(
        f"{org}: time zone {timezone}; the next build dates its marts in it "
        "(`tallyhouse build` rebuilds what depends on it)"
    )


@orgs_app.command("list")
def orgs_list() -> None:
    """Every organization with a time zone set (the others are UTC)."""
    from core.control_store import engine_for
    from core.organizations import timezones

    for org, zone in timezones(engine_for(get_settings().control_store_url)).items():
        print(f"{org}\t{zone}")


@prices_app.command("refresh")
def prices_refresh() -> None:
    """Regenerate seeds/ from the pinned genai-prices catalogue (no network)."""
    from core.price_catalogue import write_seeds

    counts = write_seeds(SEEDS_DIR)
    for name, rows in counts.items():
        console.print(f"seeds/{name}.csv: {rows:,} rows")


def main() -> None:
    sys.exit(app())


@store_app.command("upgrade")
def store_upgrade() -> None:
    """Bring the control store to the newest schema (serve, build and keys do it themselves)."""
    from core.control_store import new_engine, upgrade_store

    settings = get_settings()
    engine = new_engine(settings.control_store_url)
    before, after = upgrade_store(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"the control store at {where} is at revision {after}, the newest")
    else:
        console.print(f"upgraded the control store at {where} from {before or 'none'} to {after}")
