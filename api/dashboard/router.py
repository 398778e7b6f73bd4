"""The dashboard under /dashboard (docs/dashboard.md): pages of the same snapshot and the same
numbers as the API. Each page calls the API's own route functions (or, for metric values over
days, the service they call) with the signed-in key, so a figure on a page is the API's answer
to the same question; the page shows it in `data-metric` / `data-value`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from api.cost_data import router as costs
from api.cost_data.schemas import CostTrend
from api.dashboard import charts, session
from api.deps import organization_zone, snapshot_view
from api.end_user_costs import router as end_users
from api.errors import ApiError
from api.insights import router as insights
from api.keys.service import ApiKey, authenticate_digest, digest_of
from api.limits import router as limits
from api.metrics import router as metrics
from api.metrics import service as metric_service
from api.metrics import timeframe, values
from api.periods import date_range
from api.snapshot import SnapshotView
from core.settings import Settings
from core.sql import load_sql

router = APIRouter(prefix="/dashboard", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
_QUERIES = Path(__file__).parent / "queries"
TOP_MODELS = 8  # the stacked daily chart: the 8 costliest, the rest as "other"
TOP_LIST = 10
SCOPE = "costs:read"


@dataclass(frozen=True)
class Viewer:
    """The signed-in key and what every page reads with it."""

    key: ApiKey
    request: Request
    view: SnapshotView
    now: datetime
    zone: ZoneInfo
    settings: Settings

    @property
    def org(self) -> str:
        return self.key.organization_id

    def calls(self) -> dict[str, Any]:
        """The arguments every API route function takes."""
        return {"key": self.key, "snapshot": self.view, "now": self.now, "zone": self.zone,
                "settings": self.settings}  # fmt: skip

    def dates(self, asked: bool = True) -> tuple[str, str]:
        """The page's dates (the From / To control; `asked` False: this month to today) as
        the API resolves them, first and last."""
        params = _dates(self) if asked else {"start_date": None, "end_date": None}
        found = date_range(**params, now=self.now, max_days=self.settings.max_range_days,
                           zone=self.zone)  # fmt: skip
        return found.start.isoformat(), found.end.isoformat()

    async def query(
        self,
        name: str,
        shape: Callable[[list[tuple]], Any] | None = None,
        kind: str = "rows",
        **params: Any,
    ) -> Any:
        """A dashboard query's rows (or `shape` of them, a chart named by `kind`), once per
        snapshot: they depend on nothing else."""

        def run() -> Any:
            cursor = self.view.connection.cursor()
            try:
                sql = load_sql(_QUERIES, name)
                rows = cursor.execute(sql, {"org": self.org, **params}).fetchall()
            finally:
                cursor.close()
            return rows if shape is None else shape(rows)

        key = ("dashboard", name, kind, self.org, tuple(sorted(params.items())))
        return await self.view.remember(key, run, blocking=True)


async def _viewer(request: Request) -> Viewer | None:
    settings: Settings = request.app.state.settings
    now = settings.clock()
    digest = session.verified(settings.root, request.cookies.get(session.COOKIE), now)
    if digest is None:
        return None
    cache = request.app.state.key_cache
    key = cache.remembered_digest(digest) or await run_in_threadpool(cache.get_digest, digest)
    if key is None or SCOPE not in key.scopes:
        return None
    request.state.organization_id = key.organization_id
    view = await snapshot_view(request)  # none yet: the API's 503, said on a page
    return Viewer(key, request, view, now, await organization_zone(request, key), settings)


def _to_login() -> RedirectResponse:
    return RedirectResponse("/dashboard/login", status_code=303)


def _page(
    viewer: Viewer, name: str, title: str, status_code: int = 200, **context: Any
) -> Response:
    return templates.TemplateResponse(
        viewer.request,
        f"{name}.html",
        {
            "title": title,
            "page": name,
            "org": viewer.org,
            "zone": viewer.zone.key,
            "snapshot": viewer.view.version,
            "params": dict(viewer.request.query_params),
            **context,
        },  # fmt: skip
        status_code=status_code,
    )


# --- signing in -------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return templates.TemplateResponse(request, "login.html", {"title": "Sign in", "message": None})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """The form's `api_key` (application/x-www-form-urlencoded, as a browser posts it)."""
    settings: Settings = request.app.state.settings
    form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
    api_key = (form.get("api_key") or [""])[0]
    digest = digest_of(api_key.strip())
    key = await run_in_threadpool(authenticate_digest, request.app.state.store, digest)
    if key is None:
        message, status_code = "That key is not a valid API key.", 401
    elif SCOPE not in key.scopes:
        message, status_code = f"That key lacks the {SCOPE} scope the dashboard needs.", 403
    else:
        response = RedirectResponse("/dashboard", status_code=303)
        response.set_cookie(
            session.COOKIE,
            session.issue(settings.root, digest, settings.clock()),
            max_age=session.SESSION_HOURS * 3600,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/dashboard",
        )
        return response
    context = {"title": "Sign in", "message": message}
    return templates.TemplateResponse(request, "login.html", context, status_code=status_code)


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(session.COOKIE, path="/dashboard")
    return response


# --- pages ------------------------------------------------------------------------------


def _dates(viewer: Viewer) -> dict[str, str | None]:
    params = viewer.request.query_params
    return {
        "start_date": params.get("start_date") or None,
        "end_date": params.get("end_date") or None,
    }


def _days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


class PageError(Exception):
    """A page that cannot show what was asked: the error page with its message."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


def page(path: str, template: str, title: str) -> Callable:
    """A signed-in page: `build(viewer)` gives the template's context. Without a session,
    the sign-in form; an API error or a PageError, the error page with its message."""

    def register(build: Callable[[Viewer], Awaitable[dict[str, Any]]]) -> Callable:
        @router.get(path, response_class=HTMLResponse, name=f"dashboard_{template}")
        async def route(request: Request) -> Response:
            try:
                viewer = await _viewer(request)
            except ApiError as error:  # signed in, but nothing to show yet
                return HTMLResponse(escape(str(error)), status_code=error.status_code)
            if viewer is None:
                return _to_login()
            try:
                context = await build(viewer)
            except (ApiError, PageError) as error:
                return _page(viewer, "error", title, error.status_code, message=str(error))
            return _page(viewer, template, title, **context)

        return build

    return register


async def _stacked(viewer: Viewer, by: str, trend: CostTrend) -> dict[str, Any]:
    """Cost per day by model (or provider): the TOP_MODELS costliest, the rest as other; and
    the table of it, with each day's total as the trend answers it."""
    first, last = trend.startDate, trend.endDate

    def chart(rows: list[tuple]) -> dict[str, Any]:
        days = _days(first, last)
        totals: dict[str, float] = {}
        for _, segment, cost in rows:
            totals[segment or "(none)"] = totals.get(segment or "(none)", 0.0) + float(cost)
        names = sorted(totals, key=lambda name: (-totals[name], name))
        shown = names[:TOP_MODELS] + (["other"] if len(names) > TOP_MODELS else [])
        grid = {name: [0.0] * len(days) for name in shown}
        index = {day: n for n, day in enumerate(days)}
        for day, segment, cost in rows:
            name = segment or "(none)"
            grid[name if name in grid else "other"][index[day]] += float(cost)
        labels = [day.isoformat()[5:] for day in days]
        series = [(name, grid[name]) for name in shown]
        label = f"Daily cost by {by}, {first} to {last}"
        table = _table(
            label,
            ["day", *shown, "total"],
            [[Markup(f"<td>{day.isoformat()}</td>"), *(_cell(f"{grid[name][n]:.2f}") for name in shown),
              Markup('<td data-metric="totalCost" data-day="{}" data-value="{}">{:.2f}</td>').format(
                  day.isoformat(), json.dumps(point.totalCost), point.totalCost)]
             for n, (day, point) in enumerate(zip(days, trend.series, strict=True))],
        )  # fmt: skip
        return {"svg": charts.stacked_bars(label, labels, series), "label": label, "table": table}

    return await viewer.query("daily_by", chart, "stacked", by=by, first_date=first, last_date=last)


def _cell(text: str) -> Markup:
    return Markup("<td>{}</td>").format(text)


def _table(label: str, header: list[str], rows: list[list[Markup]]) -> Markup:
    """An HTML table: a header row, then rows of ready cells."""
    head = Markup("").join(Markup("<th>{}</th>").format(name) for name in header)
    body = Markup("").join(Markup("<tr>{}</tr>").format(Markup("").join(row)) for row in rows)
    return Markup('<table aria-label="{}"><tr>{}</tr>{}</table>').format(label, head, body)


async def _top(viewer: Viewer, by: str, first: str, last: str, title: str) -> dict[str, Any]:
    def chart(rows: list[tuple]) -> dict[str, Any]:
        names, cost = [r[0] for r in rows], [float(r[1]) for r in rows]
        label = f"{title}, {first} to {last}"
        return {"svg": charts.bars(label, names, cost), "label": label,
                "rows": [(r[0], c, r[2]) for r, c in zip(rows, cost, strict=True)]}  # fmt: skip

    return await viewer.query(
        "top_by", chart, "bars", by=by, first_date=first, last_date=last, top=TOP_LIST
    )


@page("", "overview", "Overview")
async def overview(viewer: Viewer) -> dict[str, Any]:
    month = {"key": viewer.key, "snapshot": viewer.view, "now": viewer.now, "zone": viewer.zone,
             "time_window": "current-period"}  # fmt: skip
    summary = await costs.cost_summary(**month)
    forecast = await insights.cost_forecast(**month)
    trend = await costs.cost_trend(**viewer.calls(), **_dates(viewer), granularity="day")
    first, last = trend.startDate, trend.endDate
    ((events, unpriced),) = await viewer.query("unpriced", first_date=first, last_date=last)
    return dict(
        summary=summary, forecast=forecast, trend=trend,
        unpriced={"events": int(events), "unpriced": int(unpriced),
                  "share": round(100 * int(unpriced) / int(events), 2) if events else 0.0},
        by_model=await _stacked(viewer, "model", trend),
        by_provider=await _stacked(viewer, "provider", trend),
        end_users=await _top(viewer, "end_user", first, last, "Top end users by cost"),
        features=await _top(viewer, "feature", first, last, "Top features by cost"),
    )  # fmt: skip


@page("/explain", "explain", "Explain")
async def explain(viewer: Viewer) -> dict[str, Any]:
    found = await insights.explain_change(**viewer.calls(), **_dates(viewer))
    parts = found.components.model_dump()
    label = (f"Cost from {found.baseStartDate} – {found.baseEndDate} to "
             f"{found.startDate} – {found.endDate}: volume, mix, price, new, discontinued")  # fmt: skip
    svg = charts.waterfall(
        label, ("base", found.baseCost), list(parts.items()), ("current", found.currentCost)
    )
    return {"found": found, "parts": parts, "svg": svg, "label": label}


@page("/anomalies", "anomalies", "Anomalies")
async def anomalies(viewer: Viewer) -> dict[str, Any]:
    by = viewer.request.query_params.get("by") or None
    found = await insights.cost_anomalies(
        **viewer.calls(), **_dates(viewer), by=by, min_impact=None
    )
    names = [
        f"{a.date} {' '.join(str(v) for v in a.segment.values())}".strip() for a in found.anomalies
    ]
    label = f"Unusual days from {found.startDate} to {found.endDate}, by impact"
    svg = charts.bars(label, names, [a.impact for a in found.anomalies])
    return {"found": found, "by": by, "svg": svg, "label": label}


@page("/end-user", "end_user", "End user")
async def end_user(viewer: Viewer) -> dict[str, Any]:
    external = (viewer.request.query_params.get("id") or "").strip()
    context: dict[str, Any] = {"external": external, "summary": None, "message": None}
    if external:
        try:
            calls = {"externalId": external, **viewer.calls(), **_dates(viewer)}
            context["summary"] = await end_users.end_user_summary(**calls)
            context["breakdown"] = await end_users.end_user_by_model(**calls)
        except ApiError as error:  # an id the API refuses: said beside the form
            return context | {"summary": None, "message": str(error)}
        first, last = viewer.dates()
        daily = {day.isoformat(): 0.0 for day in _days(first, last)}
        for day, cost in await viewer.query("end_user_daily", user=external, first_date=first,
                                            last_date=last):  # fmt: skip
            daily[day.isoformat()] = float(cost)
        breakdown = context["breakdown"].breakdown
        context |= {
            "daily": daily,
            "trend_label": f"{external}'s daily cost, {first} to {last}",
            "models_label": f"{external}'s cost by model",
        }
        context["trend_svg"] = charts.line(
            context["trend_label"], [d[5:] for d in daily], list(daily.values())
        )
        context["models_svg"] = charts.bars(context["models_label"], [m.model for m in breakdown],
                                            [m.totalCost for m in breakdown])  # fmt: skip
    return context


@page("/metrics", "metrics", "Metrics")
async def metrics_page(viewer: Viewer) -> dict[str, Any]:
    request = viewer.request
    if "metrics:read" not in viewer.key.scopes:
        raise PageError("This key lacks the metrics:read scope.", 403)
    store = request.app.state.store
    listed = metrics.list_metrics(viewer.key, request)
    chosen = request.query_params.get("metric") or (listed[0].id if listed else None)
    context: dict[str, Any] = {"metrics": listed, "chosen": chosen, "customers": [], "days": {},
                               "message": None}  # fmt: skip
    metric = next((m for m in listed if m.id == chosen), None)
    if metric is not None:
        first, last = viewer.dates()
        definition = metric_service.get_metric(store, viewer.org, metric.id)

        def value(customer: str | None, frame: timeframe.Timeframe) -> float | int | None:
            args = (viewer.view, store, definition, customer, frame, viewer.now, viewer.settings)
            return values.answer(*args).value

        top = await viewer.query(
            "top_by", by="end_user", first_date=first, last_date=last, top=TOP_LIST
        )
        customers = [name for name, *_ in top if name != "(none)"]

        def gather() -> tuple[list, dict]:
            frame = timeframe.parse(
                {"timeframe": "ALL"}, viewer.settings.max_range_days, viewer.zone
            )
            per_customer = [(c, value(c, frame)) for c in customers]
            daily = {}
            for day in _days(first, last):
                frame = timeframe.parse(
                    {"timeframe": "ABSOLUTE", "start": day.isoformat(), "end": day.isoformat()},
                    viewer.settings.max_range_days, viewer.zone,
                )  # fmt: skip
                daily[day.isoformat()] = value(None, frame)
            return per_customer, daily

        try:
            # at most once a minute per snapshot: a value over days of a busy organization
            # runs the metric once per day (docs/dashboard.md#how-fresh)
            minute = viewer.now.replace(second=0, microsecond=0)
            key = ("dashboard-metric", viewer.org, metric.id, metric.updatedAt, first, last, minute)
            per_customer, daily = await viewer.view.remember(key, gather, blocking=True)
        except ApiError as error:  # this metric's values: the definitions stand
            return context | {"metric": None, "message": f"{metric.name}: {error}"}
        numbers = [float(v or 0) for _, v in per_customer]
        context |= {
            "metric": metric,
            "customers": per_customer,
            "days": daily,
            "customers_label": f"{metric.name} per customer (all time)",
            "days_label": f"{metric.name} per day, {first} to {last}",
        }
        context["customers_svg"] = charts.bars(
            context["customers_label"], [c for c, _ in per_customer], numbers, money=False
        )
        context["days_svg"] = charts.line(context["days_label"], [d[5:] for d in daily],
                                          [float(v or 0) for v in daily.values()], money=False)  # fmt: skip
    return context


@page("/limits", "limits", "Limits")
async def limits_page(viewer: Viewer) -> dict[str, Any]:
    request = viewer.request
    if "limits:read" not in viewer.key.scopes:
        raise PageError("This key lacks the limits:read scope.", 403)
    listed = limits.list_limits(viewer.key, request)
    month = viewer.dates(asked=False)
    statuses = []
    for limit in listed:
        subject = limit.subject
        if subject.type == "organization" or subject.id is not None:
            subjects: list[str | None] = [None if subject.type == "organization" else subject.id]
        else:  # each of them: the costliest few this month
            by = "end_user" if subject.type == "end_user" else subject.type
            top = await viewer.query(
                "top_by", by=by, first_date=month[0], last_date=month[1], top=5
            )
            subjects = [name for name, *_ in top if name != "(none)"]
        for subject_id in subjects:
            try:
                status = await limits.limit_status(
                    id=limit.id, key=viewer.key, request=request, view=viewer.view, now=viewer.now,
                    settings=viewer.settings, subjectId=subject_id,
                )  # fmt: skip
            except ApiError:
                continue
            label = f"{limit.name}, {subject_id or 'the organization'}: {status.percentUsed}% used"
            statuses.append((limit, status, charts.meter(label, status.percentUsed)))
    alerts = limits.list_alerts(viewer.key, request, limitId=None, since=None)[-20:][::-1]
    return {"statuses": statuses, "alerts": alerts, "limits": listed}
