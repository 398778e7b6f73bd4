"""Turn the genai-prices catalogue into the warehouse's price seeds.

Nothing here is typed by hand: every row comes from the bundled catalogue of the pinned
genai-prices release, flattened into tables that SQL can join on:

- ``providers.csv``: one row per provider, in the catalogue's search order.
- ``provider_fallbacks.csv``: which providers lend their models to another (Azure → OpenAI).
- ``model_match_rules.csv``: the catalogue's match logic (equals / starts_with / ends_with /
  contains / regex, nested and/or) in disjunctive normal form: a name matches a model when
  every clause of one of its rule groups matches.
- ``model_prices.csv``: one row per model × price set × usage type × long-context tier, with
  the constraint that makes the price set active (a start date or a UTC time-of-day window).
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from pathlib import Path

from genai_prices import types as gp
from genai_prices.data import providers as catalogue

# Our usage types, and the catalogue's price keys that price them, most specific first.
# A usage type without its own price falls back the way the catalogue prices leaf units:
# cache tokens at the input price, reasoning tokens at the output price.
USAGE_PRICE_KEYS: dict[str, tuple[str, ...]] = {
    "input": ("input_mtok",),
    "output": ("output_mtok",),
    "cache_read": ("cache_read_mtok", "input_mtok"),
    "cache_write": ("cache_write_mtok", "input_mtok"),
    "reasoning": ("output_reasoning_mtok", "output_mtok"),
}
PER_UNIT = Decimal(1_000_000)
UNIT_SCALE = Decimal("1e-18")  # usd_per_unit is DECIMAL(20,18) in the warehouse


@dataclass(frozen=True)
class PriceRow:
    price_id: str
    price_set_id: str
    provider_id: str
    model_id: str
    price_set_index: int
    constraint_type: str
    effective_from: str
    effective_to: str
    window_start_utc: str
    window_end_utc: str
    usage_type: str
    catalogue_price_key: str
    tier_start_input_tokens: int
    usd_per_million: Decimal
    usd_per_unit: Decimal


def _dnf(logic: object) -> list[list[tuple[str, str]]]:
    """Rule groups (OR of ANDs) equivalent to one catalogue match clause."""
    if isinstance(logic, gp.ClauseOr):
        return [group for clause in logic.or_ for group in _dnf(clause)]
    if isinstance(logic, gp.ClauseAnd):
        parts = [_dnf(clause) for clause in logic.and_]
        return [sum(combo, []) for combo in itertools.product(*parts)]
    for attr in ("equals", "starts_with", "ends_with", "contains"):
        if isinstance(value := getattr(logic, attr, None), str):
            return [[(attr, value.lower())]]
    if isinstance(logic, gp.ClauseRegex):
        # matched against the lower-cased name, like the catalogue
        return [_regex_clauses(logic.regex)]
    raise TypeError(f"unknown match clause {logic!r}")


def _regex_clauses(regex: str) -> list[tuple[str, str]]:
    """A regex as clauses SQL engines run: leading negative lookaheads ``^(?!A)R`` (which
    RE2, DuckDB's engine, lacks) become ``not_regex ^(?:A)`` and ``regex ^R``."""
    clauses: list[tuple[str, str]] = []
    rest = regex
    while rest.startswith("^(?!"):
        depth, end = 0, None
        for position, char in enumerate(rest[1:], start=1):
            if char == "\\":
                continue
            depth += (char == "(") - (char == ")")
            if depth == 0:
                end = position
                break
        if end is None or rest[end - 1] == "\\":
            raise ValueError(f"cannot translate regex {regex!r}")
        clauses.append(("not_regex", "^(?:" + rest[4:end] + ")"))
        rest = "^" + rest[end + 1 :]
    if "(?!" in rest or "(?=" in rest or "(?<" in rest:
        raise ValueError(f"regex {regex!r} uses lookaround that SQL engines lack")
    if rest != "^" or not clauses:
        clauses.append(("regex", rest))
    return clauses


def _utc_time(value: time) -> str:
    return (
        gp._utc_timetz(value).strftime("%H:%M:%S") if value.tzinfo else value.strftime("%H:%M:%S")
    )


def _price_sets(model: gp.ModelInfo) -> list[gp.ConditionalPrice]:
    if isinstance(model.prices, gp.ModelPrice):
        return [gp.ConditionalPrice(constraint=None, prices=model.prices)]
    return list(model.prices)


def _tiers(price: Decimal | gp.TieredPrices) -> list[tuple[int, Decimal]]:
    if isinstance(price, gp.TieredPrices):
        return [(0, price.base), *((tier.start, tier.price) for tier in price.tiers)]
    return [(0, price)]


def _price_rows(provider: gp.Provider, model: gp.ModelInfo) -> Iterator[PriceRow]:
    sets = _price_sets(model)
    start_dates = [
        (i, c.constraint.start_date)
        for i, c in enumerate(sets)
        if isinstance(c.constraint, gp.StartDateConstraint)
    ]
    for index, conditional in enumerate(sets):
        constraint = conditional.constraint
        effective_from = effective_to = window_start = window_end = ""
        constraint_type = "none"
        if isinstance(constraint, gp.StartDateConstraint):
            constraint_type = "start_date"
            effective_from = constraint.start_date.isoformat()
            later = [d for i, d in start_dates if i > index and d > constraint.start_date]
            effective_to = min(later).isoformat() if later else ""
        elif isinstance(constraint, gp.TimeOfDateConstraint):
            constraint_type = "time_of_day"
            window_start = _utc_time(constraint.start_time)
            window_end = _utc_time(constraint.end_time)
        elif index == 0 and start_dates:
            # the unconstrained first set is in force until the first dated set starts
            effective_to = min(d for _, d in start_dates).isoformat()
        price_set_id = f"{provider.id}:{model.id}:{index}"
        for usage_type, keys in USAGE_PRICE_KEYS.items():
            found = next(
                ((k, v) for k in keys if (v := getattr(conditional.prices, k, None)) is not None),
                None,
            )
            if found is None:
                continue
            key, price = found
            for tier_start, per_million in _tiers(price):
                # A few catalogue prices carry float artifacts (0.18000000000000002 per
                # million); 18 decimals per unit keep any realistic event exact to 1e-12 USD.
                per_unit = (per_million / PER_UNIT).quantize(UNIT_SCALE)
                yield PriceRow(
                    price_id=f"{price_set_id}:{usage_type}:{tier_start}",
                    price_set_id=price_set_id,
                    provider_id=provider.id,
                    model_id=model.id,
                    price_set_index=index,
                    constraint_type=constraint_type,
                    effective_from=effective_from,
                    effective_to=effective_to,
                    window_start_utc=window_start,
                    window_end_utc=window_end,
                    usage_type=usage_type,
                    catalogue_price_key=key,
                    tier_start_input_tokens=tier_start,
                    usd_per_million=per_million,
                    usd_per_unit=per_unit.normalize(),
                )


def _write(path: Path, header: list[str], rows: Iterator[list[object]]) -> int:
    count = 0
    with path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(
                ["" if v is None else (f"{v:f}" if isinstance(v, Decimal) else v) for v in row]
            )
            count += 1
    return count


def _provider_rows() -> Iterator[list[object]]:
    for order, provider in enumerate(catalogue):
        yield [provider.id, provider.name, order]


def _fallback_rows() -> Iterator[list[object]]:
    for provider in catalogue:
        for rank, fallback in enumerate(provider.fallback_model_providers or [], start=1):
            yield [provider.id, rank, fallback]


def _rule_rows() -> Iterator[list[object]]:
    for order, provider in enumerate(catalogue):
        groups: list[tuple[str, str, int, list[list[tuple[str, str]]]]] = [
            ("provider_id", "", 0, [[("equals", provider.id)]]),
        ]
        if provider.provider_match is not None:
            groups.append(("provider_alias", "", order, _dnf(provider.provider_match)))
        if provider.model_match is not None:
            groups.append(("provider_model", "", order, _dnf(provider.model_match)))
        for model_order, model in enumerate(provider.models):
            groups.append(("model", model.id, model_order, _dnf(model.match)))
        for subject, model_id, match_order, dnf in groups:
            for group_index, group in enumerate(dnf):
                for clause_index, (clause_type, value) in enumerate(group):
                    yield [
                        subject,
                        provider.id,
                        model_id,
                        match_order,
                        group_index,
                        clause_index,
                        len(group),
                        clause_type,
                        value,
                    ]


def _model_price_rows() -> Iterator[list[object]]:
    for provider in catalogue:
        for model in provider.models:
            for row in _price_rows(provider, model):
                yield list(row.__dict__.values())


def write_seeds(seeds_dir: Path) -> dict[str, int]:
    """Regenerate every price seed file; returns the row count of each."""
    seeds_dir.mkdir(parents=True, exist_ok=True)
    return {
        "providers": _write(
            seeds_dir / "providers.csv",
            ["provider_id", "provider_name", "provider_order"],
            _provider_rows(),
        ),
        "provider_fallbacks": _write(
            seeds_dir / "provider_fallbacks.csv",
            ["provider_id", "fallback_rank", "fallback_provider_id"],
            _fallback_rows(),
        ),
        "model_match_rules": _write(
            seeds_dir / "model_match_rules.csv",
            [
                "subject",
                "provider_id",
                "model_id",
                "match_order",
                "rule_group",
                "clause_index",
                "group_size",
                "clause_type",
                "clause_value",
            ],
            _rule_rows(),
        ),
        "model_prices": _write(
            seeds_dir / "model_prices.csv", list(PriceRow.__dataclass_fields__), _model_price_rows()
        ),
    }
