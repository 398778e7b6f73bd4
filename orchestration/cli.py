"""The `tallyhouse` command line: generate demo data, build the warehouse, manage prices."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from orchestration.settings import SEEDS_DIR, get_settings

app = typer.Typer(help="Tallyhouse: usage and LLM-cost analytics warehouse.", no_args_is_help=True)
prices_app = typer.Typer(help="The model-price seed.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")
console = Console(stderr=True)


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
def build() -> None:
    """Ingest new landing data, build the marts with dbt, publish a serving snapshot."""
    summary = _build()
    if not summary.success:
        raise typer.Exit(code=1)


def _build():
    from orchestration.build import run_build

    settings = get_settings()
    console.print(
        f"building the warehouse in {settings.root} (Dagster run view: dagster dev -w workspace.yaml)"
    )
    summary = run_build(settings)
    status = "[green]succeeded[/green]" if summary.success else "[red]failed[/red]"
    console.print(
        f"build {summary.run_id[:8]} {status}: {summary.files_ingested} new files "
        f"({summary.files_skipped} already ingested), {summary.events_ingested:,} events ingested, "
        f"{summary.events_rejected:,} rejected, {summary.duplicates:,} duplicates; "
        f"{summary.events_total:,} events in the warehouse, total cost ${summary.cost_usd_total}"
    )
    if summary.snapshot_path:
        console.print(f"snapshot {summary.snapshot_version}: {settings.current_snapshot}")
    return summary


@app.command()
def demo(
    events: Annotated[int, typer.Option(help="Demo events.")] = 120_000,
    days: Annotated[int, typer.Option(help="Days of history.")] = 60,
) -> None:
    """Generate demo data (once) and build the warehouse from it."""
    settings = get_settings()
    if not any(settings.landing_dir.glob("*/*")):
        generate(events=events, days=days, orgs=3, seed=42, file_format="auto")
    summary = _build()
    if not summary.success:
        raise typer.Exit(code=1)
    console.print(
        "query it:\n"
        f'  duckdb {settings.current_snapshot} -c "select model, sum(cost_usd) from '
        'fct_daily_costs group by 1 order by 2 desc"'
    )


@prices_app.command("refresh")
def prices_refresh() -> None:
    """Regenerate seeds/ from the pinned genai-prices catalogue (no network)."""
    from orchestration.lib.price_catalogue import write_seeds

    counts = write_seeds(SEEDS_DIR)
    for name, rows in counts.items():
        console.print(f"seeds/{name}.csv: {rows:,} rows")


def main() -> None:
    sys.exit(app())
