"""Metric definitions: created, read, updated and soft-deleted in the control store."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import sqlalchemy as sa

from api.errors import NotFound, ValidationFailed
from api.metrics.schemas import MetricCreate, MetricDefinition, MetricUpdate
from api.periods import iso_ms
from core import metric_sandbox, metric_sql
from core.sql import load_sql

_SQL = Path(__file__).parent / "sql"
_ALPHABET = string.ascii_letters + string.digits
SIMPLE_FIELDS = ("aggregationType", "eventName", "valueType")
IMMUTABLE_FIELDS = ("queryType", "aggregationType", "valueType")
# what a STRING value can be aggregated with; NUMERIC takes every aggregation but UNIQUE_COUNT
STRING_AGGREGATIONS = ("COUNT", "UNIQUE_COUNT")


class MetricNotFound(NotFound):
    code = "METRIC_NOT_FOUND"


class InvalidMetric(ValidationFailed):
    pass


class InvalidMetricSql(ValidationFailed):
    code = "INVALID_METRIC_SQL"


@cache
def _sql(name: str) -> sa.TextClause:
    return sa.text(load_sql(_SQL, name))


@cache
def _select(name: str) -> sa.TextualSelect:
    # typed columns: SQLite hands datetimes back as text otherwise
    return _sql(name).columns(created_at=sa.DateTime, updated_at=sa.DateTime)


@dataclass(frozen=True)
class Metric:
    metric_id: str
    organization_id: str
    name: str
    description: str | None
    query_type: str
    aggregation_type: str | None
    event_name: str | None
    value_type: str | None
    sql_definition: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    def public(self) -> MetricDefinition:
        return MetricDefinition(
            id=self.metric_id,
            name=self.name,
            description=self.description,
            queryType=self.query_type,
            aggregationType=self.aggregation_type,
            eventName=self.event_name,
            valueType=self.value_type,
            sqlDefinition=self.sql_definition,
            createdAt=iso_ms(self.created_at.replace(tzinfo=UTC)),
            updatedAt=iso_ms(self.updated_at.replace(tzinfo=UTC)),
        )


def new_metric_id() -> str:
    return "met_" + "".join(secrets.choice(_ALPHABET) for _ in range(22))


def list_metrics(store: sa.Engine, organization_id: str) -> list[Metric]:
    with store.connect() as con:
        rows = con.execute(
            _select("select_metrics"), {"organization_id": organization_id, "metric_id": None}
        )
        return [Metric(*row) for row in rows]


def get_metric(store: sa.Engine, organization_id: str, metric_id: str) -> Metric:
    """The organization's live metric; 404 for unknown, deleted and other organizations' ids."""
    with store.connect() as con:
        row = con.execute(
            _select("select_metrics"), {"organization_id": organization_id, "metric_id": metric_id}
        ).first()
    if row is None:
        raise MetricNotFound(f"Metric not found: {metric_id}")
    return Metric(*row)


def create_metric(
    store: sa.Engine,
    organization_id: str,
    body: MetricCreate,
    now: datetime,
    limits: metric_sandbox.SandboxLimits,
) -> Metric:
    fields = body.model_dump()
    check_definition(fields, limits)
    metric_id = new_metric_id()
    with store.begin() as con:
        con.execute(
            _sql("insert_metric"),
            {
                "metric_id": metric_id,
                "organization_id": organization_id,
                "name": fields["name"],
                "description": fields["description"],
                "query_type": fields["queryType"],
                "aggregation_type": fields["aggregationType"],
                "event_name": fields["eventName"],
                "value_type": fields["valueType"],
                "sql_definition": fields["sqlDefinition"],
                "now": now.astimezone(UTC).replace(tzinfo=None),
            },
        )
    return get_metric(store, organization_id, metric_id)


def update_metric(
    store: sa.Engine,
    organization_id: str,
    metric_id: str,
    body: MetricUpdate,
    now: datetime,
    limits: metric_sandbox.SandboxLimits,
) -> Metric:
    current = get_metric(store, organization_id, metric_id)
    fields = current.public().model_dump()
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for name in IMMUTABLE_FIELDS:
        if name in changes and changes[name] != fields[name]:
            raise InvalidMetric(
                f"{name} cannot change after creation (it is {fields[name]}); "
                "create a new metric instead"
            )
    if "name" in changes and changes["name"] is None:
        raise InvalidMetric("name cannot be null")
    fields.update(changes)
    check_definition(fields, limits)
    with store.begin() as con:
        con.execute(
            _sql("update_metric"),
            {
                "organization_id": organization_id,
                "metric_id": metric_id,
                "name": fields["name"],
                "description": fields["description"],
                "event_name": fields["eventName"],
                "sql_definition": fields["sqlDefinition"],
                "now": now.astimezone(UTC).replace(tzinfo=None),
            },
        )
    return get_metric(store, organization_id, metric_id)


def delete_metric(store: sa.Engine, organization_id: str, metric_id: str, now: datetime) -> None:
    with store.begin() as con:
        deleted = con.execute(
            _sql("delete_metric"),
            {
                "organization_id": organization_id,
                "metric_id": metric_id,
                "now": now.astimezone(UTC).replace(tzinfo=None),
            },
        ).rowcount
    if deleted != 1:
        raise MetricNotFound(f"Metric not found: {metric_id}")


def check_definition(fields: dict, limits: metric_sandbox.SandboxLimits) -> None:
    """A simple metric aggregates one event type; indexed and complex ones are SQL."""
    if fields["queryType"] == "simple":
        if missing := [name for name in SIMPLE_FIELDS if not fields.get(name)]:
            raise InvalidMetric(f"A simple metric needs {', '.join(missing)}")
        if fields.get("sqlDefinition") is not None:
            raise InvalidMetric("A simple metric takes no sqlDefinition")
        string_only = fields["aggregationType"] == "UNIQUE_COUNT"
        if fields["valueType"] == "STRING" and fields["aggregationType"] not in STRING_AGGREGATIONS:
            raise InvalidMetric(
                f"{fields['aggregationType']} needs valueType NUMERIC; "
                f"a STRING value takes {' or '.join(STRING_AGGREGATIONS)}"
            )
        if string_only and fields["valueType"] != "STRING":
            raise InvalidMetric("UNIQUE_COUNT counts string values: it needs valueType STRING")
        return
    if present := [name for name in SIMPLE_FIELDS if fields.get(name) is not None]:
        raise InvalidMetric(f"A {fields['queryType']} metric takes no {', '.join(present)}")
    if not fields.get("sqlDefinition"):
        raise InvalidMetric(f"A {fields['queryType']} metric needs sqlDefinition")
    check_sql(fields["sqlDefinition"], limits)


def runnable_sql(sql: str) -> str:
    """The validated query as it will run (cached per text); 400 when it is refused."""
    try:
        return metric_sql.normalize(sql)
    except metric_sql.MetricSqlError as error:
        raise InvalidMetricSql(f"Invalid sqlDefinition: {error}") from None


def check_sql(sql: str, limits: metric_sandbox.SandboxLimits) -> str:
    """As runnable_sql, and the query must bind and return one number (at create, update)."""
    runnable = runnable_sql(sql)
    try:
        # binds it against an empty filtered_events, alone and in the build's correlated form:
        # unknown columns, the result's shape and what the build cannot run show now
        metric_sandbox.check(runnable, limits)
    except metric_sandbox.MetricQueryError as error:
        raise InvalidMetricSql(f"Invalid sqlDefinition: {error}") from None
    return runnable
