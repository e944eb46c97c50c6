"""The M2M dashboard and the token-activity list in Chromium, against gunicorn.

Token requests of every kind are made over HTTP (successes, a wrong secret, an unknown API, and
caller-supplied text as long as the columns hold), then the pages are read in the browser. The
dashboard's screenshot is written to test-artifacts/screenshots/ (the README links a copy in
docs/screenshots/).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
import requests

from .test_admin_browser import CHROMIUM, SHOP, TIMEOUT, UI_TIMEOUT_MS, shot, sync_api
from .test_admin_browser import browser as browser  # the shared fixture
from .test_admin_browser import server as server  # the shared fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="needs Chromium on PATH (`chromium` or `chromium-browser`)"),
]

LONG = "x" * 240


def token_request(server: Any, client_id: str, secret: str, **data: str) -> requests.Response:
    return requests.post(
        server.url("/oidc/token"),
        auth=(client_id, secret),
        data={"grant_type": "client_credentials", "resource": SHOP, **data},
        headers={"User-Agent": f"batch-job/{LONG}"},
        timeout=TIMEOUT,
    )


@pytest.fixture(scope="module")
def traffic(server: Any) -> dict[str, str]:
    demo = json.loads(server.manage("m2m", "demo", "--json").strip().splitlines()[-1])
    client_id, secret = demo["client_id"], demo["client_secret"]
    for _ in range(3):
        assert token_request(server, client_id, secret, scope="read:products").status_code == HTTPStatus.OK
    asked = f"read:products write:products unknown:{LONG}"
    assert token_request(server, client_id, secret, scope=asked).status_code == HTTPStatus.OK
    assert token_request(server, client_id, "wrong-secret").status_code == HTTPStatus.UNAUTHORIZED
    unknown_api = f"https://{'a' * 200}.example/api"
    assert token_request(server, client_id, secret, resource=unknown_api).status_code == HTTPStatus.BAD_REQUEST
    assert token_request(server, f"n{'o' * 60}body", "secret").status_code == HTTPStatus.UNAUTHORIZED
    return dict(demo)


def login(browser: sync_api.Browser, server: Any, width: int, height: int) -> Iterator[sync_api.Page]:
    from .server import ADMIN_PASSWORD, ADMIN_USER

    context = browser.new_context(viewport={"width": width, "height": height}, base_url=server.base_url)
    context.set_default_timeout(UI_TIMEOUT_MS)
    # Nothing may be fetched from anywhere but the server under test (no CDN).
    outside: list[str] = []

    def refuse(route: Any) -> None:
        outside.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^(?!" + re.escape(server.base_url) + ").*"), refuse)
    page = context.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", ADMIN_USER)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    try:
        yield page
        assert outside == []
    finally:
        context.close()


@pytest.fixture
def wide(browser: sync_api.Browser, server: Any) -> Iterator[sync_api.Page]:
    yield from login(browser, server, 1440, 900)


@pytest.fixture
def laptop(browser: sync_api.Browser, server: Any) -> Iterator[sync_api.Page]:
    yield from login(browser, server, 1280, 800)


def test_dashboard_from_the_admin_index(wide: sync_api.Page, traffic: dict[str, str]) -> None:
    page = wide
    page.click("#content-main a:text-is('M2M dashboard')")
    page.wait_for_url("**/tokenactivity/dashboard/")
    assert page.locator("#m2m-summary").inner_text() == "7 token requests in the last 7 days"
    chart = page.locator("svg#m2m-requests-chart")
    box = chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 150
    assert chart.locator("g.m2m-bar").count() == 7
    # Today's bar: its segments drawn (successes and each refusal), its tooltip saying what it holds.
    today = chart.locator("g.m2m-bar").last
    assert today.locator("rect.m2m-s-ok").count() == 1
    assert today.locator("rect.m2m-s-1, rect.m2m-s-2").count() == 2
    title = today.locator("title").text_content() or ""
    assert title.endswith(": 7 requests: 4 successes, 2 invalid_client, 1 invalid_target"), title
    apps = page.locator("#m2m-apps tbody tr")
    first = apps.first.inner_text()
    assert "Order stats" in first and "invalid_client" in first
    assert "Unknown clients" in page.locator("#m2m-apps").inner_text()
    assert traffic["client_id"] not in page.locator("#m2m-keys").inner_text()
    assert page.locator("#m2m-keys tbody tr").count() == 1
    assert "not recorded" in page.locator("#m2m-throttled-note").inner_text()
    # No horizontal scroll at this width either.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "12-m2m-dashboard")

    page.select_option("#m2m-days", "1")
    page.click("#m2m-dash-form input[type=submit]")
    page.wait_for_url("**/dashboard/?days=1*")
    assert page.locator("svg#m2m-requests-chart g.m2m-bar").count() == 24
    assert page.locator("#m2m-summary").inner_text() == "7 token requests in the last 24 hours"


def test_token_activity_list_fits_1280_pixels(laptop: sync_api.Page, traffic: dict[str, str]) -> None:
    page = laptop
    page.goto("/admin/logto_m2m/tokenactivity/")
    assert page.locator("#result_list tbody tr").count() == 7
    sizes = page.evaluate(
        """() => {
            const table = document.querySelector('#result_list');
            const results = table.closest('.results');
            return {table: table.scrollWidth, results: results.clientWidth,
                    content: document.querySelector('#content').clientWidth,
                    page: document.documentElement.scrollWidth, viewport: window.innerWidth,
                    columns: Array.from(table.querySelectorAll('thead th'))
                        .map(th => th.className + ':' + th.offsetWidth)};
        }"""
    )
    assert sizes["table"] <= sizes["results"] <= sizes["content"], json.dumps(sizes)
    assert sizes["page"] <= sizes["viewport"], sizes
    shot(page, "09b-token-activity-1280")
