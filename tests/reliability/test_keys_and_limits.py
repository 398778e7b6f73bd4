"""Keys: no whole key at rest, unknown and revoked answer alike, digests compared in constant
time. Rate limits: bursts get 429 with Retry-After, and nothing accepted is lost or doubled."""

from __future__ import annotations

import ast
import sqlite3
import time
from pathlib import Path

import duckdb
from fastapi.testclient import TestClient

from api.keys import service as keys_service
from api.keys.service import create_key, revoke_key
from api.main import create_app
from core.control_store import engine_for
from orchestration.build import run_build

KEYS_SOURCE = Path(keys_service.__file__)


def test_a_dump_of_the_control_store_holds_no_whole_key(home_copy):
    engine = engine_for(home_copy.control_store_url)
    now = home_copy.clock()
    made = [create_key(engine, "acme", ["costs:read"], env, now) for env in ("test", "live")]
    revoke_key(engine, made[0][0].key_id, now)
    database = home_copy.root / "control.db"
    with sqlite3.connect(database) as con:
        dump = "\n".join(con.iterdump())
    raw = database.read_bytes()
    for key, plaintext in made:
        secret = plaintext.removeprefix(key.key_prefix)
        assert plaintext not in dump and plaintext.encode() not in raw
        # no more of the key than its public prefix: the rest appears nowhere
        assert secret not in dump and secret[:12] not in dump
        assert key.key_prefix in dump  # what `tallyhouse keys list` shows


def test_unknown_revoked_and_malformed_keys_answer_identically_on_every_route(built_home, keys):
    settings, _ = built_home
    app = create_app(settings.model_copy(update={"rate_limit": 0}))
    refused = {
        "revoked": keys.revoked,
        "unknown": "sk_test_" + "q" * 32,
        "a real key's prefix": keys.acme[:12] + "q" * (len(keys.acme) - 12),
        "a real key but one character": keys.acme[:-1] + ("a" if keys.acme[-1] != "a" else "b"),
        "not a key": "hello",
    }
    with TestClient(app) as client:
        routes = [
            (method.upper(), path.replace("{externalId}", "user_1").replace("{id}", "met_x"))
            for path, operations in client.get("/openapi.json").json()["paths"].items()
            for method in operations
        ]
        for method, path in routes:
            answers = set()
            for plaintext in refused.values():
                response = client.request(
                    method, path, headers={"Authorization": f"Bearer {plaintext}"}, json={}
                )
                body = response.json()
                body["error"].pop("correlationId")
                body["meta"].pop("timestamp")
                answers.add((response.status_code, repr(body)))
            assert len(answers) == 1, (method, path, answers)
            assert next(iter(answers))[0] == 401


def test_key_digests_are_compared_in_constant_time():
    """Keys are looked up by SHA-256 digest (timing then depends on a hash, not on how many
    characters of a real key were guessed), and the digest found is compared again with
    hmac.compare_digest; no `==` or `!=` ever touches a key, digest or hash."""
    tree = ast.parse(KEYS_SOURCE.read_text())
    sensitive = {"plaintext", "digest", "key_hash", "token"}

    def names(node: ast.AST) -> set[str]:
        found = set()
        for child in ast.walk(node):
            if isinstance(child, ast.Name):
                found.add(child.id)
            elif isinstance(child, ast.Attribute):
                found.add(child.attr)
        return found

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, ast.Eq | ast.NotEq) for op in node.ops
        ):
            assert not names(node) & sensitive, ast.unparse(node)
    calls = [
        ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)
    ]  # fmt: skip
    assert "hmac.compare_digest" in calls
    assert "hashlib.sha256" in calls


def test_a_burst_over_the_limit_gets_429_and_every_accepted_event_is_built_once(home_copy):
    engine = engine_for(home_copy.control_store_url)
    plaintext = create_key(engine, "acme", ["usage:write"], "test", home_copy.clock())[1]
    headers = {"Authorization": f"Bearer {plaintext}"}

    def event(i: int) -> dict:
        return {"eventType": "llm_call", "metricName": "tokens", "quantity": 10,
                "idempotencyKey": f"burst-{i}", "timestamp": "2026-11-24T11:00:00Z",
                "costUsd": 0.01}  # fmt: skip

    # 2 requests/s: a burst of 4 passes, then one every 0.5 s
    app = create_app(home_copy.model_copy(update={"rate_limit": 2}))
    accepted, limited = [], []
    with TestClient(app) as client:
        for i in range(12):
            response = client.post("/v1/usage/events", json=event(i), headers=headers)
            if response.status_code == 429:
                assert int(response.headers["Retry-After"]) >= 1
                assert response.json()["error"]["code"] == "RATE_LIMITED"
                limited.append(i)
            else:
                assert response.status_code == 201
                accepted.append(i)
        assert len(accepted) >= 4 and len(limited) >= 6
        summary = run_build(home_copy)
        # the accepted ones, each once; none of the refused
        assert _burst_keys(home_copy) == {f"burst-{i}" for i in accepted}
        # the refused ones retried after Retry-After: all accepted now, each stored once
        time.sleep(int(response.headers.get("Retry-After", "1")) + 0.5)
        for i in limited + accepted[:2]:
            while (retry := client.post("/v1/usage/events", json=event(i), headers=headers)).status_code == 429:  # fmt: skip
                time.sleep(int(retry.headers["Retry-After"]))
            assert retry.status_code == (200 if i in accepted else 201)
    assert summary.success
    assert run_build(home_copy).success
    assert _burst_keys(home_copy) == {f"burst-{i}" for i in range(12)}
    with duckdb.connect(str(home_copy.current_snapshot), read_only=True) as snapshot:
        (count,) = snapshot.execute(
            "select count(*) from fct_usage_costs where idempotency_key like 'burst-%'"
        ).fetchall()[0]
    assert count == 12


def _burst_keys(settings) -> set[str]:
    with duckdb.connect(str(settings.current_snapshot), read_only=True) as snapshot:
        rows = snapshot.execute(
            "select idempotency_key from fct_usage_costs where idempotency_key like 'burst-%'"
        ).fetchall()
    return {key for (key,) in rows}
