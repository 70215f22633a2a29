"""The Users page and a read-only user's view of the UI, in a real browser (issue 9,
finding 4).

An admin adds a user, makes it read-only, narrows its policy (a bad glob is refused at
its field, with the line) and makes a scrape token for Prometheus; the read-only user,
logged in in a second browser context, sees the states its policy allows, finds every
action refused with the server's reason, and has no Users page. Waits are Playwright's
auto-waiting ``expect`` and ``wait_until`` polls, never sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.permissions import Role
from gatehouse.core.testing import wait_until

pytestmark = pytest.mark.anyio

Shoot = Callable[[Page, str], Awaitable[None]]
#: ``conftest.Server`` (not imported: several conftest modules exist in the tree).
Server = Any

VIEWER = {"username": "viewer", "name": "Vera Viewer", "password": "viewer passphrase"}
GLOB_PROBLEM = "expected a glob of lower-case ids, like 'sensor.*' or 'switch.pump'"


async def test_an_admin_sets_up_a_read_only_user_who_changes_nothing(
    owner_page: Page, server: Server, browser: Browser, screenshot: Shoot
) -> None:
    page, host = owner_page, server.host
    auth = host.data[HTTP_SERVER].runtime.auth
    host.states.set("light.hidden", "on")  # outside the policy given below
    await page.goto("/")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()

    # Add the user (as a plain user), then make it read-only from its row.
    users = page.get_by_role("region", name="Users")
    await users.get_by_label("User name").fill(VIEWER["username"])
    await users.get_by_label("Display name").fill(VIEWER["name"])
    await users.get_by_label("Password").fill(VIEWER["password"])
    await users.get_by_label("Role", exact=True).select_option(label="Administrator")
    await users.get_by_label("Role", exact=True).select_option(label="User")
    await users.get_by_role("button", name="Add user").click()
    await expect(users.get_by_role("status")).to_have_text("Added viewer.")
    # The emptied form offers a plain user again (form.reset() once fell back to the
    # first option: Administrator).
    await expect(users.get_by_label("Role", exact=True).locator("option:checked")).to_have_text(
        "User")
    viewer = next(u for u in auth.users() if u.username == VIEWER["username"])
    assert viewer.role is Role.USER
    row = users.get_by_role("row").filter(has_text=VIEWER["name"])
    await row.get_by_label("Role of viewer").select_option(label="Read-only")
    await wait_until(lambda: viewer.role is Role.READ_ONLY, message="role not changed")

    # Its policy: the server refuses a bad glob at its field, naming the line.
    await row.get_by_role("button", name="Edit policy of viewer").click()
    dialog = page.get_by_role("dialog", name="Policy of viewer")
    read = dialog.get_by_label("Read", exact=True)
    await expect(read).to_have_value("*")
    await read.fill("sensor.*\nSwitch Demo")
    await dialog.get_by_role("button", name="Save").click()
    await expect(read).to_have_attribute("aria-invalid", "true")
    await expect(dialog.locator("[data-field=read] .error")).to_have_text(
        f"line 2: {GLOB_PROBLEM}")
    await expect(dialog.get_by_role("alert")).to_have_text(
        f"invalid policy: read: line 2: {GLOB_PROBLEM}")
    assert viewer.policy.read == ("*",)
    await read.fill("sensor.*\nswitch.*")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_have_count(0)
    await expect(row).to_contain_text("Reads: sensor.*, switch.*")
    assert viewer.policy.read == ("sensor.*", "switch.*")

    # A scrape token for Prometheus: /metrics and nothing else.
    scrape = page.get_by_role("region", name="Scrape tokens")
    await scrape.get_by_label("Scrape token name").fill("Prometheus")
    await scrape.get_by_role("button", name="Create scrape token").click()
    token = await scrape.get_by_label(re.compile("copy it now")).input_value()
    bearer = {"Authorization": f"Bearer {token}"}
    metrics = await page.request.get("/metrics", headers=bearer)
    assert metrics.status == 200 and "gatehouse_states" in await metrics.text()
    assert (await page.request.get("/api/states", headers=bearer)).status == 403
    await screenshot(page, "users")

    # The read-only user, in a second browser.
    context = await browser.new_context(viewport={"width": 1280, "height": 800},
                                        base_url=server.base_url)
    context.set_default_timeout(10_000)
    errors: list[str] = []
    try:
        mine = await context.new_page()
        mine.on("pageerror", lambda error: errors.append(str(error)))
        await mine.goto("/")
        form = mine.get_by_role("form", name="Log in")
        await form.get_by_label("User name").fill(VIEWER["username"])
        await form.get_by_label("Password").fill(VIEWER["password"])
        await form.get_by_role("button", name="Log in").click()
        await expect(mine.locator("#live")).to_have_text("Live")

        # The states its policy allows, and nothing else.
        switch = mine.locator("[data-entity-id='switch.demo_switch']")
        await expect(switch).to_be_visible()
        await expect(mine.locator("[data-entity-id='sensor.demo_sine']")).to_be_visible()
        await expect(mine.locator("[data-entity-id='light.hidden']")).to_have_count(0)
        assert (await page.request.get("/api/states/light.hidden")).status == 200
        assert (await mine.request.get("/api/states/light.hidden")).status == 403

        # No admin page in its navigation.
        nav = mine.get_by_role("navigation", name="Main")
        await expect(nav.get_by_role("link", name="Services")).to_be_visible()
        for admin_page in ("Users", "Integrations", "Entities & devices"):
            await expect(nav.get_by_role("link", name=admin_page)).to_have_count(0)

        # Its buttons are refused, and say why.
        await switch.get_by_role("button", name="Turn off").click()
        await expect(switch.get_by_role("alert")).to_have_text(
            "not allowed: switch.toggle (read-only user)")
        assert host.states.get("switch.demo_switch").state == "on"
        await nav.get_by_role("link", name="Services").click()
        await mine.get_by_label("Service").select_option("demo.reset_counter")
        call = mine.get_by_role("form", name="Call demo.reset_counter")
        async with mine.expect_response("**/api/services/demo/reset_counter*") as answer:
            await call.get_by_role("button", name="Call service").click()
        assert (await answer.value).status == 403
        refused = "not allowed: demo.reset_counter (read-only user)"
        await expect(call.get_by_role("alert")).to_have_text(refused)
        failed = mine.get_by_role("region", name="demo.reset_counter failed")
        await expect(failed.locator("pre")).to_contain_text(refused)

        # The Users page, asked for by its address, is not there for it.
        await mine.goto("/#/users")
        await expect(mine.get_by_text("This page is for administrators.")).to_be_visible()
        await expect(mine.get_by_role("region", name="Users")).to_have_count(0)
        await screenshot(mine, "read-only-user")
    finally:
        await context.close()
    assert errors == []

    # Removed by the admin: gone from the list and from the store.
    await row.get_by_role("button", name="Remove viewer").click()
    await page.get_by_role("dialog", name="Remove user?").get_by_role(
        "button", name="Remove").click()
    await expect(row).to_have_count(0)
    assert [u.username for u in auth.users()] == ["owner"]


async def test_the_owner_and_yourself_are_not_editable(
    owner_page: Page, server: Server
) -> None:
    """The page offers only what the server allows: no role choice, policy or removal
    for the owner's row (here also your own)."""
    page = owner_page
    auth = server.host.data[HTTP_SERVER].runtime.auth
    await auth.create_user("adam", "adam passphrase", role="admin")
    await page.goto("/#/users")
    users = page.get_by_role("region", name="Users")
    owner_row = users.get_by_role("row").filter(has_text="Olive Owner")
    await expect(owner_row).to_contain_text("Owner")
    await expect(owner_row.get_by_role("button")).to_have_count(0)
    await expect(owner_row.get_by_role("combobox")).to_have_count(0)
    admin_row = users.get_by_role("row").filter(has_text="adam")
    await expect(admin_row.get_by_label("Role of adam")).to_have_value("admin")
    await expect(admin_row).to_contain_text("Everything")  # an admin's policy is inert
    await expect(admin_row.get_by_role("button", name="Edit policy of adam")).to_have_count(0)
    await expect(admin_row.get_by_role("button", name="Remove adam")).to_be_visible()
