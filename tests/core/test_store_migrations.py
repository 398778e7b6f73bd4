"""The control store changes only through migrations: a store made before they existed (the
committed fixture: the schema and rows of 2026-12-07) is upgraded on SQLite and on a real
PostgreSQL with every key, event and metric intact; processes that start at once take turns."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.keys.service import authenticate
from api.metrics.service import get_metric
from core.control_store import (
    engine_for,
    head_revision,
    landing_events,
    new_engine,
    store_revision,
    upgrade_store,
)
from tests.postgres import postgres_server

FIXTURES = Path(__file__).parents[1] / "fixtures"
FIXTURE_KEY = "sk_test_FixtureKeyOfTheSeventhOfDecember0001"


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


def _load_fixture(engine: sa.Engine, dialect: str) -> None:
    script = (FIXTURES / f"control_store_2026_12_07.{dialect}.sql").read_text()
    text = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    with engine.begin() as con:
        for statement in text.split(";\n"):
            if statement.strip():
                con.exec_driver_sql(statement)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_store_of_before_migrations_is_upgraded_with_everything_in_it(dialect, tmp_path, request):
    url = (
        f"sqlite:///{tmp_path / 'control.db'}"
        if dialect == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = new_engine(url)
    _load_fixture(engine, dialect)
    assert store_revision(engine) is None
    assert upgrade_store(engine) == (None, "0006") and head_revision() == "0006"
    assert store_revision(engine) == "0006"
    indexes = {
        i["name"]: i["column_names"] for i in sa.inspect(engine).get_indexes("landing_events")
    }
    assert indexes["landing_events_org_seq"] == ["organization_id", "seq"]
    key = authenticate(engine, FIXTURE_KEY)
    assert key is not None
    assert (key.key_id, key.organization_id, sorted(key.scopes)) == (
        "key_fixture01",
        "acme",
        ["costs:read", "usage:write"],
    )
    metric = get_metric(engine, "acme", "met_Fixture0000000000000001")
    assert (metric.name, metric.version, metric.sql_definition) == (
        "Calls",
        2,
        "select count(*) from filtered_events",
    )
    assert metric.updated_at == datetime(2026, 12, 2, 10)
    with engine.connect() as con:
        events = con.execute(
            sa.select(landing_events.c.seq, landing_events.c.idempotency_key)
        ).fetchall()
    assert [tuple(row) for row in events] == [(1, "fixture-1")]
    # the newest already: nothing to do, and the store is as it was
    assert upgrade_store(engine) == ("0006", "0006")
    assert authenticate(engine, FIXTURE_KEY) == key
    if dialect == "postgresql":
        with engine.begin() as con:  # the next test of the module finds an empty database
            con.exec_driver_sql(
                "drop table alembic_version, api_keys, landing_events, metric_definitions, "
                "limit_definitions, limit_alerts, webhook_endpoints, webhook_deliveries, "
                "webhook_attempts"
            )
    engine.dispose()


UPGRADE = (
    "import sys; from core.control_store import new_engine, upgrade_store; "
    "print(upgrade_store(new_engine(sys.argv[1])))"
)


def test_processes_that_open_a_new_store_at_once_take_turns(tmp_path):
    url = f"sqlite:///{tmp_path / 'control.db'}"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE, url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],
        )
        for _ in range(4)
    ]
    outcomes = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, outcomes
    said = sorted(out.strip() for out, _ in outcomes)
    # one upgraded the new store; the others found it done (before is read before the lock)
    assert said.count("(None, '0006')") >= 1
    assert set(said) <= {"(None, '0006')", "('0006', '0006')"}
    engine = engine_for(url)
    assert store_revision(engine) == "0006"
    tables = set(sa.inspect(engine).get_table_names())
    assert tables == {
        "alembic_version",
        "api_keys",
        "landing_events",
        "metric_definitions",
        "limit_definitions",
        "limit_alerts",
        "webhook_endpoints",
        "webhook_deliveries",
        "webhook_attempts",
        "organizations",
    }
    with engine.connect() as con:
        versions = con.exec_driver_sql("select version_num from alembic_version").fetchall()
    assert versions == [("0006",)]
