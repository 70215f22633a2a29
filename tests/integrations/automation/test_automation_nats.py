"""The nats trigger against a real nats-server (JetStream): a nats consumer with
``target: event`` fires ``nats_message`` per message, and the trigger matches its
subject with NATS wildcards and its payload."""

from __future__ import annotations

import json
from pathlib import Path

import nats
import pytest
from autotools import running

from gatehouse.core.testing import NatsServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def test_nats_trigger_from_a_consumer(config_dir: Path, nats_server: NatsServer) -> None:
    config = f"""
nats:
  name: Bus
  servers: ["{nats_server.url}"]
  streams:
    - name: TELEMETRY
      subjects: ["tele.>"]
  consumers:
    - name: Alarms
      stream: TELEMETRY
      filter_subject: "tele.alarm.>"
      target: event
      fetch_timeout: 0.2
automation:
  - id: nats_alarm
    triggers:
      - trigger: nats
        subject: "tele.alarm.*"
    conditions: "{{{{ trigger.payload_json.code > 5 }}}}"
    actions:
      - action: test.record
        data:
          value: "{{{{ trigger.subject }}}} {{{{ trigger.payload_json.code }}}}"
"""
    async with running(config_dir, config) as (_host, rec):
        client = await nats.connect(nats_server.url)
        try:
            js = client.jetstream()
            await js.publish("tele.alarm.pump", json.dumps({"code": 3}).encode())
            await js.publish("tele.alarm.pump.extra", json.dumps({"code": 9}).encode())
            await js.publish("tele.alarm.valve", json.dumps({"code": 7}).encode())
            await rec.wait(1)
            assert rec.values() == ["tele.alarm.valve 7"]
        finally:
            await client.close()
