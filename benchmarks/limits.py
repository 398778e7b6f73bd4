"""Limit status checks under load, every answer checked against an oracle.

    .venv/bin/python benchmarks/limits.py --events 10000000
    .venv/bin/python benchmarks/limits.py --home DIR     # a home built before (kept)

In a home of N generated events built with read_api.py's metrics (or `--home`, one such home
already built), creates a cost limit per kind of subject and window and two metric limits,
starts uvicorn (`--workers`, default 2), and posts `--unbuilt` events (default 10,000) through
the write API that no build takes (metric limits count them; cost limits count what the build
priced). Each limit's status is asked once: `cold_ms` is that first check after the publish,
which loads the subject's hourly costs (or the customer's events) into the server process.
Its usage is compared with the oracle — cost worked out from the landing files alone (the
floor's per-event costs, benchmarks/floor/event_costs.sql), a metric from the landing files
and the posted events (metric_values.py) — and the status is loaded from wrk with
`--connections` for `--seconds`, every answer compared with that checked body
(`wrong_answers`). The clock is pinned, so each answer is one known body; nothing caches a
status: each request is computed. Written to benchmarks/results/limits.json.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import httpx
from floor import floor_connection
from harness import loaded_reads_main, run_measured, tallyhouse, wrk
from metric_values import BUSY, NOW, ORG, Oracle, post, unbuilt_events, warm

from api import subprocess_server
from api.limits import service
from api.limits.schemas import LimitCreate
from core.control_store import engine_for

CENT = Decimal("0.01")
# the windows as [start, end): the calendar month and day holding now (UTC), and the 7 x 24
# hours ending now, both ends included (docs/limits.md)
MONTH = (NOW.replace(day=1, hour=0, minute=0, second=0, microsecond=0), datetime(2026, 12, 1))
DAY = (NOW.replace(hour=0, minute=0, second=0, microsecond=0), datetime(2026, 11, 25))
SEVEN_DAYS = (NOW - timedelta(days=7), NOW + timedelta(microseconds=1))
# name → (the limit, the subject asked, the oracle's filter on floor_event_costs or the metric's
# customer, and the window)
LIMITS = {
    "cost organization month": (
        {"subject": {"type": "organization"}, "window": {"type": "calendar_month"}},
        None, ("true", MONTH),
    ),
    "cost each end user month": (
        {"subject": {"type": "end_user"}, "window": {"type": "calendar_month"}},
        BUSY, (f"end_user_id = '{BUSY}'", MONTH),
    ),
    "cost each end user 7 days": (
        {"subject": {"type": "end_user"}, "window": {"type": "rolling_days", "days": 7}},
        BUSY, (f"end_user_id = '{BUSY}'", SEVEN_DAYS),
    ),
    "cost one end user day": (
        {"subject": {"type": "end_user", "id": BUSY}, "window": {"type": "calendar_day"}},
        None, (f"end_user_id = '{BUSY}'", DAY),
    ),
    "cost each feature month": (
        {"subject": {"type": "feature"}, "window": {"type": "calendar_month"}},
        "chat", ("feature = 'chat'", MONTH),
    ),
    "cost each model 7 days": (
        {"subject": {"type": "model"}, "window": {"type": "rolling_days", "days": 7}},
        "gpt-4o", ("model = 'gpt-4o'", SEVEN_DAYS),
    ),
    "metric each end user month (hard)": (
        {"subject": {"type": "end_user"}, "window": {"type": "calendar_month"}, "hard": True},
        BUSY, (BUSY, MONTH),
    ),
    "metric organization-wide 7 days": (
        {"subject": {"type": "organization"}, "window": {"type": "rolling_days", "days": 7}},
        None, (None, SEVEN_DAYS),
    ),
}  # fmt: skip


def create_limits(home: str, pages_metric: str) -> dict[str, str]:
    """Each limit of LIMITS (metric limits on the pages SUM metric), created in the store."""
    store = engine_for(f"sqlite:///{home}/control.db")
    ids = {}
    for name, (fields, _, _) in LIMITS.items():
        measure = (
            {"type": "metric", "metricId": pages_metric}
            if name.startswith("metric")
            else {"type": "cost"}
        )
        body = LimitCreate.model_validate(
            {"name": name, "measure": measure, "limit": 1_000_000, **fields}
        )
        ids[name] = service.create_limit(store, ORG, body, NOW).limit_id
    return ids


def cost_oracle(home: str) -> dict[str, float]:
    """Each cost limit's usage from the landing files alone, in cents as the status shows it."""
    with floor_connection(home) as con:
        # the organization's priced events once (each query over the view prices them all)
        con.execute(
            "create temp table org_costs as select * from floor_event_costs "
            "where organization_id = $1",
            [ORG],
        )
        found = {}
        for name, (_, _, (where, (start, end))) in LIMITS.items():
            if name.startswith("cost"):
                (total,) = con.execute(
                    "select coalesce(sum(cost_usd), 0) from org_costs "
                    f"where event_at >= $1 and event_at < $2 and {where}",
                    [start, end],
                ).fetchone()
                found[name] = float(Decimal(total).quantize(CENT, ROUND_HALF_UP))
        return found


def metric_oracle(oracle: Oracle, customer: str | None, window: tuple) -> Decimal:
    """The pages SUM metric's value in the window: a customer's, or every customer's."""
    (total,) = oracle.con.execute(
        "select coalesce(sum(quantity), 0) from events where event_type = 'document_processed' "
        "and (customer = ? or ? is null) and event_at >= ? and event_at < ?",
        [customer, customer, *window],
    ).fetchone()
    return total


def measure(home: str, env: dict, ids: dict, *, unbuilt: int, seconds: int, connections: int,
            workers: int, only: str | None = None) -> list[dict]:  # fmt: skip
    limit_ids = create_limits(home, ids["simple"])
    _, _, key = run_measured(
        tallyhouse("keys", "create", "--org", ORG, "--scopes", "limits:read,usage:write"), env
    )
    key = key.strip()
    costs = cost_oracle(home)
    server, base = subprocess_server.start(env, workers=workers)
    rows = []
    try:
        posted = unbuilt_events(unbuilt)
        recorded, duplicates = post(base, key, posted)
        print(
            f"{len(posted):,} events acknowledged, not built ({recorded:,} new, {duplicates:,} "
            "stored by an earlier run)", flush=True
        )  # fmt: skip
        oracle = Oracle(home, posted)
        headers = {"Authorization": f"Bearer {key}"}
        for name, (_, subject, how) in LIMITS.items():
            if only and only not in name:
                continue
            path = f"/v1/limits/{limit_ids[name]}/status"
            if subject is not None:
                path += f"?subjectId={subject}"
            started = time.perf_counter()
            answer = httpx.get(base + path, headers=headers, timeout=60)
            cold_ms = round((time.perf_counter() - started) * 1000, 1)
            got = answer.json().get("usage")
            if name.startswith("cost"):
                expected = costs[name]
                equal = answer.status_code == 200 and got == expected
            else:
                expected = float(metric_oracle(oracle, *how))
                equal = answer.status_code == 200 and abs(got - expected) <= 1e-9 * abs(expected)
            warm(base, path, key, connections)
            figures = wrk(base + path, key, connections, seconds, expected=answer.text)
            rows.append(
                {"status": name, "usage": got, "oracle": expected, "equal": equal,
                 "cold_ms": cold_ms, **figures}
            )  # fmt: skip
            print(
                f"  {name}: p99 {figures['p99_ms']} ms, {figures['requests_per_s']}/s", flush=True
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    return rows


if __name__ == "__main__":
    loaded_reads_main(__doc__, "limits", measure)
