"""The price seed is generated from genai-prices, never typed by hand."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from core.price_catalogue import _regex_clauses, write_seeds
from core.settings import SEEDS_DIR


def test_committed_seeds_are_exactly_what_the_catalogue_generates(tmp_path: Path):
    write_seeds(tmp_path)
    for path in sorted(SEEDS_DIR.glob("*.csv")):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), (
            f"{path.name} is stale: run `tallyhouse prices refresh`"
        )


def _rows(name: str) -> list[dict[str, str]]:
    with (SEEDS_DIR / f"{name}.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_history_tiers_and_time_windows_are_kept():
    prices = _rows("model_prices")
    llama = {
        (r["price_set_index"], r["effective_from"], r["effective_to"], r["usd_per_million"])
        for r in prices
        if r["model_id"] == "meta-llama/llama-3.3-70b-instruct"
        and r["provider_id"] == "openrouter"
        and r["usage_type"] == "input"
    }
    # catalogue: $0.45 from 2026-11-03, $0.59 from 2026-11-09
    assert ("2", "2026-11-03", "2026-11-09", "0.45") in llama
    assert ("3", "2026-11-09", "", "0.59") in llama
    gemini = {
        (r["tier_start_input_tokens"], r["usd_per_million"])
        for r in prices
        if (r["provider_id"], r["model_id"], r["usage_type"])
        == ("google", "gemini-2.5-pro", "input")
    }
    assert gemini == {("0", "1.25"), ("200000", "2.5")}
    deepseek = [
        (r["constraint_type"], r["window_start_utc"], r["window_end_utc"], r["usd_per_million"])
        for r in prices
        if (r["provider_id"], r["model_id"], r["usage_type"])
        == ("deepseek", "deepseek-chat", "input")
    ]
    # catalogue: $0.27 in the 00:30-16:30 UTC window, $0.135 (off-peak) otherwise
    assert deepseek == [("none", "", "", "0.135"), ("time_of_day", "00:30:00", "16:30:00", "0.27")]


def test_usd_per_unit_is_usd_per_million_over_a_million():
    for row in _rows("model_prices")[:2000]:
        per_unit = Decimal(row["usd_per_million"]) / Decimal(1_000_000)
        assert abs(Decimal(row["usd_per_unit"]) - per_unit) <= Decimal("5e-19")


def test_negative_lookaheads_become_not_regex_clauses():
    assert _regex_clauses("^(?!.*-tts(?:$|-))") == [("not_regex", "^(?:.*-tts(?:$|-))")]
    assert _regex_clauses("^(?![^/]+/)(?:labs-)?mistral") == [
        ("not_regex", "^(?:[^/]+/)"),
        ("regex", "^(?:labs-)?mistral"),
    ]
    assert _regex_clauses(r"^gpt-4o-\d{4}$") == [("regex", r"^gpt-4o-\d{4}$")]
