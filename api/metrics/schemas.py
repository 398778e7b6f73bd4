from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

QueryType = Literal["simple", "indexed", "complex"]
AggregationType = Literal[
    "COUNT", "SUM", "MAX", "MIN", "AVG", "UNIQUE_COUNT", "LATEST", "WEIGHTED_SUM"
]
ValueType = Literal["NUMERIC", "STRING"]


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class _MetricFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        default=None, min_length=1, max_length=100, description="A name for people (≤ 100 chars)."
    )
    description: str | None = Field(
        default=None, max_length=1000, description="What the metric counts."
    )
    queryType: QueryType | None = Field(
        default=None,
        description="simple (an aggregation of one event type), indexed (SQL, pre-computed by "
        "each build) or complex (SQL, evaluated on request).",
    )
    aggregationType: AggregationType | None = Field(
        default=None,
        description="Simple metrics: how the events' values are aggregated. LATEST: the value "
        "of the latest event (ties at one instant: the greatest eventId). WEIGHTED_SUM: a "
        "gauge's time-weighted sum in value-hours (each event's value held until the next "
        "event, the last one until the window's end or now; before the first event, the value "
        "of the last event before the window, else 0).",
    )
    eventName: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Simple metrics: the eventType the metric aggregates.",
    )
    valueType: ValueType | None = Field(
        default=None,
        description="Simple metrics: NUMERIC aggregates quantity; STRING counts the events' "
        "string `value`s (UNIQUE_COUNT) or the events (COUNT).",
    )
    sqlDefinition: str | None = Field(
        default=None,
        max_length=10_000,
        description="Indexed and complex metrics: one SELECT over `filtered_events` (CTEs "
        "allowed) returning one number.",
    )

    _query_type = field_validator("queryType", mode="before")(_lower)
    _upper_case = field_validator("aggregationType", "valueType", mode="before")(_upper)


class MetricCreate(_MetricFields):
    name: str = Field(min_length=1, max_length=100, description="A name for people (≤ 100 chars).")
    queryType: QueryType = Field(
        description="simple (an aggregation of one event type), indexed (SQL, pre-computed by "
        "each build) or complex (SQL, evaluated on request)."
    )


class MetricUpdate(_MetricFields):
    """Only the fields sent change; aggregationType, valueType and queryType cannot."""


class Precomputation(BaseModel):
    status: Literal["precomputed", "on_demand", "pending"] = Field(
        description="precomputed: the last build pre-computed this version's values; "
        "on_demand: it could not (see reason), so values are computed on request; pending: "
        "no build has seen this version yet."
    )
    reason: str | None = Field(description="Why the values are not pre-computed, if so.")
    asOf: str | None = Field(description="The build that decided it (its as-of instant).")


class MetricDefinition(BaseModel):
    id: str = Field(
        description="met_ + 22 letters and digits.", examples=["met_4fQx0Lr2bT9mZc8PaK1wYs"]
    )
    name: str = Field(description="A name for people.")
    description: str | None = Field(description="What the metric counts.")
    queryType: QueryType = Field(description="simple, indexed or complex.")
    aggregationType: AggregationType | None = Field(description="Simple metrics only.")
    eventName: str | None = Field(description="Simple metrics only: the eventType aggregated.")
    valueType: ValueType | None = Field(description="Simple metrics only.")
    sqlDefinition: str | None = Field(description="Indexed and complex metrics only.")
    createdAt: str = Field(description="When the metric was created (UTC, ISO-8601).")
    updatedAt: str = Field(description="When it last changed (UTC, ISO-8601).")
    precomputation: Precomputation | None = Field(
        default=None,
        description="Indexed metrics, in GET /v1/metrics/{id}: whether the last build "
        "pre-computed the values, and if not, why.",
    )


class DeletedMetric(BaseModel):
    id: str = Field(description="The metric's id.")
    deleted: bool = Field(description="Always true: the metric is gone from lists and values.")


class TimeframeOut(BaseModel):
    type: Literal["ALL", "RELATIVE", "ABSOLUTE"] = Field(description="ALL, RELATIVE or ABSOLUTE.")
    days: int | None = Field(default=None, description="RELATIVE: the number of days.")
    start: str | None = Field(default=None, description="First instant counted (UTC).")
    end: str | None = Field(
        default=None, description="ABSOLUTE: first instant not counted; RELATIVE: last counted."
    )


class GroupValue(BaseModel):
    key: str | None = Field(
        description="The metadata value of the group's events; null for events without it."
    )
    value: int | float | None = Field(description="The metric over the group's events.")


class MetricValue(BaseModel):
    id: str = Field(description="The metric's id.")
    name: str = Field(description="The metric's name.")
    customerId: str | None = Field(
        description="The customer (the events' userId); null for the organization's value "
        "over all its customers."
    )
    value: int | float | None = Field(
        description="The metric's value; null when there is nothing to aggregate (e.g. MAX "
        "or LATEST of no events). COUNT, SUM, UNIQUE_COUNT and WEIGHTED_SUM of no events are "
        "0."
    )
    groups: list[GroupValue] | None = Field(
        default=None,
        description="With groupBy: the metric per value of that metadata key, by key (null "
        "last); null without groupBy.",
    )
    queryType: QueryType = Field(description="simple, indexed or complex.")
    timeframe: TimeframeOut = Field(description="The timeframe and the instants it covered.")
    precomputed: bool = Field(
        description="True when the value was read from the values the last build pre-computed."
    )
    asOf: str = Field(
        description="The instant the value is as of: the build's for pre-computed values, the "
        "request's otherwise. Values count every event the write API acknowledged before the "
        "request (built or not); events of landing files count from the build that ingests "
        "them."
    )
