"""The event contract's id: the API's Python and the ingest's SQL macro give the same id."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from core.event_body import EVENT_ID_MACRO, event_id, problem, sql_rules


def test_an_event_id_is_evt_and_the_uuid_of_the_md5_of_organization_and_key():
    # worked by hand: md5("acme\x1fk-1"), its 32 hex digits grouped 8-4-4-4-12
    digest = hashlib.md5(b"acme\x1fk-1").hexdigest()
    expected = f"evt_{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"
    assert event_id("acme", "k-1") == expected


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    organization=st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
    keys=st.lists(st.text(min_size=1, max_size=40).filter(lambda k: "\x00" not in k), max_size=20),
)
def test_the_sql_macro_gives_the_same_id(organization, keys):
    with duckdb.connect() as con:
        con.execute(EVENT_ID_MACRO)
        derived = con.execute(
            "select list_transform($keys, lambda k: event_id($org, k))",
            {"org": organization, "keys": keys},
        ).fetchone()[0]
    assert derived == [event_id(organization, key) for key in keys]
    assert all(uuid.UUID(d.removeprefix("evt_")) for d in derived)


def test_the_future_timestamp_reason_names_the_accepted_lead():
    """The lead is a setting: the reason says what it is, at both doors (the ingest's SQL
    receives the same text)."""
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    body = {"eventType": "e", "metricName": "m", "quantity": 1,
            "timestamp": "2026-11-24T12:10:00Z"}  # fmt: skip
    for lead, text in (
        (timedelta(minutes=5), "5 minutes"),
        (timedelta(seconds=90), "90 seconds"),
        (timedelta(minutes=1), "1 minute"),
    ):
        expected = f"timestamp: more than {text} in the future"
        assert problem(body, now, timedelta(days=400), lead) == expected
        assert sql_rules(lead)["reason_timestamp_future"] == expected
