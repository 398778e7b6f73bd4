"""A fresh home builds: with nothing at all, and with events that came only through the API."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
from fastapi.testclient import TestClient

from api.keys.service import create_key
from api.main import create_app
from core.control_store import engine_for
from core.settings import Settings
from tests.conftest import PINNED_NOW
from tests.expected import price

TALLYHOUSE = Path(sys.executable).parent / "tallyhouse"


def _build(home: Path) -> tuple[int, str]:
    """The exit code, and what the build printed (its summary unwrapped)."""
    env = {**os.environ, "TALLYHOUSE_HOME": str(home), "TALLYHOUSE_NOW": PINNED_NOW}
    done = subprocess.run(
        [str(TALLYHOUSE), "build"], capture_output=True, text=True, env=env, timeout=600
    )
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def test_a_build_in_an_empty_home_says_there_was_nothing_to_build(tmp_path):
    home = tmp_path / "home"
    code, said = _build(home)
    assert code == 0, said[-3000:]
    assert "0 events ingested" in said and "total cost $0.00" in said
    assert "nothing to build yet" in said
    with duckdb.connect(str(home / "serving" / "current.duckdb"), read_only=True) as snapshot:
        assert snapshot.execute("select count(*) from fct_usage_costs").fetchall() == [(0,)]


def test_a_first_build_of_events_sent_only_through_the_api(tmp_path):
    settings = Settings(home=tmp_path / "home")  # the session's clock, pinned
    key = create_key(
        engine_for(settings.control_store_url), "acme", ["usage:write"], "test", settings.clock()
    )[1]
    body = {
        "eventType": "llm_call",
        "metricName": "input_tokens",
        "quantity": 1_000_000,
        "idempotencyKey": "first",
        "timestamp": "2026-11-24T11:00:00Z",
        "userId": "user_1",
        "metadata": {"model": "gpt-4o", "provider": "openai"},
    }
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/v1/usage/events", json=body, headers={"Authorization": f"Bearer {key}"}
        )
    assert response.status_code == 201, response.text
    code, said = _build(settings.root)
    assert code == 0, said[-3000:]
    expected = price(body).cost_usd  # genai-prices' own calculation
    assert expected == Decimal("2.5")
    assert "1 events ingested" in said and "total cost $2.50" in said
    with duckdb.connect(str(settings.current_snapshot), read_only=True) as snapshot:
        costs = snapshot.execute("select cost_usd from fct_usage_costs").fetchall()
    assert costs == [(expected,)]
