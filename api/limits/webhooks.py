"""Webhooks: every alert is POSTed, signed, to each endpoint of its organization, at least once
(docs/limits.md#webhooks).

A delivery row is made for each (alert, endpoint) in the transaction that records the alert,
with the body it will carry, so every attempt sends the same body and id. `WebhookSender`, a
thread in each server process, claims a due delivery for a lease (another process takes it
over if this one dies mid-delivery), POSTs it and records the attempt; a non-2xx answer or a
timeout is retried with exponential backoff and jitter for 24 hours. Scheduling uses the
system clock (real elapsed time), not the pinned "now" of the data.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import string
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from api.errors import NotFound, ValidationFailed
from api.periods import iso_ms, naive_utc
from core.control_store import webhook_attempts, webhook_deliveries, webhook_endpoints

log = logging.getLogger("tallyhouse.api")
_ALPHABET = string.ascii_letters + string.digits
SIGNATURE_HEADER = "Tallyhouse-Signature"
EVENT_TYPE = "limit.threshold_reached"
RETRY_FOR = timedelta(hours=24)
TIMEOUT_SECONDS = 10.0


class WebhookNotFound(NotFound):
    code = "WEBHOOK_NOT_FOUND"


def _id(prefix: str, length: int = 22) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>, keyed
    with the whole secret string (whsec_…) as UTF-8."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def check_url(url: str, allow_private: bool) -> None:
    """An http(s) URL whose host is not private, loopback or link-local (unless allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed("url: an http:// or https:// URL with a host")
    if allow_private:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (OSError, UnicodeError):
        raise ValidationFailed(f"url: {parts.hostname} does not resolve") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved:
            raise ValidationFailed(
                f"url: {parts.hostname} is a private, loopback or link-local address"
            )


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    url: str
    description: str | None
    created_at: datetime

    def public(self) -> dict:
        return {
            "id": self.endpoint_id,
            "url": self.url,
            "description": self.description,
            "createdAt": iso_ms(self.created_at.replace(tzinfo=UTC)),
        }


def create_endpoint(
    store: sa.Engine, organization_id: str, url: str, description: str | None, now: datetime,
    allow_private: bool,
) -> tuple[Endpoint, str]:  # fmt: skip
    check_url(url, allow_private)
    endpoint = Endpoint(_id("whk_"), url, description, naive_utc(now))
    secret = _id("whsec_", 32)
    with store.begin() as con:
        con.execute(
            webhook_endpoints.insert().values(
                endpoint_id=endpoint.endpoint_id, organization_id=organization_id, url=url,
                description=description, secret=secret, created_at=endpoint.created_at,
            )
        )  # fmt: skip
    return endpoint, secret


def list_endpoints(store: sa.Engine, organization_id: str) -> list[Endpoint]:
    c = webhook_endpoints.c
    with store.connect() as con:
        rows = con.execute(
            sa.select(c.endpoint_id, c.url, c.description, c.created_at)
            .where(c.organization_id == organization_id, c.deleted_at.is_(None))
            .order_by(c.created_at, c.endpoint_id)
        ).all()  # fmt: skip
    return [Endpoint(*row) for row in rows]


def delete_endpoint(store: sa.Engine, organization_id: str, endpoint_id: str, now) -> None:
    c = webhook_endpoints.c
    with store.begin() as con:
        deleted = con.execute(
            webhook_endpoints.update()
            .where(c.organization_id == organization_id, c.endpoint_id == endpoint_id)
            .where(c.deleted_at.is_(None))
            .values(deleted_at=naive_utc(now))
        ).rowcount  # fmt: skip
    if deleted != 1:
        raise WebhookNotFound(f"Webhook not found: {endpoint_id}")


def attempts_of(store: sa.Engine, organization_id: str, endpoint_id: str) -> list[dict]:
    """Every attempt to this endpoint, oldest first (404 for another organization's)."""
    if endpoint_id not in {e.endpoint_id for e in list_endpoints(store, organization_id)}:
        raise WebhookNotFound(f"Webhook not found: {endpoint_id}")
    d, a = webhook_deliveries.c, webhook_attempts.c
    with store.connect() as con:
        rows = con.execute(
            sa.select(d.delivery_id, d.alert_id, d.status, a.attempt, a.attempted_at,
                      a.status_code, a.error)
            .join_from(webhook_deliveries, webhook_attempts, a.delivery_id == d.delivery_id)
            .where(d.organization_id == organization_id, d.endpoint_id == endpoint_id)
            .order_by(a.attempted_at, a.attempt_id)
        ).all()  # fmt: skip
    return [
        {
            "deliveryId": row.delivery_id,
            "alertId": row.alert_id,
            "attempt": row.attempt,
            "attemptedAt": iso_ms(row.attempted_at.replace(tzinfo=UTC)),
            "statusCode": row.status_code,
            "error": row.error,
            "delivered": row.status_code is not None and 200 <= row.status_code < 300,
            "deliveryStatus": row.status,
        }
        for row in rows
    ]


def enqueue(con: sa.Connection, organization_id: str, alerts: list[dict], now: datetime) -> None:
    """Inside the transaction that records `alerts` (their webhook bodies' `data`): a delivery
    to each live endpoint of the organization, due at once."""
    c = webhook_endpoints.c
    endpoints = con.execute(
        sa.select(c.endpoint_id).where(c.organization_id == organization_id, c.deleted_at.is_(None))
    ).scalars().all()  # fmt: skip
    if not endpoints or not alerts:
        return
    due = _utcnow()
    bodies = {
        alert["alert"]["id"]: json.dumps(
            {"id": alert["alert"]["id"], "type": EVENT_TYPE, "createdAt": iso_ms(now),
             "data": alert},
            separators=(",", ":"),
        )
        for alert in alerts
    }  # fmt: skip
    con.execute(
        webhook_deliveries.insert(),
        [
            {
                "delivery_id": _id("dlv_"),
                "organization_id": organization_id,
                "endpoint_id": endpoint_id,
                "alert_id": alert_id,
                "body": body,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": due,
                "created_at": due,
            }
            for alert_id, body in bodies.items()
            for endpoint_id in endpoints
        ],
    )


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def backoff(attempt: int, base_seconds: float) -> timedelta:
    """The wait after failed attempt `attempt` (1, 2, …): base × 2^(attempt − 1), at most an
    hour, times a jitter in [0.5, 1.5)."""
    seconds = min(base_seconds * 2 ** (attempt - 1), 3600.0)
    return timedelta(seconds=seconds * random.uniform(0.5, 1.5))


class WebhookSender:
    """In each server process: claims due deliveries, POSTs them, records each attempt."""

    def __init__(
        self, store: sa.Engine, *, allow_private: bool, retry_seconds: float,
        lease_seconds: float, poll_seconds: float = 0.5,
    ) -> None:  # fmt: skip
        self._store = store
        self._allow_private = allow_private
        self._retry = retry_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT_SECONDS + 5)

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self.send_due()
            except Exception:  # the store may be briefly unavailable: next round
                log.exception("webhooks: sending failed")

    def send_due(self) -> int:
        """Deliver what is due and not claimed; how many attempts were made."""
        now = _utcnow()
        d = webhook_deliveries.c
        with self._store.connect() as con:
            due = con.execute(
                sa.select(d.delivery_id)
                .where(d.status == "pending", d.next_attempt_at <= now)
                .where(sa.or_(d.lease_until.is_(None), d.lease_until < now))
                .order_by(d.next_attempt_at)
                .limit(20)
            ).scalars().all()  # fmt: skip
        sent = 0
        for delivery_id in due:
            if self._claim(delivery_id):
                self._deliver(delivery_id)
                sent += 1
        return sent

    def _claim(self, delivery_id: str) -> bool:
        now = _utcnow()
        d = webhook_deliveries.c
        with self._store.begin() as con:
            return con.execute(
                webhook_deliveries.update()
                .where(d.delivery_id == delivery_id, d.status == "pending")
                .where(sa.or_(d.lease_until.is_(None), d.lease_until < now))
                .values(lease_until=now + self._lease)
            ).rowcount == 1  # fmt: skip

    def _deliver(self, delivery_id: str) -> None:
        d, e = webhook_deliveries.c, webhook_endpoints.c
        with self._store.connect() as con:
            row = con.execute(
                sa.select(d.body, d.attempts, d.created_at, e.url, e.secret, e.deleted_at)
                .join_from(webhook_deliveries, webhook_endpoints, e.endpoint_id == d.endpoint_id)
                .where(d.delivery_id == delivery_id)
            ).one()  # fmt: skip
        attempt, started = row.attempts + 1, _utcnow()
        code, error = None, None
        if row.deleted_at is not None:
            error = "the endpoint was deleted"
        else:
            try:
                check_url(row.url, self._allow_private)
                body = row.body.encode()
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": "Tallyhouse-Webhooks",
                    SIGNATURE_HEADER: sign(row.secret, int(started.replace(tzinfo=UTC).timestamp()), body),
                }  # fmt: skip
                code = httpx.post(
                    row.url, content=body, headers=headers, timeout=TIMEOUT_SECONDS,
                    follow_redirects=False,
                ).status_code  # fmt: skip
            except ValidationFailed as refused:
                error = str(refused)
            except httpx.HTTPError as failed:
                error = f"{type(failed).__name__}: {failed}"[:500]
        delivered = code is not None and 200 <= code < 300
        gave_up = not delivered and (
            row.deleted_at is not None or started - row.created_at >= RETRY_FOR
        )
        status = "delivered" if delivered else "failed" if gave_up else "pending"
        with self._store.begin() as con:
            con.execute(
                webhook_attempts.insert().values(
                    delivery_id=delivery_id, attempt=attempt, attempted_at=started,
                    status_code=code, error=error,
                )
            )  # fmt: skip
            con.execute(
                webhook_deliveries.update()
                .where(d.delivery_id == delivery_id)
                .values(
                    status=status, attempts=attempt, lease_until=None,
                    next_attempt_at=started + backoff(attempt, self._retry),
                )
            )  # fmt: skip
