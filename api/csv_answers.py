"""Every read answers CSV as well as JSON (docs/api.md#csv).

Asked with `Accept: text/csv` (and not JSON before it) or `?format=csv`, a GET answers
`text/csv`: a header row with the JSON field names, then the same rows with the same values.

- The rows: a list answer's items; an object with a list of objects (`breakdown`, `series`,
  `segments`, `anomalies`, `groups`), that list's items; any other object, itself as one row.
- A nested object's fields are columns named with a dot (`segment.model`,
  `timeframe.type`); a list of plain values is one cell, its values joined by `;`.
- Values as JSON writes them: numbers alike, `true` / `false`, null an empty cell.
- Errors stay JSON, in the one envelope; `?format=` other than json or csv is a 400.

`CsvRoute` is the routers' route class: it knows each route's response model, so the header
is there even when there are no rows.
"""

from __future__ import annotations

import csv
import io
import json
import types
import typing
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.errors import ValidationFailed

CSV_TYPE = "text/csv; charset=utf-8"
FORMATS = ("json", "csv")


def wants_csv(request: Request) -> bool:
    """`?format=csv`, or `Accept` naming text/csv before any JSON type; `?format=json` wins
    over `Accept`."""
    asked = request.query_params.get("format")
    if asked is not None:
        if asked not in FORMATS:
            raise ValidationFailed(f"Invalid format: {asked}. Use one of: {', '.join(FORMATS)}")
        return asked == "csv"
    for part in request.headers.get("accept", "").split(","):
        kind = part.split(";")[0].strip().lower()
        if kind == "text/csv":
            return True
        if kind in ("application/json", "*/*", "application/*"):
            return False
    return False


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model inside `annotation` (Model, Model | None), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        found = [_model_of(arg) for arg in typing.get_args(annotation)]
        return next((m for m in found if m is not None), None)
    return None


def _list_model(annotation: Any) -> type[BaseModel] | None:
    """The item model of list[Model] (or list[Model] | None)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        found = [_list_model(arg) for arg in typing.get_args(annotation)]
        return next((m for m in found if m is not None), None)
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return _model_of(item)
    return None


def _columns(model: type[BaseModel] | None, prefix: str = "") -> list[str]:
    """The model's fields as columns, nested models' with a dot; a free-form object's as
    `name.*`, whose keys the rows tell."""
    if model is None:
        return []
    names = []
    for name, field in model.model_fields.items():
        nested = _model_of(field.annotation)
        if nested:
            names.extend(_columns(nested, f"{prefix}{name}."))
        elif typing.get_origin(field.annotation) is dict:
            names.append(f"{prefix}{name}.*")
        else:
            names.append(f"{prefix}{name}")
    return names


class Shape:
    """Where a route's rows are: the answer itself (a list), one of its fields, or none."""

    def __init__(self, response_model: Any) -> None:
        self.rows_field: str | None = None
        item = _list_model(response_model)
        self.is_list = item is not None
        model = item or _model_of(response_model)
        self.row_columns = _columns(model)
        self.item_columns: list[str] = []
        if model is not None and not self.is_list:
            lists = {
                name: _list_model(field.annotation) for name, field in model.model_fields.items()
            }
            lists = {name: found for name, found in lists.items() if found is not None}
            if len(lists) == 1:
                ((self.rows_field, listed),) = lists.items()
                self.item_columns = _columns(listed)
                self.row_columns = [c for c in self.row_columns if c != self.rows_field]

    def rows(self, body: Any) -> tuple[list[str], list[dict[str, Any]]]:
        if self.is_list:
            return self.row_columns, [_flat(item) for item in body]
        if self.rows_field is not None and body.get(self.rows_field) is not None:
            return self.item_columns, [_flat(item) for item in body[self.rows_field]]
        row = _flat({k: v for k, v in body.items() if k != self.rows_field})
        return self.row_columns, [row]


def _flat(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, item in value.items():
        if isinstance(item, dict):
            out.update(_flat(item, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = item
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ";".join(_cell(item) for item in value)
    return json.dumps(value)  # numbers and booleans as JSON writes them


def to_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """The header (the known columns, a free-form object's keys where it stands) and the
    rows."""
    header: list[str] = []
    for column in columns:
        if column.endswith(".*"):
            prefix = column[:-1]
            keys = (name for row in rows for name in row if name.startswith(prefix))
            header.extend(dict.fromkeys(name for name in keys if name not in header))
        else:
            header.append(column)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in header])
    return out.getvalue()


class CsvRoute(APIRoute):
    """A route whose GET answers CSV when asked (module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if "GET" not in self.methods or self.response_model is None:
            return handler
        shape = Shape(self.response_model)

        async def route(request: Request) -> Response:
            wanted = wants_csv(request)
            response = await handler(request)
            if not wanted or response.status_code != 200:
                return response
            columns, rows = shape.rows(json.loads(response.body))
            headers = {
                k: v
                for k, v in response.headers.items()
                if k.lower() not in ("content-length", "content-type")
            }
            return Response(to_csv(columns, rows), media_type=CSV_TYPE, headers=headers)

        return route
