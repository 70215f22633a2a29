"""Reloading many times leaves nothing behind: listeners, tracked entities, timers,
webhooks, mqtt subscriptions, services and tasks come back to the same numbers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from autotools import running

from gatehouse.core.http import Webhook, register_webhook
from gatehouse.core.testing import wait_until
from gatehouse.integrations.script.dispatch import state_dispatcher

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

CONFIG = """
automation:
  - id: many
    trigger_variables: {who: "{{ 'tv' }}"}
    triggers:
      - {trigger: state, entity_id: [sensor.a, sensor.b], to: "on", for: 30}
      - {trigger: numeric_state, entity_id: sensor.n, above: 5, for: 30}
      - {trigger: template, value_template: "{{ is_state('sensor.a', 'x') }}"}
      - trigger: event
        event_type: ping
        variables: {how: "{{ trigger.event.event_type }}"}
      - {trigger: time_pattern, minutes: "/5"}
      - {trigger: time, at: "03:00"}
      - {trigger: mqtt, topic: leak/#}
      - {trigger: webhook, webhook_id: leak-hook}
      - {trigger: nats, subject: "leak.>"}
    actions:
      - action: test.record
        data: {value: "{{ who }} {{ how }} {{ this.entity_id }}"}
script:
  s:
    sequence: [{delay: 30}]
"""


async def test_reload_leaves_nothing_behind(config_dir: Path) -> None:
    async with running(config_dir, CONFIG) as (host, rec):
        host.states.set("sensor.a", "on")  # a 'for' timer pending across reloads
        host.states.set("sensor.n", "9")
        await host.services.call("script", "turn_on", {"entity_id": "script.s"})
        host.bus.fire("ping")
        assert (await rec.wait(1))[0]["value"] == "tv ping automation.many"

        def reloading() -> bool:
            """A reload's host task ends just after its caller was told it is done."""
            return any(task.get_name().endswith(" reload") for task in asyncio.all_tasks())

        def counts() -> tuple[object, ...]:
            loop = asyncio.get_running_loop()
            # a cancelled timer stays in the loop's heap until its time: count live ones
            timers = sum(not handle.cancelled()
                         for handle in loop._scheduled)  # type: ignore[attr-defined]
            return (host.bus.listeners(), state_dispatcher(host).tracked(),
                    host.services.count(), len(asyncio.all_tasks()), timers)

        await host.services.call("automation", "reload")
        await host.services.call("script", "reload")
        await wait_until(lambda: not reloading())
        before = counts()
        for _ in range(20):
            host.states.set("sensor.a", "off")
            host.states.set("sensor.a", "on")
            await host.services.call("script", "turn_on", {"entity_id": "script.s"})
            await host.services.call("automation", "reload")
            await host.services.call("script", "reload")
        await wait_until(lambda: not reloading())
        assert counts() == before
        # the webhook id is free again only once its trigger is gone: still taken now
        with pytest.raises(ValueError, match="already used"):
            register_webhook(host, Webhook("leak-hook", lambda data: None))
