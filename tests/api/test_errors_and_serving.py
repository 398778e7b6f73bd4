"""The error envelope everywhere, rate limits, OpenAPI, and switching snapshots."""

from __future__ import annotations

import os
import re

import duckdb
from fastapi.testclient import TestClient

from api.main import create_app
from api.snapshot import SnapshotReader
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
        }
        for path, item in paths.items():
            for method, operation in item.items():
                responses = operation["responses"]
                assert {"401", "429", "500"} <= set(responses), (method, path)
                assert {"200", "201"} & set(responses), (method, path)
                for parameter in operation.get("parameters", []):
                    assert parameter.get("description"), (path, parameter["name"])
        assert client.get("/docs").status_code == 200


class TestSnapshotSwitch:
    def test_new_requests_see_a_new_snapshot_and_old_cursors_keep_theirs(self, tmp_path):
        for version, rows in (("v1", 1), ("v2", 2)):
            with duckdb.connect(str(tmp_path / f"{version}.duckdb")) as con:
                con.execute("create table t as select range as x from range(?)", [rows])
        current = tmp_path / "current.duckdb"
        current.symlink_to("v1.duckdb")
        reader = SnapshotReader(current)
        reader.refresh()
        old, _ = reader.cursor()
        link = tmp_path / "next"
        link.symlink_to("v2.duckdb")
        os.replace(link, current)
        reader.refresh()
        new, version = reader.cursor()
        assert old.execute("select count(*) from t").fetchone() == (1,)
        assert new.execute("select count(*) from t").fetchone() == (2,)
        assert reader.version == version == "v2"
        reader.stop()
