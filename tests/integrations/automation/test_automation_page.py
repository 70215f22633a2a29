"""The Automations page in a real browser (Debian's Chromium, Playwright in the test's
loop): the list, disable and enable, run, a trace's step list, a new automation from
the YAML editor, a pasted blueprint imported and used through the form made from its
inputs. Waits are Playwright's ``expect`` and ``wait_until``, never sleeps."""

from __future__ import annotations

import re
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from autotools import Recorder

from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import make_host, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
#: Screenshots for people to look at (gitignored), as the frontend tests keep theirs.
SHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OWNER = {"username": "owner", "password": "correct horse battery", "name": "Olive Owner"}

CONFIG = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
automation:
  - id: doorbell
    alias: Doorbell
    triggers:
      - trigger: event
        event_type: ring
    actions:
      - action: test.record
        data: {value: "<b>ding</b>"}
script:
"""

BROKEN = """\
- id: broken_one
  alias: Broken one
  triggers: [{trigger: nonsense}]
  actions: [{action: test.record, data: {value: fixed}}]
"""

PASTED = """\
blueprint:
  name: Pasted echo
  domain: automation
  input:
    word:
      name: Word
      selector: {text: {}}
    times:
      name: Times
      default: 1
      selector: {number: {min: 1, max: 5}}
triggers:
  - trigger: event
    event_type: echo
variables:
  times: !input times
actions:
  - repeat:
      count: "{{ times }}"
      sequence:
        - action: test.record
          data: {value: !input word}
"""


@pytest.fixture
async def page(config_dir: Path) -> AsyncIterator[tuple[Any, Any, Recorder]]:
    if not HAVE_CHROMIUM:
        pytest.skip("the browser test needs Debian's chromium at /usr/bin/chromium")
    from playwright.async_api import async_playwright

    (config_dir / "configuration.yaml").write_text(CONFIG, encoding="utf-8")
    (config_dir / "automations.yaml").write_text(BROKEN, encoding="utf-8")
    host = make_host(config_dir)
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with host.running(), async_playwright() as playwright:
        rec = Recorder(host)
        server = host.data.get(HTTP_SERVER)
        assert server is not None
        base = f"http://127.0.0.1:{server.port}"
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   headless=True, args=ARGS)
        try:
            context = await browser.new_context(base_url=base)
            context.set_default_timeout(10_000)
            tab = await context.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda error: errors.append(str(error)))
            response = await context.request.post("/api/onboarding/users", data=OWNER,
                                                  headers={"Origin": base})
            assert response.ok, await response.text()
            yield tab, host, rec
            assert errors == []
        finally:
            await browser.close()


async def test_the_automations_page(page: tuple[Any, Any, Recorder]) -> None:
    from playwright.async_api import expect

    tab, host, rec = page
    await tab.goto("/#/automations")
    row = tab.get_by_role("row", name="Doorbell")
    await expect(row).to_be_visible()
    await row.get_by_role("button", name="Enabled").click()
    await wait_until(lambda: host.states.get("automation.doorbell").state == "off")
    await expect(row.get_by_role("button", name="Disabled")).to_be_visible()
    await tab.get_by_role("row", name="Doorbell").get_by_role("button", name="Disabled").click()
    await wait_until(lambda: host.states.get("automation.doorbell").state == "on")

    await tab.get_by_role("row", name="Doorbell").get_by_role("button", name="Run").click()
    await rec.wait(1)
    await tab.get_by_role("row", name="Doorbell").get_by_role("button", name="Traces").click()
    dialog = tab.get_by_role("dialog")
    await dialog.get_by_role("button", name="Steps").first.click()
    await expect(dialog.locator("ol.trace")).to_contain_text("action/0")
    # device text is shown as text, never as markup
    await expect(dialog.locator("ol.trace")).to_contain_text("<b>ding</b>")
    await tab.screenshot(path=SHOTS / "automations_trace.png", full_page=True)
    await dialog.press("Escape")

    await tab.get_by_role("button", name="New automation").click()
    editor = tab.get_by_role("dialog")
    await editor.get_by_label("YAML").fill(textwrap.dedent("""\
        alias: From the page
        triggers:
          - trigger: event
            event_type: page_go
        actions:
          - action: test.record
            data: {value: page}
        """))
    await editor.get_by_role("button", name="Save").click()
    await expect(tab.get_by_role("row", name="From the page")).to_be_visible()
    host.bus.fire("page_go")
    await rec.wait(2)

    # the UI's own broken automation is listed with why, and fixed from here
    await expect(tab.get_by_text("unknown trigger 'nonsense'")).to_be_visible()
    await tab.get_by_role("button", name="Fix").click()
    fixer = tab.get_by_role("dialog")
    yaml_box = fixer.get_by_label("YAML")
    await expect(yaml_box).to_have_value(re.compile("nonsense"))
    text = await yaml_box.input_value()
    await yaml_box.fill(text.replace("trigger: nonsense", "trigger: event\n  event_type: fix_go"))
    await fixer.get_by_role("button", name="Save").click()
    await expect(tab.get_by_role("row", name="Broken one")).to_be_visible()
    host.bus.fire("fix_go")
    await rec.wait(3)

    await tab.goto("/#/automations?tab=blueprints")
    await tab.get_by_label("Or paste its YAML").fill(PASTED)
    await tab.get_by_role("button", name="Preview").click()
    await expect(tab.get_by_role("status").filter(has_text="Pasted echo")).to_contain_text(
        "Everything it uses is here.")
    await tab.get_by_role("button", name="Save blueprint").click()
    use = tab.get_by_role("row", name="Pasted echo").get_by_role("button", name="Use")
    await use.click()
    form = tab.get_by_role("dialog")
    await form.get_by_label("Word").fill("echo!")
    await form.get_by_label("Times (optional)").fill("2")
    await form.get_by_role("button", name="Save").click()
    await wait_until(lambda: host.states.get("automation.pasted_echo") is not None)
    await tab.goto("/#/automations")
    await expect(tab.get_by_role("row", name="Pasted echo")).to_be_visible()
    await tab.screenshot(path=SHOTS / "automations_list.png", full_page=True)
    host.bus.fire("echo")
    await rec.wait(5)
    assert rec.values()[-2:] == ["echo!", "echo!"]
