"""Limit definitions: created, read, updated and soft-deleted in the control store."""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

import sqlalchemy as sa

from api.errors import NotFound
from api.limits.schemas import (
    LimitCreate,
    LimitDefinition,
    LimitUpdate,
    LimitWindow,
    Measure,
    Subject,
)
from api.metrics import service as metrics
from api.periods import iso_ms, naive_utc
from core.sql import load_sql

_SQL = Path(__file__).parent / "sql"
_ALPHABET = string.ascii_letters + string.digits


class LimitNotFound(NotFound):
    code = "LIMIT_NOT_FOUND"


@cache
def _sql(name: str) -> sa.TextClause:
    return sa.text(load_sql(_SQL, name))


@cache
def _select() -> sa.TextualSelect:
    # typed columns: SQLite hands datetimes back as text otherwise
    return _sql("select_limits").columns(
        hard=sa.Boolean, created_at=sa.DateTime, updated_at=sa.DateTime
    )


@dataclass(frozen=True)
class Limit:
    limit_id: str
    organization_id: str
    name: str
    subject_type: str
    subject_id: str | None
    measure_type: str
    metric_id: str | None
    window_type: str
    window_days: int | None
    limit_amount: Decimal
    thresholds: tuple[int, ...]
    hard: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row) -> Limit:
        fields = dict(row._mapping)
        fields["limit_amount"] = Decimal(fields["limit_amount"])
        fields["thresholds"] = tuple(json.loads(fields["thresholds"]))
        fields["hard"] = bool(fields["hard"])
        return cls(**fields)

    @property
    def subject(self) -> Subject:
        return Subject(type=self.subject_type, id=self.subject_id)

    @property
    def window(self) -> LimitWindow:
        return LimitWindow(type=self.window_type, days=self.window_days)

    def public(self) -> LimitDefinition:
        return LimitDefinition(
            id=self.limit_id,
            name=self.name,
            subject=self.subject,
            measure=Measure(type=self.measure_type, metricId=self.metric_id),
            window=self.window,
            limit=float(self.limit_amount),
            thresholds=list(self.thresholds),
            hard=self.hard,
            createdAt=iso_ms(self.created_at.replace(tzinfo=UTC)),
            updatedAt=iso_ms(self.updated_at.replace(tzinfo=UTC)),
        )


def new_limit_id() -> str:
    return "lim_" + "".join(secrets.choice(_ALPHABET) for _ in range(22))


def list_limits(store: sa.Engine, organization_id: str | None) -> list[Limit]:
    """One organization's live limits, or (None) every organization's."""
    with store.connect() as con:
        rows = con.execute(_select(), {"organization_id": organization_id, "limit_id": None})
        return [Limit.from_row(row) for row in rows]


def get_limit(store: sa.Engine, organization_id: str, limit_id: str) -> Limit:
    """The organization's live limit; 404 for unknown, deleted and other organizations' ids."""
    with store.connect() as con:
        row = con.execute(
            _select(), {"organization_id": organization_id, "limit_id": limit_id}
        ).first()
    if row is None:
        raise LimitNotFound(f"Limit not found: {limit_id}")
    return Limit.from_row(row)


def create_limit(store: sa.Engine, organization_id: str, body: LimitCreate, now: datetime) -> Limit:
    if body.measure.type == "metric":  # the organization's live metric, or a 404
        metrics.get_metric(store, organization_id, body.measure.metricId)
    limit_id = new_limit_id()
    with store.begin() as con:
        con.execute(
            _sql("insert_limit"),
            {
                "limit_id": limit_id,
                "organization_id": organization_id,
                "name": body.name,
                "subject_type": body.subject.type,
                "subject_id": body.subject.id,
                "measure_type": body.measure.type,
                "metric_id": body.measure.metricId,
                **_changeable(body.window, body.limit, body.thresholds, body.hard),
                "now": naive_utc(now),
            },
        )
    return get_limit(store, organization_id, limit_id)


def update_limit(
    store: sa.Engine, organization_id: str, limit_id: str, body: LimitUpdate, now: datetime
) -> Limit:
    current = get_limit(store, organization_id, limit_id)
    sent = body.model_fields_set
    with store.begin() as con:
        con.execute(
            _sql("update_limit"),
            {
                "organization_id": organization_id,
                "limit_id": limit_id,
                "name": body.name if "name" in sent and body.name else current.name,
                **_changeable(
                    body.window if body.window is not None else current.window,
                    body.limit if body.limit is not None else current.limit_amount,
                    body.thresholds if body.thresholds is not None else list(current.thresholds),
                    body.hard if body.hard is not None else current.hard,
                ),
                "now": naive_utc(now),
            },
        )
    return get_limit(store, organization_id, limit_id)


def delete_limit(store: sa.Engine, organization_id: str, limit_id: str, now: datetime) -> None:
    with store.begin() as con:
        deleted = con.execute(
            _sql("delete_limit"),
            {"organization_id": organization_id, "limit_id": limit_id, "now": naive_utc(now)},
        ).rowcount
    if deleted != 1:
        raise LimitNotFound(f"Limit not found: {limit_id}")


def _changeable(window: LimitWindow, amount: Decimal, thresholds: list[int], hard: bool) -> dict:
    return {
        "window_type": window.type,
        "window_days": window.days,
        "limit_amount": str(amount),
        "thresholds": json.dumps(thresholds),
        "hard": hard,
    }
