"""The web UI in a real browser against a real host: every page, its main actions.

Each test drives headless Chromium (Playwright) through one user story and checks both
what the page shows and what the host did. Waits are Playwright's auto-waiting
``expect`` assertions, never fixed sleeps. Each page leaves a screenshot in
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Locator, Page, Route, expect

from gatehouse.core import hookimpl
from gatehouse.core.http import Panel
from gatehouse.core.http.server import HTTP_SERVER

pytestmark = pytest.mark.anyio

Shoot = Callable[[Page, str], Awaitable[None]]
#: ``conftest.Server`` (not imported: several conftest modules exist in the tree).
Server = Any


def live_status(page: Page) -> Locator:
    return page.locator("#live")


async def log_in(page: Page, username: str, password: str) -> None:
    form = page.get_by_role("form", name="Log in")
    await form.get_by_label("User name").fill(username)
    await form.get_by_label("Password").fill(password)
    await form.get_by_role("button", name="Log in").click()


# -- onboarding, login, logout, password ---------------------------------------------


async def test_onboarding_login_logout_and_password_change(
    anonymous_page: Page, bare_server: Server, owner: dict[str, str], screenshot: Shoot
) -> None:
    page = anonymous_page
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login\.html\?next=/$"))
    welcome = page.get_by_role("form", name="Welcome")
    await welcome.get_by_label("Your name").fill(owner["name"])
    await welcome.get_by_label("User name").fill(owner["username"])
    await welcome.get_by_label("Password", exact=True).fill(owner["password"])
    await welcome.get_by_label("Confirm password").fill("a typo in it")
    await welcome.get_by_role("button", name="Create account").click()
    await expect(welcome.get_by_role("alert")).to_have_text("The passwords do not match.")
    await welcome.get_by_label("Confirm password").fill(owner["password"])
    await screenshot(page, "onboarding")
    await welcome.get_by_role("button", name="Create account").click()

    # The owner exists and this browser is logged in.
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    await expect(live_status(page)).to_have_text("Live")
    await expect(page.locator("#user")).to_have_text(owner["name"])
    await expect(page.get_by_text("No entities yet.")).to_be_visible()
    users = bare_server.host.data[HTTP_SERVER].runtime.auth.users()
    assert [(u.username, u.is_owner) for u in users] == [(owner["username"], True)]

    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/login\.html$"))
    await expect(page.get_by_role("form", name="Log in")).to_be_visible()
    await screenshot(page, "login")
    await log_in(page, owner["username"], "not the password")
    await expect(page.get_by_role("alert")).to_have_text("invalid username or password")
    await log_in(page, owner["username"], owner["password"])
    await expect(live_status(page)).to_have_text("Live")

    await page.get_by_role("link", name="Settings").click()
    password = page.get_by_role("region", name="Change password")
    await password.get_by_label("Current password").fill(owner["password"])
    await password.get_by_label("New password", exact=True).fill("a new passphrase")
    await password.get_by_label("Confirm new password").fill("a new passphrase")
    await password.get_by_role("button", name="Change password").click()
    await expect(password.get_by_role("status")).to_have_text("Password changed.")

    await page.get_by_role("button", name="Log out").click()
    await log_in(page, owner["username"], "a new passphrase")
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()


@pytest.fixture
async def logged_out_page(anonymous_page: Page, bare_server: Server, owner: dict[str, str]) -> Page:
    """A browser without a session, on a host whose owner exists (made without a browser)."""
    auth = bare_server.host.data[HTTP_SERVER].runtime.auth
    await auth.create_user(owner["username"], owner["password"], name=owner["name"], role="owner")
    return anonymous_page


async def test_login_after_a_wrong_password_goes_to_next(
    logged_out_page: Page, owner: dict[str, str]
) -> None:
    page = logged_out_page
    await page.goto("/login.html?next=/%23/settings")
    form = page.get_by_role("form", name="Log in")
    await expect(form.get_by_label("User name")).to_be_focused()
    await expect(page.get_by_role("form", name="Welcome")).to_have_count(0)  # onboarded

    await log_in(page, owner["username"], "not the password")
    await expect(form.get_by_role("alert")).to_have_text("invalid username or password")
    await expect(form.get_by_role("button", name="Log in")).to_be_enabled()
    await expect(page).to_have_url(re.compile(r"/login\.html\?next="))

    await log_in(page, owner["username"], owner["password"])
    await expect(page).to_have_url(re.compile(r"/#/settings$"))
    await expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    await expect(live_status(page)).to_have_text("Live")


async def test_login_reports_an_unreachable_server_and_a_lockout(
    logged_out_page: Page, owner: dict[str, str]
) -> None:
    page = logged_out_page
    await page.goto("/login.html")
    alert = page.get_by_role("form", name="Log in").get_by_role("alert")

    async def unreachable(route: Route) -> None:
        await route.abort("connectionrefused")

    await page.route("**/auth/login", unreachable)
    await log_in(page, owner["username"], owner["password"])
    await expect(alert).to_have_text(re.compile(r"^Cannot reach the server: \S"))
    await page.unroute("**/auth/login", unreachable)

    # Five failures lock the address out (the default threshold); the lockout holds
    # even for the right password, and the page stays where it is.
    answers: list[int] = []
    for attempt in [*(f"wrong {n}" for n in range(5)), owner["password"]]:
        async with page.expect_response("**/auth/login") as response:
            await log_in(page, owner["username"], attempt)
        answers.append((await response.value).status)
        await expect(alert).to_have_text(
            "invalid username or password" if len(answers) < 5
            else re.compile(r"^too many failed logins; try again in \d+ s$")
        )
    assert answers == [401, 401, 401, 401, 429, 429]
    await expect(page).to_have_url(re.compile(r"/login\.html$"))


# -- integrations: config flow, options flow, disable, remove ------------------------


async def add_demo(page: Page, name: str, interval: str = "0.2") -> Any:
    """Open the add dialog, choose Demo, fill the generated form; the flow dialog."""
    await page.get_by_role("button", name="Add integration").click()
    await page.get_by_role("dialog", name="Add integration").get_by_role(
        "button", name="Demo"
    ).click()
    flow = page.get_by_role("dialog", name="Add Demo")
    await flow.get_by_label("Name", exact=True).fill(name)
    await flow.get_by_label("Update interval").fill(interval)
    await flow.get_by_role("button", name="Submit").click()
    return flow


async def test_add_configure_disable_and_remove_an_integration(
    bare_owner_page: Page, bare_server: Server, screenshot: Shoot
) -> None:
    page, host = bare_owner_page, bare_server.host
    await page.goto("/#/integrations")
    await expect(page.get_by_text("No integrations yet.")).to_be_visible()

    # The form is generated from the flow's schema, defaults filled in.
    await page.get_by_role("button", name="Add integration").click()
    await page.get_by_role("dialog", name="Add integration").get_by_role(
        "button", name="Demo"
    ).click()
    flow = page.get_by_role("dialog", name="Add Demo")
    await expect(flow.get_by_label("Name", exact=True)).to_have_value("Demo")
    await expect(flow.get_by_label("Sine period")).to_have_value("60")
    async with page.expect_response(lambda r: r.request.method == "DELETE") as aborted:
        await flow.get_by_role("button", name="Cancel").click()
    assert (await aborted.value).ok
    await expect(flow).to_have_count(0)
    assert host.config_entries.flow.progress() == []  # the cancelled flow was aborted

    # A bad value comes back as an error next to its field; fixed, the entry is made.
    flow = await add_demo(page, "Garden", interval="0")
    interval = flow.get_by_label("Update interval")
    await expect(interval).to_have_attribute("aria-invalid", "true")
    await expect(flow.locator("[data-field=update_interval] .error")).to_have_text(
        "value must be at least 0.01"
    )
    await expect(flow.get_by_label("Name", exact=True)).to_have_value("Garden")
    await screenshot(page, "integrations-flow-error")
    await interval.fill("0.2")
    await flow.get_by_role("button", name="Submit").click()
    await expect(flow.get_by_role("status")).to_have_text("Created “Garden”. State: Loaded.")
    await flow.get_by_role("button", name="Close").click()

    row = page.get_by_role("row").filter(has_text="Garden")
    await expect(row.locator(".badge")).to_have_text("Loaded")
    [entry] = host.config_entries.entries("demo")
    assert (entry.title, str(entry.state)) == ("Garden", "loaded")
    await screenshot(page, "integrations")

    # The same name again: an error at the name field; the flow stays open.
    flow = await add_demo(page, "Garden")
    await expect(flow.locator("[data-field=name] .error")).to_have_text(
        "A demo device with this name exists already; choose another name."
    )
    await flow.get_by_role("button", name="Cancel").click()

    # Options flow.
    await row.get_by_role("button", name="Options").click()
    options = page.get_by_role("dialog", name="Options: Garden")
    await options.get_by_label("Update interval").fill("0.5")
    await options.get_by_role("button", name="Submit").click()
    await expect(options.get_by_role("status")).to_have_text("Options saved. State: Loaded.")
    await options.get_by_role("button", name="Close").click()
    assert dict(entry.options) == {"update_interval": 0.5}

    await row.get_by_role("button", name="Disable").click()
    await expect(row.locator(".badge")).to_have_text("Disabled")
    assert entry.disabled
    await row.get_by_role("button", name="Enable").click()
    await expect(row.locator(".badge")).to_have_text("Loaded")

    # Remove asks first; cancelling keeps the entry.
    await row.get_by_role("button", name="Remove").click()
    confirm = page.get_by_role("dialog", name="Remove integration?")
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(row).to_have_count(1)
    await row.get_by_role("button", name="Remove").click()
    await confirm.get_by_role("button", name="Remove").click()
    await expect(page.get_by_text("No integrations yet.")).to_be_visible()
    assert host.config_entries.entries("demo") == []


# -- overview: live values, sparklines, switches ---------------------------------------


async def test_overview_updates_live(
    owner_page: Page, server: Server, screenshot: Shoot
) -> None:
    page = owner_page
    await page.goto("/")
    counter = page.locator("[data-entity-id='sensor.demo_counter']")
    value = counter.locator(".state")
    await expect(value).to_have_text(re.compile(r"^\d+$"))
    before = await value.text_content()
    await expect(value).not_to_have_text(before or "", timeout=5000)  # pushed by the server

    sine = page.locator("[data-entity-id='sensor.demo_sine']")
    await expect(sine.locator(".unit")).to_have_text("°C")
    graph = sine.locator("svg.sparkline")
    await expect(graph).to_have_attribute("data-points", re.compile(r"^([5-9]|\d\d+)$"))
    points = await graph.locator("polyline").get_attribute("points")
    assert points is not None and len(points.split()) >= 5
    await screenshot(page, "overview")

    switch = page.locator("[data-entity-id='switch.demo_switch']")
    await expect(switch.locator(".state")).to_have_text("ON")
    await switch.get_by_role("button", name="Turn off").click()
    await expect(switch.locator(".state")).to_have_text("OFF")
    state = server.host.states.get("switch.demo_switch")
    assert state is not None and state.state == "off"
    await switch.get_by_role("button", name="Turn on").click()
    await expect(switch.locator(".state")).to_have_text("ON")


async def test_live_updates_resume_after_the_socket_drops(owner_page: Page, server: Server) -> None:
    page = owner_page
    await page.goto("/")
    await expect(live_status(page)).to_have_text("Live")
    runtime = server.host.data[HTTP_SERVER].runtime
    [connection] = runtime.connections
    await connection.close(1001, "going away for a test")
    await expect(live_status(page)).to_have_text("Reconnecting…")
    await expect(live_status(page)).to_have_text("Live")  # the UI retried after a second

    # The entity subscription came back with the connection.
    value = page.locator("[data-entity-id='sensor.demo_counter'] .state")
    before = await value.text_content()
    await expect(value).not_to_have_text(before or "", timeout=5000)
    assert len(runtime.connections) == 1


# -- services ------------------------------------------------------------------------------


async def test_call_a_service_and_see_its_response(
    owner_page: Page, server: Server, screenshot: Shoot
) -> None:
    page = owner_page
    await page.goto("/#/services")
    await page.get_by_label("Service").select_option("demo.reset_counter")
    await expect(page).to_have_url(re.compile(r"#/services\?service=demo\.reset_counter$"))
    form = page.get_by_role("form", name="Call demo.reset_counter")
    await expect(form.get_by_label("Entry", exact=True)).to_be_visible()
    await expect(form.get_by_label("Return the response data")).to_be_checked()
    await form.get_by_role("button", name="Call service").click()

    response = page.get_by_role("region", name="Response of demo.reset_counter")
    await expect(response.locator("pre")).to_contain_text('"service_response"')
    answer = json.loads(await response.locator("pre").text_content() or "")
    [entry] = server.host.config_entries.entries("demo")
    assert isinstance(answer["service_response"]["previous"][entry.entry_id], int)
    assert isinstance(answer["changed_states"], list)
    await screenshot(page, "services")

    # A required field left empty is flagged at the field; the server's refusal is shown.
    await page.get_by_label("Service").select_option("switch.turn_on")
    form = page.get_by_role("form", name="Call switch.turn_on")
    await form.get_by_role("button", name="Call service").click()
    entity = form.get_by_label("Entities", exact=True)  # a picker of switches
    await expect(entity).to_have_attribute("aria-invalid", "true")
    await expect(form.locator("[data-field=entity_id] .error")).to_have_text(
        "pick at least one entity"
    )
    await entity.select_option("switch.demo_switch")
    await form.get_by_role("button", name="Call service").click()
    await expect(entity).to_have_attribute("aria-invalid", "false")
    await expect(page.get_by_role("region", name="Response of switch.turn_on")).to_be_visible()


# -- entities and devices ------------------------------------------------------------------


async def test_search_and_rename_an_entity(
    owner_page: Page, server: Server, screenshot: Shoot
) -> None:
    page, host = owner_page, server.host
    await page.goto("/#/entities")
    rows = page.locator("tbody tr[data-entity-id]")
    await expect(rows).to_have_count(3)
    await screenshot(page, "entities")
    search = page.get_by_label("Search entities and devices")
    await search.fill("counter")
    await expect(rows).to_have_count(1)

    await page.get_by_role("button", name="Edit Demo counter").click()
    dialog = page.get_by_role("dialog", name="Edit Demo counter")
    await dialog.get_by_label("Name", exact=True).fill("Pulse count")
    await dialog.get_by_label("Entity ID").fill("sensor.demo_sine")  # taken
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("already taken")
    await dialog.get_by_label("Entity ID").fill("sensor.pulses")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_have_count(0)

    await search.fill("pulse")
    row = page.locator("tr[data-entity-id='sensor.pulses']")
    await expect(row).to_contain_text("Pulse count")
    registered = host.entity_registry.get("sensor.pulses")
    assert registered is not None and registered.name == "Pulse count"

    # The overview follows: the old entity went, the renamed one came.
    await page.get_by_role("link", name="Overview").click()
    card = page.locator("[data-entity-id='sensor.pulses']")
    await expect(card.locator(".name")).to_have_text("Pulse count")
    await expect(page.locator("[data-entity-id='sensor.demo_counter']")).to_have_count(0)


# -- settings: long-lived tokens, users --------------------------------------------------


async def test_create_and_revoke_a_token_add_and_remove_a_user(
    bare_owner_page: Page, bare_server: Server, screenshot: Shoot
) -> None:
    page = bare_owner_page
    await page.goto("/#/settings")
    tokens = page.get_by_role("region", name="Long-lived access tokens")
    await expect(tokens.get_by_text("No tokens yet.")).to_be_visible()
    await tokens.get_by_label("Token name").fill("Prometheus")
    await tokens.get_by_role("button", name="Create token").click()

    shown = tokens.get_by_label(re.compile("copy it now"))
    token = await shown.input_value()
    assert len(token) >= 32
    row = tokens.get_by_role("row").filter(has_text="Prometheus")
    await expect(row).to_be_visible()
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await page.request.get("/api/", headers=bearer)).status == 200
    await screenshot(page, "settings")

    await page.reload()  # shown once: gone after a reload, the listing stays
    await expect(row).to_be_visible()
    await expect(shown).to_have_count(0)

    await row.get_by_role("button", name="Revoke Prometheus").click()
    await page.get_by_role("dialog", name="Revoke token?").get_by_role(
        "button", name="Revoke"
    ).click()
    await expect(tokens.get_by_text("No tokens yet.")).to_be_visible()
    assert (await page.request.get("/api/", headers=bearer)).status == 401

    await page.get_by_role("link", name="Users").click()  # its own page since issue 9
    users = page.get_by_role("region", name="Users")
    await users.get_by_label("User name").fill("guest")
    await users.get_by_label("Display name").fill("Guest")
    await users.get_by_label("Password").fill("guest password")
    await users.get_by_role("button", name="Add user").click()
    guest = users.get_by_role("row").filter(has_text="guest")
    await expect(guest).to_contain_text("User")
    auth = bare_server.host.data[HTTP_SERVER].runtime.auth
    assert sorted(u.username for u in auth.users()) == ["guest", "owner"]
    await guest.get_by_role("button", name="Remove guest").click()
    await page.get_by_role("dialog", name="Remove user?").get_by_role(
        "button", name="Remove"
    ).click()
    await expect(guest).to_have_count(0)
    assert [u.username for u in auth.users()] == ["owner"]


# -- plugin panels ---------------------------------------------------------------------------

PANEL_MODULE = """\
class LivePanel extends HTMLElement {
  connectedCallback() {
    const { user, store } = this.gatehouse;
    const heading = document.createElement("h1");
    heading.textContent = `Hello ${user.name}: ${store.states.size} entities`;
    this.append(heading);
  }
}
customElements.define("gatehouse-panel-live", LivePanel);
"""


class PanelPlugin:
    """A plugin with two panels: an HTML page (framed) and an ES module."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def gatehouse_panels(self, host: Any) -> list[Panel]:
        return [
            Panel(name="notes", title="Notes", static_dir=self.folder, entry="notes.html"),
            Panel(name="live", title="Live panel", static_dir=self.folder, entry="live.js"),
        ]


async def test_plugin_panels_in_the_navigation(
    owner_page: Page, server: Server, owner: dict[str, str], tmp_path: Path, screenshot: Shoot
) -> None:
    folder = tmp_path / "panels"
    folder.mkdir()
    (folder / "notes.html").write_text(
        "<!doctype html><title>Notes</title><h1>Plugin notes</h1>", encoding="utf-8"
    )
    (folder / "live.js").write_text(PANEL_MODULE, encoding="utf-8")
    server.host.plugins.register(PanelPlugin(folder), "ui_test_panels")

    page = owner_page
    await page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    await nav.get_by_role("link", name="Notes").click()
    frame = page.frame_locator("iframe[title='Notes']")
    await expect(frame.get_by_role("heading", name="Plugin notes")).to_be_visible()
    await screenshot(page, "panel-html")

    await nav.get_by_role("link", name="Live panel").click()
    await expect(page.locator("gatehouse-panel-live h1")).to_have_text(
        f"Hello {owner['name']}: 3 entities"
    )
    await expect(nav.get_by_role("link", name="Live panel")).to_have_attribute(
        "aria-current", "page"
    )
    await screenshot(page, "panel-module")
