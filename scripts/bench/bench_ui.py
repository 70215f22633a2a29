"""UI benchmark: the overview and entities pages with 10,000 entities from 1,000 devices.

Run: .venv/bin/python scripts/bench/bench_ui.py [--devices 1000] [--per-device 10]
     [--rate 500] [--seconds 5] [--runs 1]

A real host (web server on 127.0.0.1, ephemeral port) gets ``--devices`` devices in the
device registry with ``--per-device`` entities each (sensors with units, a switch, a
number and a binary sensor per device), registered in the entity registry and with a
state each. Headless Chromium (Playwright, Debian's /usr/bin/chromium) logs in as the
owner and:

1. first render: loads ``/`` and waits for the first card; reported is the page's own
   ``performance.now()`` at that moment (from navigation start: HTML, modules, the
   WebSocket snapshot of every state, the registry lists, the first page of cards),
   "seen" once Playwright noticed the card (a round trip through this process, which
   is also the host's), and from an init script in the page: when the cards were
   inserted ("inserted"), when the frame holding them was done ("rendered": the task
   after the next animation frame), and a breakdown (DOMContentLoaded, socket open,
   every WebSocket frame over 100 kB: when it arrived, its size and its first
   message). The host's GC pauses during the load are printed beside. Then the
   entities page from a click in the navigation to its first row, and loaded directly
   (``/#/entities`` in a new tab, from navigation start); and the overview's first
   render for a non-admin who may read the sensors only (``USER_POLICY``);
2. frame times: a ``requestAnimationFrame`` loop in the page records the delta between
   frames for ``--seconds`` while the host is idle (baseline), then for ``--seconds``
   while the host changes ``--rate`` states per second (random entities, in ticks of
   10 ms), on the overview and then on the entities page. Reported per phase: frames,
   p50/p95/p99/max delta (ms) and frames longer than 50 ms ("long").

Browser, host and this script share the machine: the load average and the CPU steal
over each run are printed beside the figures. Nothing is asserted (tests do not assert
timing; see COMMON.md). The heap is settled before the first load (``Host.settle_gc``),
as ``Host.run`` does after a set-up wave, so full collections scan only what is new.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from gatehouse.core import Host
from gatehouse.core.http.server import HTTP_SERVER

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
CONFIG = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
"""
OWNER = {"username": "owner", "password": "correct horse battery", "name": "Bench Owner"}
#: A non-admin who may read the sensors only (7 of each device's 10 entities): the
#: snapshot and the registry lists are filtered for it, entity by entity.
USER = {"username": "viewer", "password": "another good password", "role": "user"}
USER_POLICY = {"read": ["sensor.*"]}
LONG_FRAME_MS = 50.0

#: The page-side recorder: rAF deltas into window.__frames until __stopFrames(), and
#: the main thread's long tasks (> 50 ms, PerformanceObserver "longtask") meanwhile.
FRAME_RECORDER = """() => {
  window.__frames = [];
  window.__longTasks = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
  });
  observer.observe({ type: "longtask" });
  let last = performance.now();
  let running = true;
  window.__stopFrames = () => {
    running = false;
    observer.disconnect();
    return [window.__frames, window.__longTasks];
  };
  const tick = (now) => {
    window.__frames.push(now - last);
    last = now;
    if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


#: Marks in the page (init script, before any of the page's own code): DOMContentLoaded,
#: the socket, WebSocket frames over 100 kB, and the first card ("inserted", then
#: "rendered" once the frame that shows it is done).
PAGE_MARKS = """(() => {
  const marks = window.__marks = { frames: [] };
  document.addEventListener("DOMContentLoaded", () => { marks.dom = performance.now(); });
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("open", () => { marks.open ??= performance.now(); });
      this.addEventListener("message", (event) => {
        const text = String(event.data);
        if (text.length < 100000) return;
        const head = text.slice(0, 200);
        const kind = head.includes('"entity_categories"') ? "entity list"
          : head.includes('"config_entries"') ? "devices"
          : head.includes('"event":{"a":') ? "states" : head.slice(0, 40);
        marks.frames.push([performance.now(), text.length, kind]);
      });
    }
  };
  new MutationObserver((_, observer) => {
    if (!document.querySelector("article.card, tr[data-entity-id]")) return;
    observer.disconnect();
    marks.inserted = performance.now();
    requestAnimationFrame(() => setTimeout(() => { marks.rendered = performance.now(); }));
  }).observe(document, { childList: true, subtree: true });
})()"""


class GcPauses:
    """The host process's garbage collections over a stretch: count and total ms."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._start) * 1000)

    def take(self) -> str:
        pauses, self.pauses = self.pauses, []
        return f"GC {len(pauses)} pauses, {sum(pauses):.0f} ms (max {max(pauses, default=0):.0f})"


async def first_render(page: Page, selector: str, gc_pauses: GcPauses) -> str:
    """The figures of one load (see the module docstring), after it was started."""
    await page.wait_for_selector(selector)
    seen = await page.evaluate("() => performance.now()")
    await page.wait_for_function("() => window.__marks.rendered !== undefined")
    marks: dict[str, Any] = await page.evaluate("() => window.__marks")
    frames = ", ".join(f"{kind} {size / 1e6:.1f} MB at {at:.0f}"
                       for at, size, kind in marks["frames"])
    return (f"rendered {marks['rendered']:5.0f} ms (inserted {marks['inserted']:.0f}, seen "
            f"{seen:.0f}) | DOMContentLoaded {marks.get('dom', 0):.0f}, socket open "
            f"{marks.get('open', 0):.0f}, {frames or 'no large frame'} | host "
            f"{gc_pauses.take()}")


async def user_render(
    browser: Browser, owner: BrowserContext, base: str, gc_pauses: GcPauses
) -> str:
    """The overview's first render for ``USER`` (made by the owner), in its own context."""
    origin = {"Origin": base}
    made = await owner.request.post("/api/auth/users", data=USER, headers=origin)
    assert made.ok, await made.text()
    user_id = (await made.json())["id"]
    policy = await owner.request.post(
        f"/api/auth/users/{user_id}/policy", data=USER_POLICY, headers=origin)
    assert policy.ok, await policy.text()
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, base_url=base)
    try:
        login = {k: USER[k] for k in ("username", "password")}
        response = await context.request.post("/auth/login", data=login, headers=origin)
        assert response.ok, await response.text()
        await context.add_init_script(PAGE_MARKS)
        page = await context.new_page()
        gc_pauses.take()
        await page.goto("/")
        figures = await first_render(page, "article.card", gc_pauses)
        others = await page.locator("article.card:not([data-entity-id^='sensor.'])").count()
        shown = await page.locator("p.count").text_content()
        return f"{figures} | {shown} ({others} cards it may not read)"
    finally:
        await context.close()


def populate(host: Host, devices: int, per_device: int) -> list[str]:
    """Devices, registry entries and states; the ids of the numeric entities."""
    numeric: list[str] = []
    for d in range(devices):
        name = f"Device {d:04d}"
        device = host.device_registry.get_or_create("bench", {
            "identifiers": {("bench", f"dev{d}")}, "name": name,
            "manufacturer": "Bench", "model": "Synthetic",
        })
        for i in range(per_device):
            kind = ("switch" if i == per_device - 1 else "number" if i == per_device - 2
                    else "binary_sensor" if i == per_device - 3 else "sensor")
            entry = host.entity_registry.get_or_create(
                kind, "bench", f"d{d}_{i}", suggested_object_id=f"device_{d:04d}_point_{i}",
                device_id=device.id, original_name=f"{name} point {i}",
            )
            attrs: dict[str, Any] = {"friendly_name": f"{name} point {i}"}
            if kind == "sensor":
                attrs |= {"unit_of_measurement": "W", "state_class": "measurement"}
                value = f"{random.uniform(0, 100):.1f}"
                numeric.append(entry.entity_id)
            elif kind == "number":
                attrs |= {"min": 0, "max": 100, "step": 1, "mode": "auto"}
                value = "50"
            else:
                value = random.choice(["on", "off"])
            host.states.set(entry.entity_id, value, attrs)
    return numeric


async def churn(host: Host, ids: list[str], rate: int, seconds: float) -> int:
    """``rate`` state changes per second for ``seconds``, in 10 ms ticks; returns the count."""
    tick = 0.01
    start = time.monotonic()
    owed = 0.0
    done = 0
    while (elapsed := time.monotonic() - start) < seconds:
        owed = rate * elapsed - done
        for _ in range(int(owed)):
            entity_id = random.choice(ids)
            host.states.set(entity_id, f"{random.uniform(0, 100):.1f}",
                            {"friendly_name": entity_id, "unit_of_measurement": "W",
                             "state_class": "measurement"})
            done += 1
        await asyncio.sleep(max(0.0, tick - (time.monotonic() - start - elapsed)))
    return done


def frame_stats(recorded: tuple[list[float], list[float]]) -> str:
    deltas, long_tasks = recorded
    if len(deltas) < 3:
        return f"frames={len(deltas)}"
    q = statistics.quantiles(deltas, n=100)
    long = sum(1 for d in deltas if d > LONG_FRAME_MS)
    tasks = f"long tasks={len(long_tasks)} (max {max(long_tasks, default=0):.0f} ms)"
    return (f"frames={len(deltas):5d}  p50={q[49]:5.1f}  p95={q[94]:5.1f}  "
            f"p99={q[98]:5.1f}  max={max(deltas):6.1f} ms  long(>{LONG_FRAME_MS:.0f} ms)={long}"
            f"  {tasks}")


async def record_frames(page: Page, host: Host, ids: list[str], rate: int,
                        seconds: float) -> tuple[tuple[list[float], list[float]], int]:
    await page.evaluate(FRAME_RECORDER)
    changes = 0
    if rate:
        changes = await churn(host, ids, rate, seconds)
    else:
        await asyncio.sleep(seconds)
    deltas, long_tasks = await page.evaluate("() => window.__stopFrames()")
    return (deltas[1:], long_tasks), changes  # the first delta spans the set-up


def cpu_times() -> tuple[float, float]:
    """(total, steal) jiffies of the machine, from /proc/stat."""
    fields = Path("/proc/stat").read_text(encoding="utf-8").splitlines()[0].split()[1:]
    values = [float(v) for v in fields]
    return sum(values), values[7] if len(values) > 7 else 0.0


async def run_once(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config_dir = Path(tmp)
        (config_dir / "configuration.yaml").write_text(CONFIG, encoding="utf-8")
        host = Host(config_dir, stop_timeout=5)
        async with host.running():
            server = host.data[HTTP_SERVER]
            base = f"http://127.0.0.1:{server.port}"
            t0 = time.perf_counter()
            ids = populate(host, args.devices, args.per_device)
            # Written now: a host's registries were saved long before someone opens the
            # page, and their delayed saves (10,000 entries, JSON in a worker thread that
            # holds the GIL) landed in the middle of the first load.
            await host.device_registry.flush()
            await host.entity_registry.flush()
            gc_pauses = GcPauses()
            gc.callbacks.append(gc_pauses)
            print(f"host: {len(host.states)} states, {len(host.device_registry.devices())} devices "
                  f"(populated in {time.perf_counter() - t0:.1f} s)")
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                context = await browser.new_context(
                    viewport={"width": 1366, "height": 768}, base_url=base)
                response = await context.request.post(
                    "/api/onboarding/users", data=OWNER, headers={"Origin": base})
                assert response.ok, await response.text()
                await context.add_init_script(PAGE_MARKS)
                page = await context.new_page()
                page.set_default_timeout(60_000)

                # As Host.run does after a set-up wave (and the browser's driver, which
                # shares this process with the host, is frozen with it: a real host's
                # collections would not scan it).
                host.settle_gc()
                gc_pauses.take()
                load0, cpu0 = os.getloadavg()[0], cpu_times()
                await page.goto("/")
                first = await first_render(page, "article.card", gc_pauses)
                cards = await page.locator("article.card").count()
                print(f"overview first render ({cards} cards): {first}")
                # The same again with a warm HTTP cache (modules cached).
                await page.reload()
                again = await first_render(page, "article.card", gc_pauses)
                print(f"overview reload:            {again}")

                idle, _ = await record_frames(page, host, ids, 0, args.seconds)
                print(f"overview idle          {frame_stats(idle)}")
                busy, changes = await record_frames(page, host, ids, args.rate, args.seconds)
                print(f"overview {changes / args.seconds:4.0f} changes/s {frame_stats(busy)}")
                # The worst case: every change hits a card on the page (numeric ones).
                shown_ids: list[str] = await page.evaluate(
                    "() => [...document.querySelectorAll('article.card')]"
                    ".map((e) => e.dataset.entityId)")
                visible = [i for i in shown_ids if i.startswith("sensor.")]
                busy, changes = await record_frames(page, host, visible, args.rate, args.seconds)
                print(f"overview {changes / args.seconds:4.0f} changes/s on its {len(visible)} "
                      f"sensor cards {frame_stats(busy)}")

                started = await page.evaluate("() => performance.now()")
                await page.get_by_role("link", name="Entities & devices").click()
                await page.wait_for_selector("tr[data-entity-id]")
                shown = await page.evaluate("() => performance.now()")
                print(f"entities page render:  {shown - started:7.0f} ms from the click")
                busy, changes = await record_frames(page, host, ids, args.rate, args.seconds)
                print(f"entities {changes / args.seconds:4.0f} changes/s {frame_stats(busy)}")

                direct = await context.new_page()
                await direct.goto("/#/entities")
                print(f"entities page loaded directly: "
                      f"{await first_render(direct, 'tr[data-entity-id]', gc_pauses)}")
                await direct.close()
                as_user = await user_render(browser, context, base, gc_pauses)
                print(f"overview as a user:  {as_user}")

                started = await page.evaluate("() => performance.now()")
                await page.get_by_label("Search entities and devices").fill("device_0999")
                await page.wait_for_function(
                    "() => document.querySelectorAll('tr[data-entity-id]').length === 10")
                done = await page.evaluate("() => performance.now()")
                print(f"entities search:       {done - started:7.0f} ms to 10 rows of 10,000")

                total1, steal1 = cpu_times()
                steal = 100 * (steal1 - cpu0[1]) / max(1.0, total1 - cpu0[0])
                print(f"load average {load0:.2f} -> {os.getloadavg()[0]:.2f}, "
                      f"CPU steal {steal:.1f} %, {os.cpu_count()} CPUs")
                await browser.close()
            gc.callbacks.remove(gc_pauses)


async def main(args: argparse.Namespace) -> None:
    for run in range(args.runs):
        print(f"-- run {run + 1}/{args.runs}")
        await run_once(args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--per-device", type=int, default=10)
    parser.add_argument("--rate", type=int, default=500, help="state changes per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=1)
    asyncio.run(main(parser.parse_args()))
