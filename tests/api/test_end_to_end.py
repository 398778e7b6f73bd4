"""A real server (uvicorn on a free localhost port) answering every read example of the spec."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api import subprocess_server
from tests.api.conftest import auth, wait_for_snapshot

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "spec" / "000_db286921f608a542.txt"
SPEC_HOST = "https://api.bearlumen.com"
# the same examples, for a checkout without the spec beside it (kept equal by a test below)
SPEC_EXAMPLES = Path(__file__).with_name("spec_read_examples.json")


def read_examples() -> list[tuple[str, dict | None]]:
    """(path and query, example response or None) for every GET example in the spec."""
    if not SPEC.exists():
        return [(e["path"], e["exampleResponse"]) for e in json.loads(SPEC_EXAMPLES.read_text())]
    text = SPEC.read_text()
    blocks = re.split(r"(?=\ncurl )", text)
    examples = []
    for block in blocks[1:]:
        command = block.split("\n\n")[0]
        if "-X POST" in command:
            continue
        url = re.search(r'curl "?(https://api\.bearlumen\.com[^"\s]+)', command).group(1)
        response = None
        if "View Response" in block:
            start = block.index("{", block.index("View Response"))
            response, _ = json.JSONDecoder().raw_decode(block[start:])
        examples.append((url.removeprefix(SPEC_HOST), response))
    return examples


@pytest.fixture(scope="module")
def server(built_home) -> Iterator[str]:
    settings, _ = built_home
    env = {**os.environ, "TALLYHOUSE_HOME": str(settings.root), "TALLYHOUSE_RATE_LIMIT": "0"}
    with subprocess_server.running(env) as base:
        yield base


# documented: no percentage of a zero previous period (docs/api.md)
NULLABLE = {"changePercent"}


def _same_shape(actual, example) -> None:
    """Every field of the example is there, with a value of the same JSON type."""
    if isinstance(example, dict):
        assert isinstance(actual, dict) and set(example) <= set(actual), (example, actual)
        for key, value in example.items():
            if not (key in NULLABLE and actual[key] is None):
                _same_shape(actual[key], value)
    elif isinstance(example, list):
        assert isinstance(actual, list)
        for item in actual:
            _same_shape(item, example[0])
    elif isinstance(example, bool):
        assert isinstance(actual, bool)
    elif isinstance(example, int | float):
        assert isinstance(actual, int | float) and not isinstance(actual, bool), (actual, example)
    else:
        assert isinstance(actual, type(example)), (actual, example)


@pytest.mark.skipif(not SPEC.exists(), reason="the spec is not beside this checkout")
def test_the_committed_examples_match_the_spec():
    committed = [(e["path"], e["exampleResponse"]) for e in json.loads(SPEC_EXAMPLES.read_text())]
    assert committed == read_examples()


def test_the_spec_has_read_examples():
    paths = [path for path, _ in read_examples()]
    assert "/v1/ping" in paths and "/v1/cost-data/summary?time_window=current-period" in paths
    assert len(paths) == 7


@pytest.mark.parametrize("path, example", read_examples(), ids=[p for p, _ in read_examples()])
def test_spec_read_example(server, keys, path, example):
    response = httpx.get(server + path, headers=auth(keys.acme), timeout=10)
    assert response.status_code == 200, response.text
    assert re.match(r"^[A-Z]+-[A-Z]+-[A-Za-z0-9]{6}$", response.headers["X-Correlation-ID"])
    if example is not None:
        _same_shape(response.json(), example)


def test_spec_example_values_for_user_123(server, keys):
    # the fixture's one spec-example event: 1,500 unsplit gpt-4o tokens on 2026-01-13, priced as
    # input at $2.50 per million = $0.00375 → 0.00 to the cent; previous 31 days: nothing
    response = httpx.get(
        f"{server}/v1/end-user-costs/user_123/by-model?start_date=2026-01-01&end_date=2026-01-31",
        headers=auth(keys.acme),
    )
    assert response.json()["breakdown"] == [
        {"model": "gpt-4o", "totalCost": 0.0, "eventCount": 1, "percentOfTotal": 100.0}
    ]


def test_a_publish_is_picked_up_without_a_restart(server, keys, built_home):
    settings, _ = built_home
    before = httpx.get(f"{server}/v1/cost-data/summary", headers=auth(keys.acme))
    target = os.path.realpath(settings.current_snapshot)
    republished = Path(target).with_name("v999999-republished.duckdb")
    republished.write_bytes(Path(target).read_bytes())
    link = settings.current_snapshot.with_name("current.next")
    link.symlink_to(os.path.relpath(republished, link.parent))
    os.replace(link, settings.current_snapshot)
    try:
        wait_for_snapshot(server, keys.acme, "v999999-republished")
        after = httpx.get(f"{server}/v1/cost-data/summary", headers=auth(keys.acme))
        assert (before.status_code, after.status_code) == (200, 200)
        assert before.headers["X-Snapshot-Version"] == Path(target).stem
        assert after.headers["X-Snapshot-Version"] == "v999999-republished"
        assert after.json() == before.json()
    finally:
        link = settings.current_snapshot.with_name("current.next")
        link.symlink_to(os.path.relpath(target, link.parent))
        os.replace(link, settings.current_snapshot)
        republished.unlink()
