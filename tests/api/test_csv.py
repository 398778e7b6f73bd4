"""Every read answers CSV (docs/api.md#csv): the same rows and values as its JSON answer,
asked with `Accept: text/csv` or `?format=csv`; errors stay in the JSON envelope. The rows
each JSON answer should give are named here, endpoint by endpoint."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.api.conftest import auth

USER = "user_1"
# path, query, and where the JSON answer's rows are (None: the answer is one row)
READS = [
    ("/v1/cost-data/summary", {"time_window": "last-30-days"}, None),
    ("/v1/cost-data/by-model", {"time_window": "current-period"}, "breakdown"),
    ("/v1/cost-data/by-provider", {"time_window": "current-period"}, "breakdown"),
    ("/v1/cost-data/trend", {"start_date": "2026-11-01", "end_date": "2026-11-24"}, "series"),
    ("/v1/cost-data/explain", {"start_date": "2026-11-01", "end_date": "2026-11-24"}, "segments"),
    ("/v1/cost-data/forecast", {}, None),
    ("/v1/cost-data/anomalies",
     {"start_date": "2026-11-01", "end_date": "2026-11-24", "by": "model", "min_impact": "0.01"},
     "anomalies"),
    (f"/v1/end-user-costs/{USER}/summary", {}, None),
    (f"/v1/end-user-costs/{USER}/by-model", {}, "breakdown"),
]  # fmt: skip


def cell(value) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value)


def flat(row: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for name, value in row.items():
        if isinstance(value, dict):
            out |= flat(value, f"{prefix}{name}.")
        else:
            out[prefix + name] = cell(value)
    return out


def expected_rows(body, rows_at: str | None) -> list[dict[str, str]]:
    if rows_at is None:
        return [flat({k: v for k, v in body.items() if not isinstance(v, list)})]
    return [flat(item) for item in body[rows_at]]


def parsed(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_each_read_answers_the_same_rows_in_csv(client, keys):
    for path, query, rows_at in READS:
        answer = client.get(path, params=query, headers=auth(keys.acme))
        assert answer.status_code == 200, (path, answer.text)
        rows = expected_rows(answer.json(), rows_at)
        assert rows, path  # something to compare
        for asked in ({"params": {**query, "format": "csv"}},
                      {"params": query, "headers": {"Accept": "text/csv"}}):  # fmt: skip
            headers = {**auth(keys.acme), **asked.pop("headers", {})}
            got = client.get(path, headers=headers, **asked)
            assert got.status_code == 200, (path, got.text)
            assert got.headers["content-type"] == "text/csv; charset=utf-8"
            assert parsed(got.text) == rows, path
            assert got.text.splitlines()[0].split(",") == list(rows[0]), path  # JSON's order


def test_a_metric_value_by_group_is_one_row_per_group(client, keys):
    listed = client.get("/v1/metrics", headers=auth(keys.acme)).json()
    metric = next(m["id"] for m in listed if m["name"] == "EU pages")
    path, query = f"/v1/metrics/{metric}/value", {"groupBy": "region"}
    body = client.get(path, params=query, headers=auth(keys.acme)).json()
    assert len(body["groups"]) > 1
    got = client.get(path, params={**query, "format": "csv"}, headers=auth(keys.acme))
    assert parsed(got.text) == [
        {"key": cell(g["key"]), "value": cell(g["value"])} for g in body["groups"]
    ]
    # without groupBy, the value is one row, its timeframe's fields with a dot
    body = client.get(path, headers=auth(keys.acme)).json()
    (row,) = parsed(client.get(path, params={"format": "csv"}, headers=auth(keys.acme)).text)
    assert row == flat({k: v for k, v in body.items() if k != "groups"})
    assert row["timeframe.type"] == body["timeframe"]["type"]


def test_an_answer_without_rows_still_has_its_header(client, keys):
    got = client.get(
        "/v1/cost-data/anomalies",
        params={"start_date": "2026-11-01", "end_date": "2026-11-01", "min_impact": "1000000",
                "format": "csv"},
        headers=auth(keys.acme),
    )  # fmt: skip
    assert got.text == "date,expected,actual,impact,score\r\n"


@pytest.mark.parametrize(
    ("query", "headers", "status", "message"),
    [
        ({"format": "xml"}, {}, 400, "Invalid format: xml"),
        ({"format": "csv", "time_window": "yesterday"}, {}, 400, "Invalid time_window"),
        ({}, {"Accept": "text/csv", "Authorization": "Bearer sk_nothing"}, 401, "API key"),
    ],
)
def test_errors_stay_in_the_json_envelope(client, keys, query, headers, status, message):
    got = client.get("/v1/cost-data/summary", params=query, headers={**auth(keys.acme), **headers})
    assert got.status_code == status
    assert got.headers["content-type"].startswith("application/json")
    assert message in got.json()["error"]["message"]
