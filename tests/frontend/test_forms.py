"""One way to submit a form (``frontend/public/js/submit.js``), seen in several places.

Config flows, the settings forms and the services page all submit through the same
helper: the button is disabled while the request is in flight, a refusal shows each
field's message next to its field and a general message for the form as a whole
(``base``). These tests drive real forms in Chromium against a real host; a flow that
refuses on purpose comes from the test integration in ``plugins/formcheck``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from playwright.async_api import Page, Route, expect

from gatehouse.core.http.server import HTTP_SERVER

pytestmark = pytest.mark.anyio

Shoot = Callable[[Page, str], Awaitable[None]]
#: ``conftest.Server`` (not imported: several conftest modules exist in the tree).
Server = Any

PLUGINS = Path(__file__).resolve().parent / "plugins"


async def test_a_config_flow_shows_field_and_base_errors(
    bare_owner_page: Page, bare_server: Server, monkeypatch: pytest.MonkeyPatch,
    screenshot: Shoot,
) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))
    bare_server.host.plugins.add_package("formcheck", "formcheck")
    page = bare_owner_page
    await page.goto("/#/integrations")
    await page.get_by_role("button", name="Add integration").click()
    await page.get_by_role("dialog", name="Add integration").get_by_role(
        "button", name="Form check"
    ).click()
    flow = page.get_by_role("dialog", name="Add Form check")
    host, port = flow.get_by_label("Host"), flow.get_by_label("Port")
    alert = flow.locator(".form-error")

    # A field's error: at the field, marked invalid; no general message.
    await host.fill("plc.local")
    await port.fill("70000")
    await flow.get_by_role("button", name="Submit").click()
    await expect(port).to_have_attribute("aria-invalid", "true")
    await expect(flow.locator("[data-field=port] .error")).to_have_text(
        "value must be at most 65535"
    )
    await expect(host).to_have_attribute("aria-invalid", "false")
    await expect(alert).to_be_empty()
    await expect(host).to_have_value("plc.local")  # what was typed is kept

    # A base error: the form's general message; the field errors are gone.
    await host.fill("offline.invalid")
    await port.fill("502")
    await flow.get_by_role("button", name="Submit").click()
    await expect(alert).to_have_text("the device does not answer")
    await expect(port).to_have_attribute("aria-invalid", "false")
    await expect(flow.locator("[data-field=port] .error")).to_be_hidden()
    await screenshot(page, "flow-base-error")

    await host.fill("plc.local")
    await flow.get_by_role("button", name="Submit").click()
    await expect(flow.get_by_role("status")).to_have_text("Created “plc.local”. State: Loaded.")
    [entry] = bare_server.host.config_entries.entries("formcheck")
    assert dict(entry.data) == {"host": "plc.local", "port": 502}


async def test_settings_forms_show_field_and_base_errors(
    bare_owner_page: Page, bare_server: Server, owner: dict[str, str]
) -> None:
    page = bare_owner_page
    await page.goto("/#/users")  # users moved from Settings to their own page (issue 9)

    # The server refuses (400 with per-field errors): the field's message at the field,
    # the whole answer as the general message; nothing is made.
    users = page.get_by_role("region", name="Users")
    username = users.get_by_label("User name")
    await username.fill("x" * 65)
    await users.get_by_label("Password").fill("guest password")
    await users.get_by_role("button", name="Add user").click()
    await expect(username).to_have_attribute("aria-invalid", "true")
    await expect(users.locator("[data-field=username] .error")).to_have_text(
        "length of value must be at most 64"
    )
    await expect(users.get_by_role("alert")).to_have_text(
        "invalid data: username: length of value must be at most 64"
    )
    auth = bare_server.host.data[HTTP_SERVER].runtime.auth
    assert [u.username for u in auth.users()] == [owner["username"]]

    await username.fill("guest")
    await users.get_by_role("button", name="Add user").click()
    await expect(users.get_by_role("status")).to_have_text("Added guest.")
    await expect(username).to_have_attribute("aria-invalid", "false")
    await expect(users.locator(".form-error")).to_be_empty()  # and so hidden
    assert sorted(u.username for u in auth.users()) == ["guest", owner["username"]]

    # The page's own check (the repeated password) shows both kinds without sending.
    await page.get_by_role("link", name="Settings").click()
    password = page.get_by_role("region", name="Change password")
    await password.get_by_label("Current password").fill(owner["password"])
    await password.get_by_label("New password", exact=True).fill("a new passphrase")
    confirm = password.get_by_label("Confirm new password")
    await confirm.fill("a new passfrase")
    await password.get_by_role("button", name="Change password").click()
    await expect(confirm).to_have_attribute("aria-invalid", "true")
    await expect(password.locator("[data-field=confirm] .error")).to_have_text(
        "does not match the new password"
    )
    await expect(password.get_by_role("alert")).to_have_text("The new passwords do not match.")
    owner_user = next(u for u in auth.users() if u.username == owner["username"])
    assert await auth.authenticate(owner["username"], owner["password"]) == owner_user


async def test_the_submit_button_is_disabled_while_a_call_is_in_flight(
    owner_page: Page, server: Server
) -> None:
    page = owner_page
    release = anyio.Event()
    held = anyio.Event()

    async def hold(route: Route) -> None:
        held.set()
        await release.wait()
        await route.continue_()

    await page.route("**/api/services/demo/reset_counter*", hold)
    await page.goto("/#/services?service=demo.reset_counter")
    form = page.get_by_role("form", name="Call demo.reset_counter")
    button = form.get_by_role("button", name="Call service")
    await button.click()
    with anyio.fail_after(10):
        await held.wait()
    await expect(button).to_be_disabled()
    release.set()
    await expect(page.get_by_role("region", name="Response of demo.reset_counter")).to_be_visible()
    await expect(button).to_be_enabled()
