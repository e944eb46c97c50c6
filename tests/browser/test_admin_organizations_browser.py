"""The admin's Organizations section in a real browser: Chromium (via Playwright) against gunicorn.

A superuser sets up an organization through the admin pages (an organization permission, an organization
role holding it and an API permission, the organization with the demo app as a member holding that role);
the app then gets an organization-level token over HTTP, reads its organization's reports, and the token
inspector explains the token. Screenshots go to test-artifacts/screenshots/ (copies in docs/screenshots/
illustrate the Organizations guide).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from http import HTTPStatus

import pytest
import requests

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed ([test] extra)")
pytest.importorskip("gunicorn", reason="the browser tests serve the example project with gunicorn")

from tests.e2e_support import REPO  # noqa: E402

from . import test_admin_browser as base  # noqa: E402
from .server import ADMIN_PASSWORD, ADMIN_USER, AdminServer, admin_server  # noqa: E402

pytestmark = base.pytestmark
messages = base.messages
follow = base.follow


def choose(page: sync_api.Page, field: str, label: str) -> None:
    """Move one option to the "chosen" box of a filter_horizontal picker (select it, then the arrow)."""
    page.select_option(f"#id_{field}_from", label=label)
    page.click(f"#id_{field}_add")
    assert page.locator(f"#id_{field}_to option", has_text=label).count() == 1


SHOTS = REPO / "test-artifacts" / "screenshots"
SHOP = "https://shopping.api"
MGMT = "https://default.logto.app/api"
TIMEOUT = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    with admin_server(tmp_path_factory.mktemp("browser-orgs")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=base.CHROMIUM, headless=True, args=base.CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: sync_api.Browser, server: AdminServer) -> Iterator[sync_api.Page]:
    """Logged in as the superuser, on this module's own server and database."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=server.base_url)
    context.set_default_timeout(base.UI_TIMEOUT_MS)
    logged_in = context.new_page()
    logged_in.goto("/admin/login/")
    logged_in.fill("#id_username", ADMIN_USER)
    logged_in.fill("#id_password", ADMIN_PASSWORD)
    logged_in.click("input[type=submit]")
    logged_in.wait_for_url("**/admin/")
    try:
        yield logged_in
    finally:
        context.close()


def shot(page: sync_api.Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_organization_setup_through_the_admin(page: sync_api.Page, server: AdminServer) -> None:
    # The shopping demo (API, app and its secret) and the Management API, made by the CLI in another process.
    demo = json.loads(server.manage("m2m", "demo", "--json").strip().splitlines()[-1])
    server.manage("m2m", "bootstrap", "--json")

    page.goto("/admin/logto_m2m/organizationscope/add/")
    page.fill("#id_name", "read:members")
    page.fill("#id_description", "Read the organization's members")
    follow(page, "input[name=_save]")
    assert "was added successfully" in messages(page)

    # An organization role with both kinds of permissions; the Management API's are not offered.
    page.goto("/admin/logto_m2m/organizationrole/add/")
    page.fill("#id_name", "Report reader")
    page.select_option("#id_type", "MachineToMachine")
    choose(page, "scopes", "read:members")
    offered = page.locator("#id_resource_scopes_from").inner_text()
    choose(page, "resource_scopes", f"{SHOP} · read:products")
    assert MGMT not in offered
    shot(page, "org-01-organization-role-add")
    follow(page, "input[name=_save]")
    assert "was added successfully" in messages(page)

    # The organization, with the demo app as a member holding that role (inline).
    page.goto("/admin/logto_m2m/organization/add/")
    page.fill("#id_name", "Acme")
    page.fill("#id_description", "A tenant of our product")
    page.click("#memberships-group .add-row a")
    page.click("#memberships-group .field-application .select2-selection")
    page.fill(".select2-search__field", demo["client_id"][:6])
    page.locator(".select2-results__option", has_text="Order stats").click()
    choose(page, "memberships-0-roles", "Report reader")
    shot(page, "org-02-organization-add")
    follow(page, "input[name=_save]")
    assert "was added successfully" in messages(page)
    follow(page, page.locator("#result_list a", has_text="Acme"))
    organization_id = re.search(r"/organization/([^/]+)/change/", page.url).group(1)  # type: ignore[union-attr]
    assert f"urn:logto:organization:{organization_id}" in page.locator(".field-token_audience").inner_text()
    shot(page, "org-03-organization-change")

    # The application's page lists its organizations and its roles there.
    page.goto("/admin/logto_m2m/m2mapplication/")
    follow(page, page.locator("#result_list a", has_text="Order stats"))
    assert "Acme" in page.content() and "Report reader" in page.content()

    # Over HTTP: an organization-level token of the shopping API reads this organization's reports only.
    response = requests.post(
        server.url("/oidc/token"),
        auth=(demo["client_id"], demo["client_secret"]),
        data={
            "grant_type": "client_credentials",
            "resource": SHOP,
            "organization_id": organization_id,
            "scope": "read:products write:products",
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == HTTPStatus.OK, response.text
    assert response.json()["scope"] == "read:products"
    token = response.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    reports = requests.get(server.url(f"/orgs/{organization_id}/reports"), headers=headers, timeout=TIMEOUT)
    assert reports.status_code == HTTPStatus.OK, reports.text
    other = requests.get(server.url("/orgs/someone-else/reports"), headers=headers, timeout=TIMEOUT)
    assert other.status_code == HTTPStatus.FORBIDDEN

    # The token inspector explains it.
    page.goto("/admin/logto_m2m/tokenactivity/inspect/")
    page.fill("#id_token", token)
    page.fill("#id_audience", SHOP)
    page.fill("#id_required_scopes", "read:products")
    follow(page, "input[type=submit]")
    explanation = page.locator("tr.m2m-check-ok", has_text="Organization").inner_text()
    assert "organization-level API resource token" in explanation and "Acme" in explanation
    assert "Accepted" in page.locator("#m2m-verdict").inner_text()
    shot(page, "org-04-token-inspector")
