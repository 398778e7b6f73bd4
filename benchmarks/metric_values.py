"""Metric values under load, with acknowledged events the build has not taken yet, every answer
checked against an oracle.

    .venv/bin/python benchmarks/metric_values.py --events 10000000
    .venv/bin/python benchmarks/metric_values.py --home DIR     # a home built before (kept)

In a home of N generated events built with the four metrics of read_api.py created first (or
`--home`, one such home already built), creates a simple metric per aggregation, starts
uvicorn (`--workers`, default 2), and posts `--unbuilt` events (default 10,000) through the
write API that no build takes: every value below counts them from the landing store. Then
each value is asked once and compared with the oracle — the same value worked out here from
the landing files and the posted events (DuckDB over the Parquet files, deduplicated by key;
the gauge and LATEST's order in Python) — and loaded from wrk with `--connections` for
`--seconds` (after a few requests that warm every server process: the first value asked of a
customer after a publish reads the customer's events), every answer compared with that
checked body (`wrong_answers`). The clock is
pinned, so each answer is one known body; nothing caches a metric value: each request is
computed. Written to benchmarks/results/metric_values.json.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
from harness import PINNED_NOW, loaded_reads_main, run_measured, tallyhouse, wrk

from api import subprocess_server
from api.metrics import service
from api.metrics.schemas import MetricCreate
from core.control_store import engine_for
from core.metric_sandbox import SandboxLimits

ORG = "acme"
AGGREGATIONS = ("COUNT", "SUM", "MIN", "MAX", "AVG", "LATEST", "WEIGHTED_SUM")
BUSY = "user_1"  # the simple values' customer: the second busiest (~6% of the events)
ON_DEMAND = "user_4"  # an SQL metric evaluated on demand: ≥ 100k events at 10M
PRECOMPUTED = "user_11"  # no unbuilt events: the build's pre-computed value stands
NOW = datetime.fromisoformat(PINNED_NOW).replace(tzinfo=None)


def simple_metrics(home: str) -> dict[str, str]:
    """A simple metric per aggregation (pages, or distinct devices for UNIQUE_COUNT)."""
    store = engine_for(f"sqlite:///{home}/control.db")
    bodies = {
        aggregation: MetricCreate(
            name=f"Pages {aggregation}", queryType="simple", aggregationType=aggregation,
            eventName="document_processed", valueType="NUMERIC",
        )
        for aggregation in AGGREGATIONS
    }  # fmt: skip
    bodies["UNIQUE_COUNT"] = MetricCreate(
        name="Devices", queryType="simple", aggregationType="UNIQUE_COUNT",
        eventName="user-login", valueType="STRING",
    )  # fmt: skip
    return {
        name: service.create_metric(store, ORG, body, NOW, SandboxLimits()).metric_id
        for name, body in bodies.items()
    }


def unbuilt_events(count: int) -> list[dict]:
    """Events of the last 40 days for many customers, a fifth of them the busy one's, none
    the pre-computed customer's."""
    rng = random.Random(7)
    customers = [BUSY] * 10 + [ON_DEMAND] * 5 + [f"user_{n}" for n in range(12, 47)]
    events = []
    for n in range(count):
        at = NOW - timedelta(seconds=rng.randrange(40 * 86_400))
        customer = rng.choice(customers)
        body = {
            "idempotencyKey": f"unbuilt-{n}",
            "userId": customer,
            "timestamp": at.isoformat() + "Z",
            "metadata": {"region": rng.choice(["eu", "us"])},
        }
        if rng.random() < 0.5:
            body |= {"eventType": "document_processed", "metricName": "pages",
                     "quantity": rng.randrange(1, 60)}  # fmt: skip
        else:
            body |= {"eventType": "user-login", "metricName": "logins", "quantity": 1,
                     "value": f"{customer}-device-{rng.randrange(12)}"}  # fmt: skip
        events.append(body)
    return events


def warm(base: str, path: str, key: str, connections: int) -> None:
    """Ask `connections` at a time a few times, so that every server process has read the
    customer's events (the first value asked of a customer after a publish reads them)."""
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=base, headers=headers, timeout=60) as http,
        ThreadPoolExecutor(connections) as pool,
    ):
        list(pool.map(lambda _: http.get(path).raise_for_status(), range(4 * connections)))


def post(base: str, key: str, events: list[dict]) -> tuple[int, int]:
    """(recorded, already stored by an earlier run)"""
    recorded = duplicates = 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http:
        for first in range(0, len(events), 1000):
            answer = http.post(
                "/v1/usage/events/batch", json={"events": events[first : first + 1000]}, timeout=60
            )
            answer.raise_for_status()
            recorded += answer.json()["recorded"]
            duplicates += answer.json()["duplicates"]
    return recorded, duplicates


def _event_id(key: str) -> str:
    """evt_ and the UUID of md5(organization US key), as docs/ingestion.md defines it."""
    digest = hashlib.md5((ORG + "\x1f" + key).encode()).hexdigest()
    return f"evt_{uuid.UUID(hex=digest)}"


_FIELDS = "idempotencyKey, userId, eventType, quantity, value, cast(metadata as varchar) as metadata, timestamp"
_JSON_TYPES = (
    "{idempotencyKey: 'varchar', userId: 'varchar', eventType: 'varchar', quantity: 'double', "
    "value: 'varchar', metadata: 'json', timestamp: 'varchar'}"
)


class Oracle:
    """Every value worked out from the landing files and the posted events alone."""

    def __init__(self, home: str, posted: list[dict]) -> None:
        self.con = duckdb.connect()
        landing = Path(home) / "landing" / ORG
        sources = [f"select {_FIELDS} from read_parquet('{landing}/*.parquet')"]
        if any(landing.glob("*.jsonl")):  # the +1% batches of run.py
            sources.append(
                f"select {_FIELDS} from read_json('{landing}/*.jsonl', columns = {_JSON_TYPES})"
            )
        self.con.execute(
            "create table events as select distinct on (idempotencyKey) idempotencyKey as key, "
            "userId as customer, eventType as event_type, cast(quantity as decimal(18, 6)) as "
            "quantity, value, metadata, cast(cast(timestamp as timestamptz) as timestamp) as event_at "
            f"from ({' union all '.join(sources)}) where userId is not null"
        )
        self.con.executemany(
            "insert into events values (?, ?, ?, ?, ?, ?, ?)",
            [
                (e["idempotencyKey"], e["userId"], e["eventType"], Decimal(e["quantity"]),
                 e.get("value"), json.dumps(e["metadata"]), datetime.fromisoformat(e["timestamp"][:-1]))
                for e in posted
            ],
        )  # fmt: skip

    def rows(self, customer: str, event_type: str):
        return self.con.execute(
            "select key, quantity, value, event_at from events "
            "where customer = ? and event_type = ?",
            [customer, event_type],
        ).fetchall()

    def simple(self, aggregation: str, customer: str, start: datetime | None) -> object:
        event_type = "user-login" if aggregation == "UNIQUE_COUNT" else "document_processed"
        if aggregation == "WEIGHTED_SUM":
            return self._gauge(customer, event_type, start)
        rows = [r for r in self.rows(customer, event_type) if start is None or r[3] >= start]
        values = [r[1] for r in rows]
        if aggregation == "COUNT":
            return len(rows)
        if aggregation == "SUM":
            return sum(values, Decimal(0))
        if aggregation == "UNIQUE_COUNT":
            return len({r[2] for r in rows if r[2] is not None})
        if not rows:
            return None
        if aggregation == "AVG":
            return sum(values, Decimal(0)) / len(values)
        if aggregation == "LATEST":
            return max(rows, key=lambda r: (r[3], _event_id(r[0])))[1]
        return (min if aggregation == "MIN" else max)(values)

    def _gauge(self, customer: str, event_type: str, start: datetime | None) -> Decimal:
        """Value-hours up to now: each value held until the next event's instant."""
        rows = sorted(self.rows(customer, event_type), key=lambda r: (r[3], _event_id(r[0])))
        start = rows[0][3] if start is None and rows else start
        total = Decimal(0)
        for row, following in zip(rows, [*rows[1:], None], strict=False):
            held_from, held_to = max(row[3], start), min(following[3] if following else NOW, NOW)
            if held_to > held_from:
                total += row[1] * Decimal((held_to - held_from) // timedelta(microseconds=1))
        return total / Decimal(3_600_000_000)

    def sql_metric(self, customer: str, event_type: str, region: str, start, count: bool):
        rows = self.con.execute(
            "select count(*), sum(quantity) from events where customer = ? and event_type = ? "
            "and json_extract_string(metadata, '$.region') = ? "
            "and (cast(? as timestamp) is null or event_at >= ?)",
            [customer, event_type, region, start, start],
        ).fetchone()
        return rows[0] if count else rows[1]


def json_number(value):
    if value is None or isinstance(value, int):
        return value
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def reads(ids: dict[str, str], simple: dict[str, str]) -> dict[str, tuple]:
    """name → (path, customer, how the oracle answers it, the window's start or None)."""
    days30 = NOW - timedelta(days=30)
    days14 = NOW - timedelta(days=14)
    found: dict[str, tuple] = {}
    for aggregation, metric_id in simple.items():
        for label, query, start in (("ALL", "", None), ("30 days", "&timeframe=RELATIVE&days=30", days30)):  # fmt: skip
            found[f"simple {aggregation} {label}"] = (
                f"/v1/metrics/{metric_id}/value?customerId={BUSY}{query}",
                ("simple", aggregation, BUSY, start),
            )
    found["indexed ALL (pre-computed)"] = (
        f"/v1/metrics/{ids['indexed']}/value?customerId={PRECOMPUTED}",
        ("sql", "document_processed", PRECOMPUTED, None, False),
    )
    found["indexed 30 days (pre-computed)"] = (
        f"/v1/metrics/{ids['indexed']}/value?customerId={PRECOMPUTED}&timeframe=RELATIVE&days=30",
        ("sql", "document_processed", PRECOMPUTED, days30, False),
    )
    found["indexed 14 days (on demand)"] = (
        f"/v1/metrics/{ids['indexed']}/value?customerId={ON_DEMAND}&timeframe=RELATIVE&days=14",
        ("sql", "document_processed", ON_DEMAND, days14, False),
    )
    found["complex ALL (on demand)"] = (
        f"/v1/metrics/{ids['complex']}/value?customerId={ON_DEMAND}",
        ("sql", "user-login", ON_DEMAND, None, True),
    )
    return found


def expected_value(oracle: Oracle, how: tuple):
    if how[0] == "simple":
        _, aggregation, customer, start = how
        return oracle.simple(aggregation, customer, start)
    _, event_type, customer, start, count = how
    return oracle.sql_metric(customer, event_type, "eu", start, count)


def measure(home: str, env: dict, ids: dict, *, unbuilt: int, seconds: int, connections: int,
            workers: int, only: str | None = None) -> list[dict]:  # fmt: skip
    simple = simple_metrics(home)
    _, _, key = run_measured(
        tallyhouse("keys", "create", "--org", ORG, "--scopes", "metrics:read,usage:write"), env
    )
    key = key.strip()
    server, base = subprocess_server.start(env, workers=workers)
    rows = []
    try:
        posted = unbuilt_events(unbuilt)
        recorded, duplicates = post(base, key, posted)
        print(
            f"{len(posted):,} events acknowledged, not built ({recorded:,} new, {duplicates:,} "
            "stored by an earlier run); the oracle reads the landing files", flush=True
        )  # fmt: skip
        oracle = Oracle(home, posted)
        # the floor of any request: authentication and the framework, no metric
        rows.append({"read": "ping", **wrk(base + "/v1/ping", key, connections, seconds)})
        for name, (path, how) in reads(ids, simple).items():
            if only and only not in name:
                continue
            answer = httpx.get(base + path, headers={"Authorization": f"Bearer {key}"}, timeout=60)
            expected = json_number(expected_value(oracle, how))
            got = answer.json().get("value")
            equal = answer.status_code == 200 and (
                got == expected if not isinstance(got, float) else abs(got - expected) <= 1e-9 * abs(expected)
            )  # fmt: skip
            warm(base, path, key, connections)
            figures = wrk(base + path, key, connections, seconds, expected=answer.text)
            rows.append({"read": name, "value": got, "oracle": expected, "equal": equal, **figures})
            print(
                f"  {name}: p99 {figures['p99_ms']} ms, {figures['requests_per_s']}/s", flush=True
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    return rows


if __name__ == "__main__":
    loaded_reads_main(__doc__, "metric_values", measure)
