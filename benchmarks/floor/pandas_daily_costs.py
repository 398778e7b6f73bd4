"""What a team writes without a warehouse: the daily cost mart in pandas, from the same files.

    python pandas_daily_costs.py LANDING_DIR PRICES_CSV MODEL_MAP_CSV OUT_PARQUET

Same rules as the floor query (first event per key wins, split components, active price set
by start date or UTC time of day, highest long-context tier, caller costs kept), written the
way a pandas script usually is: read everything, json.loads the metadata, merge, group.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd

TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")
SPLIT_KEYS = {f"{t}_tokens": "".join(w.capitalize() if i else w for i, w in enumerate(t.split("_"))) + "Tokens" for t in TYPES}  # fmt: skip


def main(landing: Path, prices_csv: Path, model_map_csv: Path, out: Path) -> None:
    frames = []
    for path in sorted(landing.glob("*/*.parquet")):
        frame = pd.read_parquet(path)
        frame["organization_id"] = path.parent.name
        frames.append(frame)
    events = pd.concat(frames, ignore_index=True)
    events = events.drop_duplicates(["organization_id", "idempotencyKey"], keep="first")
    meta = pd.DataFrame(
        [json.loads(m) if m else {} for m in events["metadata"]], index=events.index
    )
    events["model_ref"] = meta.get("model")
    events["provider_ref"] = meta.get("provider")
    for column, key in SPLIT_KEYS.items():
        events[column] = meta.get(key)
    events["event_at"] = pd.to_datetime(events["timestamp"], utc=True).dt.tz_localize(None)
    events["event_id"] = events["organization_id"] + ":" + events["idempotencyKey"]
    tokens = events[events["costUsd"].isna()]

    split = tokens[tokens["metricName"].str.endswith("_tokens")]
    parts = [pd.DataFrame({"event_id": split["event_id"], "usage_type": split["metricName"].str.replace("_tokens", ""), "quantity": split["quantity"], "tier": pd.NA})]  # fmt: skip
    request = tokens[
        (tokens["metricName"] == "tokens") & tokens[list(SPLIT_KEYS)].notna().any(axis=1)
    ]
    tier = (
        request[["input_tokens", "cache_read_tokens", "cache_write_tokens"]].fillna(0).sum(axis=1)
    )
    for usage_type in TYPES:
        column = f"{usage_type}_tokens"
        rows = request[request[column].notna()]
        parts.append(pd.DataFrame({"event_id": rows["event_id"], "usage_type": usage_type, "quantity": rows[column], "tier": tier[rows.index]}))  # fmt: skip
    unsplit = tokens[
        (tokens["metricName"] == "tokens") & tokens[list(SPLIT_KEYS)].isna().all(axis=1)
    ]
    parts.append(pd.DataFrame({"event_id": unsplit["event_id"], "usage_type": "input", "quantity": unsplit["quantity"], "tier": unsplit["quantity"]}))  # fmt: skip
    components = pd.concat(parts, ignore_index=True)

    prices = pd.read_csv(prices_csv, dtype={"usd_per_unit": str})
    names = pd.read_csv(model_map_csv).dropna(subset=["model_id"])
    resolved = events.merge(names, on=["model_ref", "provider_ref"], how="inner")[["event_id", "event_at", "price_provider_id", "model_id"]]  # fmt: skip
    sets = prices.drop_duplicates(["provider_id", "model_id", "price_set_index"])
    candidates = resolved.merge(sets, left_on=["price_provider_id", "model_id"], right_on=["provider_id", "model_id"])  # fmt: skip
    second = candidates["event_at"].dt.hour * 3600 + candidates["event_at"].dt.minute * 60 + candidates["event_at"].dt.second  # fmt: skip
    start = pd.to_timedelta(candidates["window_start_utc"].fillna("00:00:00")).dt.total_seconds()
    end = pd.to_timedelta(candidates["window_end_utc"].fillna("00:00:00")).dt.total_seconds()
    in_window = ((end < start) & ((second >= start) | (second < end))) | ((end >= start) & (second >= start) & (second < end))  # fmt: skip
    holds = (candidates["constraint_type"] == "none") | ((candidates["constraint_type"] == "start_date") & (candidates["event_at"].dt.strftime("%Y-%m-%d") >= candidates["effective_from"].fillna(""))) | ((candidates["constraint_type"] == "time_of_day") & in_window)  # fmt: skip
    active = candidates[holds].groupby("event_id")["price_set_index"].max()
    resolved = resolved.set_index("event_id").join(active.rename("set_index")).fillna({"set_index": 0}).reset_index()  # fmt: skip

    priced = components.merge(resolved, on="event_id").merge(prices, left_on=["price_provider_id", "model_id", "set_index", "usage_type"], right_on=["provider_id", "model_id", "price_set_index", "usage_type"])  # fmt: skip
    priced = priced[(priced["tier_start_input_tokens"] == 0) | (priced["tier"].fillna(-1).astype(float) > priced["tier_start_input_tokens"])]  # fmt: skip
    priced = (
        priced.sort_values("tier_start_input_tokens").groupby(["event_id", "usage_type"]).tail(1)
    )
    priced["cost_usd"] = [Decimal(str(q)) * Decimal(p) for q, p in zip(priced["quantity"], priced["usd_per_unit"], strict=True)]  # fmt: skip
    costs = priced.groupby("event_id")["cost_usd"].sum()

    events = events.set_index("event_id").join(costs)
    caller = events["costUsd"].map(lambda v: None if pd.isna(v) else Decimal(str(v)))
    events["cost_usd"] = caller.where(caller.notna(), events["cost_usd"]).map(lambda v: Decimal(0) if v is None or pd.isna(v) else v)  # fmt: skip
    events["cost_date"] = events["event_at"].dt.date
    daily = events.groupby(["cost_date", "organization_id", "userId"], dropna=False).agg(event_count=("cost_usd", "size"), cost_usd=("cost_usd", "sum")).reset_index()  # fmt: skip
    daily["cost_usd"] = daily["cost_usd"].astype(str)
    daily.to_parquet(out)


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:5]))
