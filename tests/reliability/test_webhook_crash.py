"""A server killed (SIGKILL) in the middle of a webhook delivery: after a restart the alert is
still delivered, with the same id and body (docs/limits.md#webhooks)."""

from __future__ import annotations

import json
import os
import signal
import time

import httpx

from api import subprocess_server
from api.keys.service import SCOPES, create_key
from core.control_store import engine_for
from tests.api.webhook_receiver import Receiver, signature_is_valid


def test_a_delivery_cut_by_a_kill_is_made_after_a_restart(home_copy):
    engine = engine_for(home_copy.control_store_url)
    key = create_key(engine, "acme", list(SCOPES), "test", home_copy.clock())[1]
    headers = {"Authorization": f"Bearer {key}"}
    env = {
        **os.environ, "TALLYHOUSE_HOME": str(home_copy.root), "TALLYHOUSE_RATE_LIMIT": "0",
        "TALLYHOUSE_WEBHOOK_ALLOW_PRIVATE": "1", "TALLYHOUSE_WEBHOOK_LEASE_SECONDS": "2",
    }  # fmt: skip
    receiver = Receiver([], hold=True)  # the first attempt never gets its answer
    try:
        process, base = subprocess_server.start(env)
        hook = httpx.post(f"{base}/v1/webhooks", json={"url": receiver.url}, headers=headers).json()
        metric = httpx.post(
            f"{base}/v1/metrics", headers=headers,
            json={"name": "Crash probes", "queryType": "simple", "aggregationType": "COUNT",
                  "eventName": "crash_probe", "valueType": "NUMERIC"},
        ).json()["id"]  # fmt: skip
        httpx.post(
            f"{base}/v1/limits", headers=headers,
            json={"name": "One probe", "subject": {"type": "organization"}, "limit": 1,
                  "measure": {"type": "metric", "metricId": metric},
                  "window": {"type": "calendar_month"}, "thresholds": [100]},
        ).raise_for_status()  # fmt: skip
        event = {"eventType": "crash_probe", "metricName": "probes", "quantity": 1,
                 "idempotencyKey": "crash-1", "userId": "crash-customer"}  # fmt: skip
        assert httpx.post(f"{base}/v1/usage/events", json=event, headers=headers).status_code == 201
        receiver.wait_for(1)  # the server is in the middle of delivering it
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        receiver.release()
        process, base = subprocess_server.start(env)  # the same home, restarted
        try:
            receiver.wait_for(2, timeout=30)  # once the dead process's lease has passed
            time.sleep(1.0)
            assert len(receiver.received) == 2
            (first_headers, first), (then_headers, then) = receiver.received
            assert first == then and json.loads(then)["type"] == "limit.threshold_reached"
            for sent_headers, body in receiver.received:
                assert signature_is_valid(
                    hook["secret"], sent_headers["Tallyhouse-Signature"], body
                )
            attempts = httpx.get(
                f"{base}/v1/webhooks/{hook['id']}/deliveries", headers=headers
            ).json()
            # the killed attempt left no record; the one after the restart was taken
            assert [(a["attempt"], a["statusCode"], a["delivered"]) for a in attempts] == [
                (1, 200, True)
            ]
            assert attempts[0]["alertId"] == json.loads(then)["id"]
        finally:
            process.terminate()
            process.wait(timeout=10)
    finally:
        receiver.stop()
