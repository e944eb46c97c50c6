"""The admin in a real browser: Chromium (Debian's) driven by Playwright, against gunicorn.

A superuser builds Logto's quick-start example through the admin pages, copies the secret from the
one-time page, and the test then uses it over HTTP. Screenshots of the main pages are written to
test-artifacts/screenshots/ (the README's walkthrough uses copies of them).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from http import HTTPStatus

import pytest
import requests

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed ([test] extra)")
pytest.importorskip("gunicorn", reason="the browser tests serve the example project with gunicorn")

from tests.e2e_support import REPO  # noqa: E402

from .server import ADMIN_PASSWORD, ADMIN_USER, AdminServer, admin_server  # noqa: E402

#: Debian's package installs `chromium`, Ubuntu's and others `chromium-browser`: found on PATH, wherever it is.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or ""
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="needs Chromium on PATH (`chromium` or `chromium-browser`)"),
]

SHOTS = REPO / "test-artifacts" / "screenshots"
SHOP = "https://shopping.api"
TIMEOUT = 10
UI_TIMEOUT_MS = 15_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    with admin_server(tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: sync_api.Browser, server: AdminServer) -> Iterator[sync_api.Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=server.base_url)
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", ADMIN_USER)
    page.fill("#id_password", ADMIN_PASSWORD)
    follow(page, "input[type=submit]")
    page.wait_for_url("**/admin/")
    try:
        yield page
    finally:
        context.close()


def shot(page: sync_api.Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def messages(page: sync_api.Page) -> str:
    return page.locator("ul.messagelist").inner_text()


def choose(page: sync_api.Page, field: str, label: str) -> None:
    """Move one option to the "chosen" box of a filter_horizontal picker."""
    page.locator(f"#id_{field}_from option", has_text=label).dblclick()
    assert page.locator(f"#id_{field}_to option", has_text=label).count() == 1


def get_token(server: AdminServer, client_id: str, secret: str, scope: str) -> str:
    response = requests.post(
        server.url("/oidc/token"),
        auth=(client_id, secret),
        data={"grant_type": "client_credentials", "resource": SHOP, "scope": scope},
        timeout=TIMEOUT,
    )
    assert response.status_code == HTTPStatus.OK, response.text
    return str(response.json()["access_token"])


def products(server: AdminServer, token: str, method: str = "GET") -> requests.Response:
    return requests.request(
        method,
        server.url("/products"),
        headers={"Authorization": f"Bearer {token}"},
        json={"name": "Desk lamp", "price": "25.00"} if method == "POST" else None,
        timeout=TIMEOUT,
    )


def follow(page: sync_api.Page, target: str | sync_api.Locator) -> None:
    """Click something that loads another page (a save button, a link, a form's submit), and return once that
    page has loaded. Read straight after a click, the page can still be the old one or a half-parsed new one
    (seen on loaded CI machines: a table read as "", a section not parsed yet), so every assertion about the
    next page comes after this."""
    with page.expect_navigation(wait_until="load"):
        if isinstance(target, str):
            page.click(target)
        else:
            target.click()
    page.wait_for_load_state("load")


def test_quick_start_through_the_admin(page: sync_api.Page, server: AdminServer) -> None:
    shot(page, "01-admin-index")

    # The API resource with its two scopes, inline.
    page.goto("/admin/logto_m2m/resource/add/")
    page.fill("#id_name", "Online shopping")
    page.fill("#id_indicator", SHOP)
    page.fill("#id_scopes-0-name", "read:products")
    page.fill("#id_scopes-0-description", "Read the product catalogue")
    page.fill("#id_scopes-1-name", "write:products")
    page.fill("#id_scopes-1-description", "Create and change products")
    shot(page, "02-resource-add")
    follow(page, "input[name=_save]")
    assert "was added successfully" in messages(page)
    assert page.locator("#result_list tbody tr").count() == 1
    shot(page, "03-resource-list")

    # A role holding read:products, picked by "indicator · scope".
    page.goto("/admin/logto_m2m/role/add/")
    page.fill("#id_name", "Shop reader")
    page.fill("#id_description", "Reads products")
    choose(page, "scopes", f"{SHOP} · read:products")
    shot(page, "04-role-add")
    follow(page, "input[name=_save]")
    assert "was added successfully" in messages(page)

    # The app holding that role; the one-time page shows its credentials.
    page.goto("/admin/logto_m2m/m2mapplication/add/")
    page.fill("#id_name", "Order stats")
    page.fill("#id_description", "Daily order statistics")
    choose(page, "roles", "Shop reader")
    shot(page, "05-application-add")
    follow(page, "input[name=_save]")
    client_id = page.locator("#m2m-client-id").inner_text().strip()
    secret = page.locator("#m2m-client-secret").inner_text().strip()
    assert re.fullmatch(r"[0-9a-z]{21}", client_id)
    assert re.fullmatch(r"[0-9A-Za-z]{43}", secret)
    curl = page.locator("pre.m2m-snippet-curl").first.inner_text()
    assert f"{server.url('/oidc/token')}" in curl and f"resource={SHOP}" in curl and "scope=read:products" in curl
    shot(page, "06-application-credentials")

    # The secret works over HTTP; the token carries read:products only.
    token = get_token(server, client_id, secret, "read:products write:products")
    assert products(server, token).status_code == HTTPStatus.OK
    denied = products(server, token, "POST")
    assert denied.status_code == HTTPStatus.FORBIDDEN
    assert 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]

    # Never shown again: the change page has the permissions but not the secret.
    follow(page, "#m2m-done")
    assert secret not in page.content()
    assert "read:products" in page.locator(".field-effective_permissions").inner_text()
    shot(page, "07-application-change")

    # A named secret, shown once too; it works alongside the first one.
    follow(page, "text=Add a secret")
    page.fill("#id_name", "production 2026")
    page.select_option("#id_expires_in", "90")
    shot(page, "07b-secret-add")
    follow(page, "input[type=submit]")
    named = page.locator("#m2m-client-secret").inner_text().strip()
    assert named != secret
    shot(page, "07c-secret-created")
    get_token(server, client_id, named, "read:products")
    follow(page, "#m2m-done")
    secrets_table = page.locator("#secrets-group").inner_text()
    assert "production 2026" in secrets_table and named not in page.content()

    page.goto("/admin/logto_m2m/m2mapplication/")
    assert "Shop reader" in page.locator("#result_list").inner_text()
    shot(page, "08-application-list")

    page.goto("/admin/logto_m2m/tokenactivity/")
    activity = page.locator("#result_list tbody tr").first.inner_text()
    assert "Order stats" in activity and "read:products" in activity and "Success" in activity
    shot(page, "09-token-activity")

    page.goto("/admin/logto_m2m/tokenactivity/inspect/")
    page.fill("#id_token", token)
    page.fill("#id_audience", SHOP)
    page.fill("#id_required_scopes", "write:products")
    follow(page, "input[type=submit]")
    assert "403 insufficient_scope" in page.locator("#m2m-verdict").inner_text()
    shot(page, "10-token-inspector")


ROTATION_APP = f"""
import json
from logto_m2m_django.models import Resource, Role, Scope
from logto_m2m_django.provisioning import create_application
resource, _ = Resource.objects.get_or_create(indicator="{SHOP}", defaults={{"name": "Online shopping"}})
scope, _ = Scope.objects.get_or_create(resource=resource, name="read:products")
role = Role.objects.create(name="Rotation reader")
role.scopes.add(scope)
app, secret = create_application("Rotation app", roles=[role])
print(json.dumps({{"client_id": app.client_id, "client_secret": secret}}))
"""


def test_rotating_the_key_keeps_old_tokens_valid(page: sync_api.Page, server: AdminServer) -> None:
    # Its own app (not `m2m demo`, which refuses to touch the resource the quick-start test created).
    demo = json.loads(server.manage("shell", "-c", ROTATION_APP).strip().splitlines()[-1])
    old_token = get_token(server, demo["client_id"], demo["client_secret"], "read:products")
    assert products(server, old_token).status_code == HTTPStatus.OK

    page.goto("/admin/logto_m2m/signingkey/")
    assert page.locator("#result_list tbody tr").count() == 1
    follow(page, "button[value=immediate]")
    assert "signs new tokens now" in messages(page)
    statuses = page.locator("#result_list td.field-status").all_inner_texts()
    assert sorted(statuses) == ["Current", "Previous"]
    shot(page, "11-signing-keys")

    assert products(server, old_token).status_code == HTTPStatus.OK
    new_token = get_token(server, demo["client_id"], demo["client_secret"], "read:products")
    assert products(server, new_token).status_code == HTTPStatus.OK
