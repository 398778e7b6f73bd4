"""A real server keeps answering, from one snapshot per answer, while builds publish one after
another, and while builds (the long-lived builder among them) are killed (-9) during dbt and
during publish."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import pytest
import sqlalchemy as sa

from api import subprocess_server
from api.keys.service import create_key
from core.control_store import engine_for, landing_events
from core.settings import Settings
from tests.api.oracle_answers import cents, cost
from tests.api.webhook_receiver import Receiver, signature_is_valid
from tests.conftest import sized
from tests.expected import expected_events

pytestmark = pytest.mark.slow

BUILDS = sized(3, 20)  # builds under load: 20 with --soak
CLIENTS = 4
PAUSE = 0.01  # between a client's requests: steady load that leaves the builds some CPU
SUMMARY = "/v1/cost-data/summary?time_window=current-period"
TREND = "/v1/cost-data/trend?start_date=2026-11-24&end_date=2026-11-24"
PERIOD = (datetime(2026, 11, 1), datetime(2026, 12, 1))
TODAY = (datetime(2026, 11, 24), datetime(2026, 11, 25))
TALLYHOUSE = str(Path(sys.executable).parent / "tallyhouse")


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "TALLYHOUSE_HOME": str(settings.root),
        "TALLYHOUSE_RATE_LIMIT": "0",
        "TALLYHOUSE_SNAPSHOTS_KEPT": str(BUILDS + 5),  # every answered version stays readable
    }


def _add_events(settings: Settings, name: str, count: int) -> None:
    """`count` events of acme with a caller-given cost of $1.25, an hour before now."""
    lines = [
        {
            "eventType": "llm_call",
            "metricName": "tokens",
            "quantity": 100,
            "idempotencyKey": f"{name}-{i}",
            "timestamp": "2026-11-24T11:00:00Z",
            "userId": "user_rebuild",
            "costUsd": 1.25,
        }
        for i in range(count)
    ]
    path = settings.landing_dir / "acme" / f"{name}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _build(env: dict[str, str]) -> str:
    """A `tallyhouse build` to the end; the snapshot version it published."""
    done = subprocess.run(
        [TALLYHOUSE, "build"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # the CLI's summary goes to stderr, beside Dagster's log
    published = [line for line in done.stderr.splitlines() if line.startswith("snapshot v")]
    assert published, done.stderr[-1500:]
    return published[0].split()[1].rstrip(":")


def _expected(settings: Settings) -> tuple[Decimal, Decimal]:
    """acme's cost this month and today, from the landing files (the oracle)."""
    events = list(expected_events(settings.landing_dir).values())
    return cost(events, "acme", *PERIOD), cost(events, "acme", *TODAY)


def _key(settings: Settings) -> str:
    engine = engine_for(settings.control_store_url)
    return create_key(engine, "acme", ["costs:read"], "test", settings.clock())[1]


class Load:
    """CLIENTS threads, each with a keep-alive connection, asking for the summary and the
    trend in turn (PAUSE apart) until stopped; every answer kept with the snapshot version it
    came from."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key
        self.answers: list[tuple[str, int, str | None, dict | None]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(CLIENTS)]

    def _client(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=30) as http:
            while not self._stop.is_set():
                for path in (SUMMARY, TREND):
                    try:
                        response = http.get(path)
                    except httpx.HTTPError as error:
                        self.errors.append(f"{path}: {error!r}")
                        continue
                    body = response.json() if response.status_code == 200 else None
                    time.sleep(PAUSE)
                    self.answers.append(
                        (
                            path,
                            response.status_code,
                            response.headers.get("X-Snapshot-Version"),
                            body,
                        )
                    )

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def _check_answers(load: Load, expected: dict[str, tuple[float, float]]) -> Counter:
    """Every answer is a 200 from a published snapshot, equal to that snapshot's oracle."""
    assert load.errors == []
    statuses = Counter(status for _, status, _, _ in load.answers)
    assert statuses == Counter({200: len(load.answers)}), statuses
    per_version: Counter = Counter()
    for path, _, version, body in load.answers:
        assert version in expected, f"an answer from an unknown snapshot {version}"
        month, today = expected[version]
        if path == SUMMARY:
            assert body["totalCost"] == month, (version, body)
        else:
            assert [p["totalCost"] for p in body["series"]] == [today], (version, body)
        per_version[version] += 1
    return per_version


def _before(settings: Settings) -> tuple[dict[str, str], str, Decimal, Decimal, str]:
    """The server's environment, a reading key, acme's oracle costs (month, today) and the
    snapshot served before any build of the test."""
    month, today = _expected(settings)
    return _env(settings), _key(settings), month, today, _served_version(settings)


def _budget(base: str, settings: Settings, receiver: Receiver) -> tuple[dict, str, dict]:
    """A $4 monthly budget of the end user the builds add to (alerts at 50% and 100%) and a webhook to the
    receiver, made through the API; the key that reads them."""
    engine = engine_for(settings.control_store_url)
    key = create_key(engine, "acme", ["limits:read", "limits:write"], "test", settings.clock())[1]
    headers = {"Authorization": f"Bearer {key}"}
    hook = httpx.post(f"{base}/v1/webhooks", json={"url": receiver.url}, headers=headers).json()
    limit = httpx.post(
        f"{base}/v1/limits", headers=headers,
        json={"name": "Rebuild budget", "subject": {"type": "end_user", "id": "user_rebuild"},
              "limit": 4,
              "measure": {"type": "cost"}, "window": {"type": "calendar_month"},
              "thresholds": [50, 100]},
    ).json()  # fmt: skip
    return headers, hook["secret"], limit


def test_answers_stay_whole_while_builds_publish(home_copy):
    """…and each threshold crossed is alerted once, by one of the two server processes that
    both evaluate every publish, and delivered once."""
    settings = home_copy
    env, key, month, today, first = _before(settings)
    env["TALLYHOUSE_WEBHOOK_ALLOW_PRIVATE"] = "1"
    expected = {first: (cents(month), cents(today))}
    receiver = Receiver([])
    try:
        with subprocess_server.running(env, workers=2) as base, Load(base, key) as load:
            headers, secret, limit = _budget(base, settings, receiver)
            for build in range(1, BUILDS + 1):
                _add_events(settings, f"rebuild-{build}", 2)
                version = _build(env)
                added = Decimal("2.50") * build
                expected[version] = (cents(month + added), cents(today + added))
            time.sleep(1)  # the servers' watchers (every 0.2 s) pick up the last one
            receiver.wait_for(2)
            time.sleep(1)  # time for a delivery twice over, were there one
            alerts = httpx.get(f"{base}/v1/alerts", headers=headers).json()
    finally:
        receiver.stop()
    per_version = _check_answers(load, expected)
    assert len(expected) == BUILDS + 1
    assert len(load.answers) > 100 * BUILDS  # the load ran throughout
    assert len(per_version) >= BUILDS // 2, per_version  # answers came from many snapshots
    print(f"{len(load.answers)} requests, 0 failed, from {len(per_version)} snapshots")
    # user_rebuild: $2.50 after the first build (62.5%), $5.00 after the second (125%)
    assert [(a["subjectId"], a["threshold"], a["usage"]) for a in alerts] == [
        ("user_rebuild", 50, 2.5), ("user_rebuild", 100, 5.0)
    ]  # fmt: skip
    assert {a["limitId"] for a in alerts} == {limit["id"]}
    sent = [json.loads(body) for _, body in receiver.received]
    assert sorted(body["data"]["alert"]["id"] for body in sent) == sorted(a["id"] for a in alerts)
    for sent_headers, body in receiver.received:
        assert signature_is_valid(secret, sent_headers["Tallyhouse-Signature"], body)


def _wait_for(condition, what: str, process: subprocess.Popen, interval: float) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if condition(process):
            return
        assert process.poll() is None, f"the build ended before {what}"
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def _start_build(env: dict[str, str]) -> subprocess.Popen:
    """A `tallyhouse build` in its own process group (so that a kill takes dbt too)."""
    return subprocess.Popen(
        [TALLYHOUSE, "build"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _kill_build_when(env: dict[str, str], condition, what: str, interval: float) -> None:
    """Start a build in its own process group and kill -9 all of it once `condition` holds."""
    process = _start_build(env)
    try:
        _wait_for(condition, what, process, interval)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


# Watches for a file and kills a process group the moment one appears, in a process of its
# own: the test's process runs the load's threads, and a publish's staging file can come and
# go between two turns of its GIL.
_KILL_ON_FILE = """
import glob, os, signal, sys, time
pattern, group = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    if glob.glob(pattern):
        os.killpg(group, signal.SIGKILL)
        sys.exit(0)
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        sys.exit(3)  # the build ended first
    time.sleep(0.001)
sys.exit(4)
"""


def _kill_build_when_file(env: dict[str, str], pattern: str, what: str) -> None:
    """Start a build in its own process group and kill -9 all of it once a file matching
    `pattern` exists."""
    process = _start_build(env)
    try:
        watcher = subprocess.run(
            [sys.executable, "-c", _KILL_ON_FILE, pattern, str(process.pid)], timeout=150
        )
        assert watcher.returncode == 0, f"the build ended before {what}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _dbt_building_marts(since: float, invocations: Path):
    """A condition: a dbt invocation started after `since` is building the event fact (each
    invocation logs to its own folder under the home's dbt/)."""

    def condition(_: subprocess.Popen) -> bool:
        for folder in invocations.glob("tallyhouse_dbt_models-*"):
            log = folder / "dbt.log"
            fresh = folder.stat().st_mtime >= since and log.exists()
            if fresh and "marts.fct_usage_costs" in log.read_text(errors="replace"):
                return True
        return False

    return condition


def _record_through_the_api(base: str, settings: Settings, count: int) -> set[tuple[str, str]]:
    """`count` acme events through the write API ($0.50 each, an hour before now)."""
    engine = engine_for(settings.control_store_url)
    writer = create_key(engine, "acme", ["usage:write"], "test", settings.clock())[1]
    events = [
        {
            "eventType": "llm_call",
            "metricName": "tokens",
            "quantity": 10,
            "idempotencyKey": f"api-{i}",
            "timestamp": "2026-11-24T11:00:00Z",
            "costUsd": 0.5,
        }
        for i in range(count)
    ]
    response = httpx.post(
        f"{base}/v1/usage/events/batch",
        json={"events": events},
        headers={"Authorization": f"Bearer {writer}"},
    )
    assert response.status_code == 200 and response.json()["recorded"] == count
    return {("acme", e["idempotencyKey"]) for e in events}


def _start_watching(env: dict[str, str], output: Path) -> subprocess.Popen:
    """`tallyhouse build --watch` in its own process group, its output to `output`."""
    with output.open("a") as out:
        return subprocess.Popen(
            [TALLYHOUSE, "build", "--watch", "--debounce", "0.5"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _served_costs(settings: Settings) -> list[tuple[str, str, Decimal]]:
    with duckdb.connect(str(settings.current_snapshot), read_only=True) as snapshot:
        return snapshot.execute(
            "select organization_id, idempotency_key, cost_usd from fct_usage_costs"
        ).fetchall()


def _served_version(settings: Settings) -> str:
    return Path(os.path.realpath(settings.current_snapshot)).stem


def _wait_for_a_new_version(settings: Settings, served: str, watcher, output: Path) -> str:
    """The version the watching builder publishes after `served`."""
    deadline = time.monotonic() + 180
    while (version := _served_version(settings)) == served:
        assert watcher.poll() is None, output.read_text()[-3000:]
        assert time.monotonic() < deadline, output.read_text()[-3000:]
        time.sleep(0.1)
    return version


def test_builds_killed_during_dbt_and_during_publish_lose_nothing(home_copy, tmp_path):
    """The long-lived builder killed (-9) while its dbt builds the marts, then a `tallyhouse
    build` killed during its publish; the next builder builds what they had started and what
    came after, then a file that lands while it watches, and stops at SIGTERM after that
    build. Each event once, and every answer meanwhile whole, from one snapshot."""
    settings = home_copy
    env, key, month, today, served = _before(settings)
    expected = {served: (cents(month), cents(today))}
    snapshots = settings.serving_dir / "snapshots"
    output = tmp_path / "watch.log"
    _add_events(settings, "after-crash", 3)  # 3 x $1.25 in a landing file
    with subprocess_server.running(env, workers=2) as base, Load(base, key) as load:
        through_api = _record_through_the_api(base, settings, 4)  # 4 x $0.50 in the store
        watcher = _start_watching(env, output)
        try:
            building = _dbt_building_marts(time.time(), settings.dbt_invocations_dir)
            _wait_for(building, "the builder's dbt building the marts", watcher, 0.05)
        finally:
            os.killpg(watcher.pid, signal.SIGKILL)
            watcher.wait(timeout=30)
        _kill_build_when_file(env, str(snapshots / "*.building"), "publish")
        assert _served_version(settings) == served
        time.sleep(0.5)
        watcher = _start_watching(env, output)
        try:
            first = _wait_for_a_new_version(settings, served, watcher, output)
            added = Decimal("3.75") + Decimal("2.00")
            expected[first] = (cents(month + added), cents(today + added))
            # a file landing while it watches is built in the next build, without a restart
            _add_events(settings, "watched-live", 1)  # $1.25
            second = _wait_for_a_new_version(settings, first, watcher, output)
            added += Decimal("1.25")
            expected[second] = (cents(month + added), cents(today + added))
        finally:
            watcher.send_signal(signal.SIGTERM)
            try:
                watcher.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(watcher.pid, signal.SIGKILL)
                raise
        time.sleep(1)
    assert watcher.returncode == 0, output.read_text()[-3000:]
    assert "stopped after 2 builds" in output.read_text()
    per_version = _check_answers(load, expected)
    assert set(per_version) == {served, first, second}
    # the landing files, the API's landing store and the served marts agree exactly: every
    # event once, every cost to the cent
    oracle = {k: e.cost_usd for k, e in expected_events(settings.landing_dir).items()}
    oracle |= dict.fromkeys(through_api, Decimal("0.5"))
    with engine_for(settings.control_store_url).connect() as store:
        stored = set(store.execute(
            sa.select(landing_events.c.organization_id, landing_events.c.idempotency_key)
        ).all())  # fmt: skip
    assert stored == through_api
    facts = _served_costs(settings)
    assert len(facts) == len(oracle)
    assert {(org, key): cost_usd for org, key, cost_usd in facts} == oracle
    print(f"{len(load.answers)} requests during two killed builds and two whole: 0 failed")
