"""Issue 9, low finding: after login, ``?next=`` must not send the browser to another site.

The attack: ``login.html?next=/%5Cevil.example/x`` (a backslash, which browsers read as
a slash) or a tab inside ``//`` (which the URL parser drops) passed the page's "starts
with one slash" test, and the browser went off-site after a successful login. The page
now resolves ``next`` against its own origin and follows it only if the origin stays
the same, the path starts with one ``/`` and has no backslash or control character.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, Route, expect

from gatehouse.core.http.server import HTTP_SERVER

pytestmark = pytest.mark.anyio

#: ``conftest.Server`` (not imported: several conftest modules exist in the tree).
Server = Any

#: ``next`` values (as written in the query string) that must land on the UI's home.
OFF_SITE = [
    "/%5Cevil.example/x",  # /\evil.example/x
    "/%09/evil.example/x",  # tab: "/<TAB>/evil..." parses as "//evil..."
    "%09//evil.example/x",
    "/%0A/evil.example/x",  # newline, dropped by the URL parser too
    "//evil.example/x",
    "https://evil.example/x",
    "javascript:alert(1)",
    "/%5C%5Cevil.example",
    "%2F%2Fevil.example",  # decoded by URLSearchParams: //evil.example
]


async def log_in(page: Page, username: str, password: str) -> None:
    form = page.get_by_role("form", name="Log in")
    await form.get_by_label("User name").fill(username)
    await form.get_by_label("Password").fill(password)
    await form.get_by_role("button", name="Log in").click()


async def test_next_never_leaves_the_site(
    anonymous_page: Page, bare_server: Server, owner: dict[str, str]
) -> None:
    auth = bare_server.host.data[HTTP_SERVER].runtime.auth
    await auth.create_user(owner["username"], owner["password"], role="owner")
    page = anonymous_page
    left: list[str] = []

    async def elsewhere(route: Route) -> None:  # noted, and never sent out
        left.append(route.request.url)
        await route.abort()

    await page.route(lambda url: urlsplit(url).hostname == "evil.example", elsewhere)
    home = re.compile(re.escape(bare_server.base_url) + r"/$")
    for value in OFF_SITE:
        await page.goto(f"/login.html?next={value}")
        await log_in(page, owner["username"], owner["password"])
        await expect(page).to_have_url(home)
        await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    assert left == []


async def test_a_local_next_is_followed(
    anonymous_page: Page, bare_server: Server, owner: dict[str, str]
) -> None:
    auth = bare_server.host.data[HTTP_SERVER].runtime.auth
    await auth.create_user(owner["username"], owner["password"], role="owner")
    page = anonymous_page
    await page.goto("/login.html?next=/%3Ftab%3D1%23/settings")
    await log_in(page, owner["username"], owner["password"])
    await expect(page).to_have_url(re.compile(r"/\?tab=1#/settings$"))
    await expect(page.get_by_role("heading", name="Settings")).to_be_visible()
