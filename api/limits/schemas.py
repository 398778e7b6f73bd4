"""Limits: a budget (cost) or an entitlement (a metric) over a window (docs/limits.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SubjectType = Literal["organization", "end_user", "feature", "model", "provider"]
WindowType = Literal["calendar_month", "calendar_day", "rolling_days"]
# the subjects a metric limit can have: its values are per customer (end user) or overall
METRIC_SUBJECTS = ("organization", "end_user")
MAX_ROLLING_DAYS = 400
MAX_THRESHOLDS = 10


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Subject(_Strict):
    type: SubjectType = Field(
        description="organization, or end_user, feature, model or provider: with `id` one of "
        "them, without `id` each of them separately."
    )
    id: str | None = Field(
        default=None, min_length=1, max_length=255, description="The one subject, if one."
    )

    @model_validator(mode="after")
    def _organization_has_no_id(self) -> Subject:
        if self.type == "organization" and self.id is not None:
            raise ValueError("an organization subject takes no id")
        return self


class Measure(_Strict):
    type: Literal["cost", "metric"] = Field(
        description="cost: USD from the cost marts; metric: a metric's value."
    )
    metricId: str | None = Field(  # noqa: N815
        default=None, max_length=64, description="The metric (met_…), for a metric measure."
    )

    @model_validator(mode="after")
    def _metric_needs_an_id(self) -> Measure:
        if (self.type == "metric") != (self.metricId is not None):
            raise ValueError("metricId is needed by a metric measure and taken by no other")
        return self


class LimitWindow(_Strict):
    type: WindowType = Field(
        description="calendar_month, calendar_day, or rolling_days (the days × 24 hours "
        "ending now)."
    )
    days: int | None = Field(
        default=None, ge=1, le=MAX_ROLLING_DAYS, description="rolling_days: how many days."
    )

    @model_validator(mode="after")
    def _days_only_when_rolling(self) -> LimitWindow:
        if (self.type == "rolling_days") != (self.days is not None):
            raise ValueError("days is needed by rolling_days and taken by no other window")
        return self


def _thresholds(values: list[int] | None) -> list[int] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("thresholds must differ from each other")
    return None if values is None else sorted(values)


Percent = Annotated[int, Field(ge=1, le=1000)]
Amount = Annotated[Decimal, Field(gt=0, le=Decimal("1e12"), decimal_places=6)]
_THRESHOLDS = "Percentages of `limit` (1 – 1000) at which an alert is raised; default [80, 100]."


class LimitCreate(_Strict):
    name: str = Field(min_length=1, max_length=100, description="A name for people.")
    subject: Subject = Field(description="Whose usage.")
    measure: Measure = Field(description="What usage: cost or a metric's value.")
    window: LimitWindow = Field(description="Over which period.")
    limit: Amount = Field(description="The limit: USD for cost, the metric's unit otherwise.")
    thresholds: list[Percent] = Field(
        default=[80, 100], min_length=1, max_length=MAX_THRESHOLDS, description=_THRESHOLDS
    )
    hard: bool = Field(
        default=False, description="true: the status answers hasAccess false at or over it."
    )

    @model_validator(mode="after")
    def _checked(self) -> LimitCreate:
        if self.measure.type == "metric" and self.subject.type not in METRIC_SUBJECTS:
            raise ValueError("a metric limit's subject is the organization or an end user")
        self.thresholds = _thresholds(self.thresholds)
        return self


class LimitUpdate(_Strict):
    """Only the fields sent change; subject and measure cannot (create another limit)."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    window: LimitWindow | None = None
    limit: Amount | None = None
    thresholds: list[Percent] | None = Field(
        default=None, min_length=1, max_length=MAX_THRESHOLDS, description=_THRESHOLDS
    )
    hard: bool | None = None

    @model_validator(mode="after")
    def _checked(self) -> LimitUpdate:
        self.thresholds = _thresholds(self.thresholds)
        return self


class LimitDefinition(BaseModel):
    id: str = Field(description="lim_ + 22 letters and digits.")
    name: str
    subject: Subject
    measure: Measure
    window: LimitWindow
    limit: float = Field(description="The limit.")
    thresholds: list[int]
    hard: bool
    createdAt: str = Field(description="When the limit was created (UTC, ISO-8601).")
    updatedAt: str = Field(description="When it last changed (UTC, ISO-8601).")


class DeletedLimit(BaseModel):
    id: str = Field(description="The limit's id.")
    deleted: bool = Field(description="Always true: the limit is gone from lists and checks.")


class LimitStatus(BaseModel):
    limitId: str
    subjectId: str | None = Field(description="The subject checked; null for the organization.")
    usage: float = Field(description="Usage in the period: USD (2 decimals) or the metric's value.")
    limit: float
    remaining: float = Field(description="limit − usage, never below 0.")
    percentUsed: float = Field(description="usage / limit × 100, 2 decimals.")
    hasAccess: bool = Field(description="false only for a hard limit at or over its limit.")
    periodStart: str = Field(description="The period's first instant (UTC).")
    periodEnd: str = Field(description="The period's last instant counted (UTC).")
    resetsAt: str | None = Field(
        description="When a calendar period ends and usage starts again from 0; null for a "
        "rolling window."
    )
    asOf: str = Field(
        description="Metric limits: the request's instant (every acknowledged event counts). "
        "Cost limits: the latest build's (what it priced)."
    )


class Alert(BaseModel):
    id: str = Field(description="alr_ + 22 letters and digits.")
    limitId: str
    subjectId: str | None = Field(description="The subject; null for the organization.")
    threshold: int = Field(description="The percentage of the limit reached.")
    usage: float = Field(description="Usage when the threshold was found reached.")
    limit: float = Field(description="The limit then.")
    periodStart: str = Field(
        description="The calendar period's start; for a rolling window, the UTC day the "
        "threshold was reached (one alert per threshold and day)."
    )
    createdAt: str = Field(description="When the alert was recorded (UTC, ISO-8601).")


class WebhookCreate(_Strict):
    url: str = Field(min_length=1, max_length=2048, description="Where alerts are POSTed.")
    description: str | None = Field(default=None, max_length=500)


class Webhook(BaseModel):
    id: str = Field(description="whk_ + 22 letters and digits.")
    url: str
    description: str | None
    createdAt: str


class WebhookCreated(Webhook):
    secret: str = Field(
        description="whsec_ + 32 letters and digits, shown this once: the key of every "
        "delivery's Tallyhouse-Signature."
    )


class DeletedWebhook(BaseModel):
    id: str
    deleted: bool = Field(description="Always true: nothing more is delivered to it.")


class DeliveryAttempt(BaseModel):
    deliveryId: str
    alertId: str = Field(description="The alert, and the id of the webhook's body.")
    attempt: int = Field(description="1 for the first attempt of this delivery, then 2, …")
    attemptedAt: str
    statusCode: int | None = Field(description="The endpoint's answer; null if none came.")
    error: str | None = Field(description="Why no answer came (timeout, refused, …).")
    delivered: bool = Field(description="Whether this attempt got a 2xx.")
    deliveryStatus: str = Field(description="The delivery now: pending, delivered or failed.")
