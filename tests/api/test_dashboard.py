"""The dashboard (docs/dashboard.md) in a real browser: headless Chromium (Debian's package,
which .ci/run installs when missing) driven by Playwright, on a real server over the session's
warehouse. Every figure a page shows is compared with the API's answer to the same question."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api import subprocess_server
from api.keys.service import create_key
from core.control_store import engine_for
from tests.api.conftest import auth

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "images"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (.ci/run installs it)"),
]
PAGES = {
    "overview": "/dashboard",
    "explain": "/dashboard/explain?start_date=2026-11-01&end_date=2026-11-24",
    "anomalies": "/dashboard/anomalies?start_date=2026-11-01&end_date=2026-11-24&by=model",
    "end-user": "/dashboard/end-user?id=user_1",
    "metrics": "/dashboard/metrics?metric={eu_pages}",
    "limits": "/dashboard/limits",
}


@pytest.fixture(scope="module")
def site(home_copy_module, tmp_path_factory) -> Iterator[tuple[str, dict[str, str], Path]]:
    """A real server on a copy of the session's warehouse with two limits, its log, and keys:
    one that reads everything, and one that may only write usage."""
    settings = home_copy_module
    engine = engine_for(settings.control_store_url)
    make = lambda scopes: create_key(engine, "acme", scopes, "test", settings.clock())[1]  # noqa: E731
    keys = {"reader": make(["costs:read", "metrics:read", "limits:read"]),
            "writer": make(["usage:write"]), "admin": make(["limits:write"])}  # fmt: skip
    log = tmp_path_factory.mktemp("dashboard") / "server.log"
    env = {**os.environ, "TALLYHOUSE_HOME": str(settings.root), "TALLYHOUSE_RATE_LIMIT": "0"}
    with subprocess_server.running(env, log=log) as base:
        for subject, limit in (({"type": "organization"}, 10), ({"type": "end_user"}, 2)):
            body = {"name": f"Budget {subject['type']}", "subject": subject, "limit": limit,
                    "measure": {"type": "cost"}, "window": {"type": "calendar_month"}}  # fmt: skip
            made = httpx.post(f"{base}/v1/limits", json=body, headers=auth(keys["admin"]))
            assert made.status_code == 201, made.text
        yield base, keys, log


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )  # fmt: skip
        yield launched
        launched.close()


def signed_in(browser, base: str, key: str):
    """A page signed in with `key`, and the console errors seen on it."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/dashboard/login")
    page.fill("input[name=api_key]", key)
    page.click("button[type=submit]")
    return page, errors


def eu_pages(base: str, key: str) -> str:
    """The id of a fixture metric: the SQL sum of EU pages."""
    listed = httpx.get(f"{base}/v1/metrics", headers=auth(key)).json()
    return next(m["id"] for m in listed if m["name"] == "EU pages")


def figures(page) -> dict[str, str]:
    """Each headline figure's data-value, by data-metric (the tiles)."""
    return {
        element.get_attribute("data-metric"): element.get_attribute("data-value")
        for element in page.query_selector_all(".tile [data-metric]")
    }


def test_sign_in_and_out(site, browser):
    base, keys, log = site
    page, errors = signed_in(browser, base, keys["reader"])
    assert page.url == f"{base}/dashboard"
    (cookie,) = page.context.cookies()
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")
    assert keys["reader"] not in cookie["value"] and keys["reader"] not in page.content()
    page.click("text=Sign out")
    assert page.url == f"{base}/dashboard/login" and page.context.cookies() == []
    page.goto(f"{base}/dashboard")
    assert page.url == f"{base}/dashboard/login"  # signed out: back to the form
    assert errors == []
    assert keys["reader"] not in log.read_text()  # nor in the server's log


def test_a_key_without_costs_read_is_refused(site, browser):
    base, keys, _ = site
    page, _ = signed_in(browser, base, keys["writer"])
    assert page.url == f"{base}/dashboard/login"
    assert "lacks the costs:read scope" in page.inner_text("[role=alert]")
    assert page.context.cookies() == []
    page, _ = signed_in(browser, base, "sk_test_" + "x" * 32)
    assert "not a valid API key" in page.inner_text("[role=alert]")


def test_each_page_renders_its_charts_with_their_tables_and_no_console_error(site, browser):
    base, keys, _ = site
    page, errors = signed_in(browser, base, keys["reader"])
    for name, path in PAGES.items():
        response = page.goto(base + path.format(eu_pages=eu_pages(base, keys["reader"])))
        assert response.status == 200, (name, page.inner_text("main")[:400])
        charts = page.query_selector_all("svg[role=img]")
        assert charts, name
        for chart in charts:
            assert chart.get_attribute("aria-label"), name
            # the same numbers in a table in the chart's section
            assert chart.evaluate("c => !!c.closest('section').querySelector('table')"), name
        if os.environ.get("TALLYHOUSE_SCREENSHOTS"):
            page.screenshot(path=str(SCREENSHOTS / f"dashboard-{name}.png"), full_page=True)
    assert errors == []


def test_every_figure_is_the_apis_answer(site, browser):
    base, keys, _ = site
    page, _ = signed_in(browser, base, keys["reader"])
    api = httpx.Client(base_url=base, headers=auth(keys["reader"]))

    def answer(path: str, **params) -> dict:
        return api.get(path, params=params).json()

    summary = answer("/v1/cost-data/summary", time_window="current-period")
    forecast = answer("/v1/cost-data/forecast")
    shown = figures(page)
    for name in ("totalCost", "previousPeriodCost", "changeAmount", "changePercent"):
        assert float(shown[name]) == summary[name], name
    for name in ("forecast", "low", "high"):
        assert float(shown[name]) == forecast[name], name
    trend = answer("/v1/cost-data/trend")
    days = page.query_selector_all("td[data-metric=totalCost]")
    by_day = {d.get_attribute("data-day"): float(d.get_attribute("data-value")) for d in days}
    assert by_day == {p["periodStart"]: p["totalCost"] for p in trend["series"]}

    page.goto(base + PAGES["explain"])
    explained = answer("/v1/cost-data/explain", start_date="2026-11-01", end_date="2026-11-24")
    shown = figures(page)
    for name in ("currentCost", "baseCost", "change"):
        assert float(shown[name]) == explained[name], name
    for name, value in explained["components"].items():
        assert float(shown[f"components.{name}"]) == value, name
    assert sum(explained["components"].values()) == pytest.approx(explained["change"])

    page.goto(base + PAGES["anomalies"])
    unusual = answer("/v1/cost-data/anomalies", start_date="2026-11-01", end_date="2026-11-24",
                     by="model")  # fmt: skip
    assert int(figures(page)["anomalyCount"]) == len(unusual["anomalies"])

    page.goto(base + PAGES["end-user"])
    user = answer("/v1/end-user-costs/user_1/summary")
    shown = figures(page)
    for name in ("totalCost", "previousPeriodCost", "changeAmount"):
        assert float(shown[name]) == user[name], name

    page.goto(base + PAGES["limits"])
    bars = page.query_selector_all("td[data-metric=percentUsed]")
    assert len(bars) == 1 + 5  # the organization's budget, and the 5 costliest end users'
    for cell in bars:
        subject = cell.get_attribute("data-subject") or None
        checked = answer(f"/v1/limits/{cell.get_attribute('data-limit')}/status",
                         **({"subjectId": subject} if subject else {}))  # fmt: skip
        assert float(cell.get_attribute("data-value")) == checked["percentUsed"]

    metric = eu_pages(base, keys["reader"])
    page.goto(base + PAGES["metrics"].format(eu_pages=metric))
    values = page.query_selector_all("td[data-metric=value]")
    assert values
    for cell in values:
        value = answer(
            f"/v1/metrics/{metric}/value", customerId=cell.get_attribute("data-customer")
        )
        assert cell.get_attribute("data-value") == json.dumps(value["value"])


def test_a_bad_question_is_said_on_the_page_not_a_server_error(site, browser):
    base, keys, _ = site
    page, errors = signed_in(browser, base, keys["reader"])
    response = page.goto(f"{base}/dashboard?start_date=2026-11-20&end_date=2026-11-01")
    assert response.status == 400
    assert "end_date 2026-11-01 is before start_date 2026-11-20" in page.inner_text("[role=alert]")
    page.goto(f"{base}/dashboard/end-user?id=nobody-at-all")  # the API's 404, beside the form
    assert page.inner_text("[role=alert]") == "End user not found: nobody-at-all"
    assert page.query_selector("[data-metric]") is None
    assert [e for e in errors if "400" not in e] == []  # the 400 itself is the one console line
