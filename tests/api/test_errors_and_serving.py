"""The error envelope everywhere, rate limits, OpenAPI, and switching snapshots."""

from __future__ import annotations

import asyncio
import os
import re

import duckdb
from fastapi.testclient import TestClient

from api.main import create_app
from api.snapshot import MISSING, AnswerCache, SnapshotReader
from tests.api.conftest import auth

CORRELATION = re.compile(r"^[A-Z]+-[A-Z]+-[A-Za-z0-9]{6}$")


class TestErrorEnvelope:
    def test_unknown_key_missing_key_and_revoked_key_answer_identically(self, client, keys):
        bodies = []
        for headers in ({}, auth("sk_test_" + "y" * 32), auth(keys.revoked)):
            response = client.get("/v1/ping", headers=headers)
            assert response.status_code == 401
            body = response.json()
            assert response.headers["X-Correlation-ID"] == body["error"]["correlationId"]
            assert CORRELATION.match(body["error"]["correlationId"])
            body["error"].pop("correlationId")
            body["meta"].pop("timestamp")
            bodies.append(body)
        assert (
            bodies[0]
            == bodies[1]
            == bodies[2]
            == {
                "success": False,
                "error": {
                    "code": "UNAUTHORIZED",
                    "message": "Missing or invalid API key",
                    "details": {"retryable": False},
                },
                "meta": {"path": "/v1/ping", "method": "GET"},
            }
        )

    def test_unknown_route_and_wrong_method(self, client):
        missing = client.get("/v1/nowhere")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")
        wrong = client.delete("/v1/ping")
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "METHOD_NOT_ALLOWED")

    def test_unexpected_exceptions_are_a_500_envelope_without_a_trace(self, built_home):
        settings, _ = built_home
        app = create_app(settings)

        @app.get("/boom")
        def boom():
            raise RuntimeError("secret internals")

        with TestClient(app, raise_server_exceptions=False) as local:
            response = local.get("/boom")
        assert response.status_code == 500
        body = response.json()
        assert body["error"]["code"] == "INTERNAL_ERROR"
        assert "secret" not in response.text and "Traceback" not in response.text
        assert response.headers["X-Correlation-ID"] == body["error"]["correlationId"]

    def test_ping_names_the_organization(self, client, keys):
        body = client.get("/v1/ping", headers=auth(keys.globex)).json()
        assert (body["ok"], body["organizationId"], body["scopes"]) == (
            True,
            "globex",
            ["costs:read"],
        )


class TestRateLimit:
    def test_bursts_over_the_limit_get_429_with_retry_after(self, built_home, keys):
        settings, _ = built_home
        # 0.5 requests/s: a burst of one, the next token after 2 s (no test is that slow)
        app = create_app(settings.model_copy(update={"rate_limit": 0.5}))
        with TestClient(app) as local:
            statuses = [local.get("/v1/ping", headers=auth(keys.acme)) for _ in range(3)]
            other_key = local.get("/v1/ping", headers=auth(keys.globex))
        assert [r.status_code for r in statuses] == [200, 429, 429]
        assert other_key.status_code == 200  # limits are per key
        assert statuses[2].headers["Retry-After"] == "2"
        assert statuses[2].json()["error"] | {"correlationId": None} == {
            "code": "RATE_LIMITED",
            "message": "Rate limit exceeded: retry in 2 s",
            "correlationId": None,
            "details": {"retryable": True},
        }


class TestOpenApi:
    def test_every_endpoint_documents_parameters_and_errors(self, client):
        spec = client.get("/openapi.json").json()
        paths = spec["paths"]
        assert set(paths) == {
            "/v1/ping",
            "/v1/cost-data/summary",
            "/v1/cost-data/by-model",
            "/v1/cost-data/by-provider",
            "/v1/cost-data/explain",
            "/v1/cost-data/forecast",
            "/v1/cost-data/anomalies",
            "/v1/cost-data/trend",
            "/v1/end-user-costs/{externalId}/summary",
            "/v1/end-user-costs/{externalId}/by-model",
            "/v1/usage/events",
            "/v1/usage/events/batch",
            "/v1/metrics",
            "/v1/metrics/{id}",
            "/v1/metrics/{id}/update",
            "/v1/metrics/{id}/delete",
            "/v1/metrics/{id}/value",
            "/v1/limits",
            "/v1/limits/{id}",
            "/v1/limits/{id}/update",
            "/v1/limits/{id}/delete",
            "/v1/limits/{id}/status",
            "/v1/alerts",
            "/v1/webhooks",
            "/v1/webhooks/{id}/delete",
            "/v1/webhooks/{id}/deliveries",
            "/v1/traces",
        }
        for path, item in paths.items():
            for method, operation in item.items():
                responses = operation["responses"]
                assert {"401", "429", "500"} <= set(responses), (method, path)
                assert {"200", "201"} & set(responses), (method, path)
                for parameter in operation.get("parameters", []):
                    assert parameter.get("description"), (path, parameter["name"])
        assert client.get("/docs").status_code == 200


def _reader_on_two_snapshots(folder, v1_rows: int, v2_rows: int):
    """A reader on v1 (a table t of `v1_rows` numbers), and what publishing v2 does to it."""
    for version, rows in (("v1", v1_rows), ("v2", v2_rows)):
        with duckdb.connect(str(folder / f"{version}.duckdb")) as con:
            con.execute("create table t as select range as x from range(?)", [rows])
    current = folder / "current.duckdb"
    current.symlink_to("v1.duckdb")
    reader = SnapshotReader(current)
    reader.refresh()

    def publish_v2():
        link = folder / "next"
        link.symlink_to("v2.duckdb")
        os.replace(link, current)
        reader.refresh()

    return reader, publish_v2


class TestSnapshotSwitch:
    def test_new_requests_see_a_new_snapshot_and_old_cursors_keep_theirs(self, tmp_path):
        reader, publish_v2 = _reader_on_two_snapshots(tmp_path, 1, 2)
        old, _ = reader.cursor()
        publish_v2()
        new, version = reader.cursor()
        assert old.execute("select count(*) from t").fetchone() == (1,)
        assert new.execute("select count(*) from t").fetchone() == (2,)
        assert reader.version == version == "v2"
        reader.stop()

    def test_answers_are_reused_within_a_snapshot_and_never_across(self, tmp_path):
        reader, publish_v2 = _reader_on_two_snapshots(tmp_path, 3, 5)
        queried = []

        def count_above(cursor, floor):
            queried.append(floor)
            return cursor.execute("select count(*) from t where x > ?", [floor]).fetchall()[0][0]

        def ask(floor):
            return asyncio.run(reader.view().answer(("above", floor), count_above, floor))

        assert [ask(0), ask(0), ask(1), ask(0)] == [2, 2, 1, 2]
        assert queried == [0, 1]  # the repeated question was answered from memory
        publish_v2()
        assert [ask(0), ask(0)] == [4, 4]
        assert queried == [0, 1, 0]
        reader.stop()

    def test_answer_cache_keeps_the_most_recently_used(self):
        cache = AnswerCache(2)
        cache.put("a", 1)
        cache.put("b", 2)
        assert cache.get("a") == 1  # now b is the least recently used
        cache.put("c", 3)
        assert [cache.get(k) for k in ("a", "c")] == [1, 3]
        assert cache.get("b") is MISSING
        off = AnswerCache(0)
        off.put("a", 1)
        assert off.get("a") is MISSING
