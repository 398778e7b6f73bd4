"""A metric value's timeframe: ALL, RELATIVE (days) or ABSOLUTE (start, end), read from a query string.

Three spellings are accepted (docs/metrics.md):
- a JSON object: ``timeframe={"type":"RELATIVE","days":7}`` (URL-encoded);
- flat parameters: ``timeframe=RELATIVE&days=7``, ``timeframe=ABSOLUTE&start=…&end=…``;
- brackets: ``timeframe[type]=RELATIVE&timeframe[days]=7``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from api.errors import ValidationFailed
from api.organizations import UTC_ZONE
from api.periods import (
    EARLIEST_INSTANT,
    END_OF_TIME,
    iso_ms,
    local_midnight,
    parse_instant,
    rolling_period,
)

TYPES = ("ALL", "RELATIVE", "ABSOLUTE")
FIELDS = ("type", "days", "start", "end")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits: not ², not ٢
_ONE_US = timedelta(microseconds=1)


class InvalidTimeframe(ValidationFailed):
    code = "INVALID_TIMEFRAME"


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC; None on either side means unbounded."""

    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class Timeframe:
    type: str
    days: int | None = None
    start: datetime | None = None
    end: datetime | None = None  # exclusive

    def window(self, now: datetime) -> Window:
        if self.type == "RELATIVE":
            return Window(*rolling_period(self.days, now))
        return Window(self.start, self.end)

    def describe(self, window: Window) -> dict[str, object]:
        """What the answer echoes: the type, and the instants actually counted."""
        if self.type == "ALL":
            return {"type": "ALL"}
        echo: dict[str, object] = {"type": self.type}
        if self.days is not None:
            echo["days"] = self.days
        end = window.end - _ONE_US if self.type == "RELATIVE" else window.end
        echo["start"], echo["end"] = iso_ms(window.start), iso_ms(end)
        return echo


def parse(params: Mapping[str, str], max_days: int, zone: ZoneInfo = UTC_ZONE) -> Timeframe:
    fields = _gather(params)
    kind = str(fields.pop("type", "") or "").upper()
    if not kind:
        kind = "ABSOLUTE" if {"start", "end"} & fields.keys() else "ALL"
        kind = "RELATIVE" if "days" in fields else kind
    if kind not in TYPES:
        raise InvalidTimeframe(f"Invalid timeframe type: {kind}. Valid types: {', '.join(TYPES)}")
    allowed = {"ALL": set(), "RELATIVE": {"days"}, "ABSOLUTE": {"start", "end"}}[kind]
    if extra := sorted(fields.keys() - allowed):
        raise InvalidTimeframe(f"A {kind} timeframe takes no {', '.join(extra)}")
    if kind == "ALL":
        return Timeframe("ALL")
    if kind == "RELATIVE":
        return Timeframe("RELATIVE", days=_days(fields.get("days"), max_days))
    if "start" not in fields or "end" not in fields:
        raise InvalidTimeframe("An ABSOLUTE timeframe needs both start and end")
    start = _instant(fields["start"], "start", end=False, zone=zone)
    end = _instant(fields["end"], "end", end=True, zone=zone)
    if end <= start:
        raise InvalidTimeframe("timeframe end must be after its start")
    return Timeframe("ABSOLUTE", start=start, end=end)


def _gather(params: Mapping[str, str]) -> dict[str, object]:
    """One dict of timeframe fields from whichever spelling the caller used (only one each)."""
    fields: dict[str, object] = {}

    def put(name: str, value: object) -> None:
        if name in fields and fields[name] != value:
            raise InvalidTimeframe(f"timeframe {name} given twice with different values")
        fields[name] = value

    raw = params.get("timeframe")
    if raw is not None and raw.lstrip().startswith("{"):
        try:
            document = json.loads(raw)
        except ValueError:
            raise InvalidTimeframe("timeframe is not valid JSON") from None
        except RecursionError:
            raise InvalidTimeframe("timeframe nests too deeply") from None
        if not isinstance(document, dict):
            raise InvalidTimeframe("timeframe must be a JSON object")
        if unknown := sorted(set(document) - set(FIELDS)):
            raise InvalidTimeframe(f"Unknown timeframe field: {', '.join(unknown)}")
        for name, value in document.items():
            put(name, value)
    elif raw is not None:
        put("type", raw)
    for key, value in params.items():
        match = re.fullmatch(r"timeframe\[(\w+)\]|timeframe\.(\w+)", key)
        if match:
            name = match.group(1) or match.group(2)
            if name not in FIELDS:
                raise InvalidTimeframe(f"Unknown timeframe field: {name}")
            put(name, value)
        elif key in ("days", "start", "end"):
            put(key, value)
    return fields


def _days(value: object, max_days: int) -> int:
    if value is None:
        raise InvalidTimeframe("A RELATIVE timeframe needs days")
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value))
    ):
        raise InvalidTimeframe(f"timeframe days must be a whole number, not {value!r}")
    days = int(value)
    if not 1 <= days <= max_days:
        raise InvalidTimeframe(f"timeframe days must be between 1 and {max_days}")
    return days


def _instant(value: object, name: str, *, end: bool, zone: ZoneInfo) -> datetime:
    """An ISO-8601 instant (no offset: UTC), or a date of the organization's calendar: its
    local midnight, or as `end` the next one (that whole day included)."""
    if not isinstance(value, str):
        raise InvalidTimeframe(f"timeframe {name} must be an ISO-8601 date or date-time")
    text = value.strip()
    try:
        moment = parse_instant(text)
        if _DATE.fullmatch(text):
            day = date.fromisoformat(text)
            moment = local_midnight(day + timedelta(days=1) if end else day, zone)
    except ValueError:
        raise InvalidTimeframe(
            f"timeframe {name} must be an ISO-8601 date or date-time, not {value!r}"
        ) from None
    except OverflowError:  # the day after the calendar's last
        moment = END_OF_TIME + timedelta(days=1)
    if not EARLIEST_INSTANT <= moment <= END_OF_TIME:
        raise InvalidTimeframe(
            f"timeframe {name} must be from {iso_ms(EARLIEST_INSTANT)} to {iso_ms(END_OF_TIME)}"
        )
    return moment
