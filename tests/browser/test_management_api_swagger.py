"""The Swagger UI page of the Management API in a real browser (offline: Swagger UI's files are local).

A developer pastes the App ID and secret printed by ``m2m bootstrap`` under Authorize (OAuth 2.0 client
credentials), then runs ``GET /api/resources`` from the page and sees the built-in Management API resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed ([test] extra)")
pytest.importorskip("gunicorn", reason="the browser tests serve the example project with gunicorn")

from .server import AdminServer, admin_server  # noqa: E402
from .test_admin_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="needs Chromium on PATH (`chromium` or `chromium-browser`)"),
]
UI_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    with admin_server(tmp_path_factory.mktemp("swagger")) as running:
        yield running


@pytest.fixture
def page(server: AdminServer) -> Iterator[sync_api.Page]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=server.base_url)
            context.set_default_timeout(UI_TIMEOUT_MS)
            # Offline for real: any request that leaves the server under test fails.
            context.route(
                re.compile(r"^(?!" + re.escape(server.base_url) + ").*"),
                lambda route: route.abort(),
            )
            yield context.new_page()
        finally:
            browser.close()


def test_authorize_with_app_credentials_and_try_an_endpoint(page: sync_api.Page, server: AdminServer) -> None:
    credentials = json.loads(server.manage("m2m", "bootstrap", "--json"))
    page.goto("/api/docs")
    page.locator(".swagger-ui .auth-wrapper .authorize").click()
    dialog = page.locator(".swagger-ui .dialog-ux")
    dialog.locator("input[id^=client_id]").fill(credentials["client_id"])
    dialog.locator("input[id^=client_secret]").fill(credentials["client_secret"])
    dialog.locator("input[type=checkbox][id^=all]").check(force=True)
    with page.expect_response(lambda r: r.url.endswith("/oidc/token")) as token_response:
        dialog.locator("button.modal-btn.authorize").first.click()
    assert token_response.value.status == 200, token_response.value.text()
    dialog.locator("button.modal-btn", has_text="Logout").first.wait_for()  # authorized
    dialog.locator("button.btn-done").first.click()

    # One section per topic, in the document's order (Swagger UI's tag sections).
    sections = page.locator(".swagger-ui h3.opblock-tag").evaluate_all("hs => hs.map(h => h.dataset.tag)")
    assert sections[:4] == [
        "Applications",
        "API resources",
        "Roles",
        "Organizations",
    ]
    # Swagger UI's element IDs are "operations-<tag>-<operationId>".
    operation = page.locator(".opblock-tag-section", has=page.locator("h3[data-tag='API resources']")).locator(
        "[id$='-api_resources_list']"
    )
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    with page.expect_response(lambda r: "/api/resources" in r.url) as api_response:
        operation.locator("button.execute").click()
    assert api_response.value.status == 200
    assert any(r["indicator"] == credentials["resource"] for r in api_response.value.json())
