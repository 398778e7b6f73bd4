"""One small warehouse per test session, built the way users build it: generate → build."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from api.metrics.schemas import MetricCreate
from api.metrics.service import create_metric
from core.control_store import engine_for
from core.metric_sandbox import SandboxLimits
from core.settings import Settings
from orchestration.build import BuildSummary, run_build
from orchestration.lib.generator import generate_events

PINNED_NOW = "2026-11-24T12:00:00Z"
FIXTURE_EVENTS = 6_000
# the spec's examples ask for end user user_123 in January 2026
SPEC_EXAMPLE_EVENT = {
    "eventType": "llm_call",
    "metricName": "tokens",
    "quantity": 1500,
    "idempotencyKey": "evt_unique_key_123",
    "timestamp": "2026-01-13T10:35:00Z",
    "userId": "user_123",
    "metadata": {"model": "gpt-4o", "provider": "openai", "feature": "chat"},
}
# Indexed metrics that exist before the fixture build, so it pre-computes their values.
FIXTURE_METRICS = {
    "Unique devices": "SELECT COUNT(DISTINCT event_string) AS value FROM filtered_events "
    "WHERE event_name = 'user-login'",
    "EU pages": "select sum(event_value) from filtered_events "
    "where event_name = 'document_processed' and properties->>'region' = 'eu'",
    "Average request tokens": "with requests as (select event_value from filtered_events "
    "where event_name = 'llm_call' and metric_name = 'tokens') "
    "select avg(event_value) from requests",
    "Changed after the build": "select count(*) from filtered_events",
    "One row per call": "select event_value from filtered_events where event_name = 'api_call'",
    # instant over no rows, hours over the busiest customer's: the build's trial stops it
    "Runaway": "select count(*) from filtered_events a, filtered_events b, filtered_events c, "
    "filtered_events d where a.event_value + b.event_value + c.event_value + d.event_value > 0",
}
MALFORMED_LINES = [
    "{not json at all",
    '{"eventType": "llm_call", "metricName": "tokens", "quantity": -5, "idempotencyKey": "neg"}',
    '["an", "array"]',
]


# Long soaks run with `./dev test --soak`; by default each test runs at a size that keeps the
# suite short (docs/reliability.md states both sizes).
_SOAK = {"on": False}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        action="store_true",
        default=False,
        help="long soaks: 20 builds under load, 100 fuzz examples per operation and phase, "
        "more property-test examples",
    )


# The longest files first (./dev test turns off xdist's own order, by number of tests): each
# of the two workers takes whole files, so a long file left to the end runs alone while the
# other worker idles. Longest first, by their seconds in a full run.
LONG_FIRST = (
    "tests/warehouse/test_rebuild.py",
    "tests/reliability/test_serving_through_builds.py",
    "tests/warehouse/test_spark.py",
    "tests/api/test_read_your_writes.py",
    "tests/api/test_timezones.py",
    "tests/reliability/test_metric_isolation.py",
    "tests/api/test_dashboard.py",
    "tests/orchestration/test_fresh_home.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def pytest_configure(config: pytest.Config) -> None:
    _SOAK["on"] = config.getoption("--soak")


def sized(default: int, soak: int) -> int:
    """A test's size: `default` in the everyday suite, `soak` with --soak."""
    return soak if _SOAK["on"] else default


def use_home(home: Path) -> Settings:
    """Point every component at `home`, with the pinned clock."""
    os.environ["TALLYHOUSE_HOME"] = str(home)
    os.environ["TALLYHOUSE_NOW"] = PINNED_NOW
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ["TALLYHOUSE_METRIC_QUERY_SECONDS"] = "1"
    # a runaway indexed metric costs the build this long before it is skipped
    os.environ["TALLYHOUSE_METRIC_BUILD_SECONDS"] = "3"
    return Settings()


_PRISTINE: dict[str, Path] = {}


@pytest.fixture(scope="session")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, BuildSummary]]:
    home = tmp_path_factory.mktemp("tallyhouse")
    settings = use_home(home)
    generate_events(
        settings.landing_dir,
        events=FIXTURE_EVENTS,
        days=60,
        orgs=3,
        seed=7,
        now=settings.clock(),
        file_format="jsonl",
    )
    (settings.landing_dir / "acme" / "hand-written.jsonl").write_text(
        "\n".join(MALFORMED_LINES) + "\n"
    )
    spec_example = settings.landing_dir / "acme" / "spec-example.jsonl"
    spec_example.write_text(json.dumps(SPEC_EXAMPLE_EVENT) + "\n")
    store = engine_for(settings.control_store_url)
    for name, sql in FIXTURE_METRICS.items():
        body = MetricCreate(name=name, queryType="indexed", sqlDefinition=sql)
        # validated as the API would, except the trial: the build's export runs that
        create_metric(store, "acme", body, settings.clock(), SandboxLimits(seconds=1))
    summary = run_build(settings)
    assert summary.success, "the fixture build failed"
    # the home as its build left it, before any test writes to the session's home: each copy
    # for a test that builds again starts from here, with nothing new since that build
    _PRISTINE["home"] = tmp_path_factory.mktemp("pristine") / "home"
    shutil.copytree(settings.root, _PRISTINE["home"], symlinks=True)
    yield settings, summary


@pytest.fixture(scope="session")
def pristine_home(built_home) -> Path:
    """The built home as the fixture build left it (a copy made right after it)."""
    return _PRISTINE["home"]


@pytest.fixture(scope="session")
def snapshot(built_home) -> Iterator[duckdb.DuckDBPyConnection]:
    settings, _ = built_home
    with duckdb.connect(str(settings.current_snapshot), read_only=True) as con:
        yield con


@pytest.fixture
def home_copy(built_home, pristine_home: Path, tmp_path: Path) -> Iterator[Settings]:
    """A private copy of the built home as its build left it, for tests that build again: a
    home moved whole has nothing new, so its next build has only what the test adds."""
    settings, _ = built_home
    target = tmp_path / "home"
    shutil.copytree(pristine_home, target, symlinks=True)
    yield use_home(target)
    use_home(settings.root)


@pytest.fixture(scope="module")
def home_copy_module(
    built_home, pristine_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """A copy of the built home shared by one module's tests (they may write to it)."""
    settings, _ = built_home
    target = tmp_path_factory.mktemp("home") / "home"
    shutil.copytree(pristine_home, target, symlinks=True)
    yield use_home(target)
    use_home(settings.root)
