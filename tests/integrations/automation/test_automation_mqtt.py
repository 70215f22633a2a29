"""The mqtt trigger against a real Mosquitto: subscribed through the mqtt integration's
api, payload match after a value_template, JSON payloads, and an automation that is
set up before the mqtt entry has connected."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from autotools import running

from gatehouse.core.testing import Mosquitto, wait_until
from gatehouse.integrations.mqtt.api import MQTT_API

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def publish(port: int, topic: str, payload: str) -> None:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="auto-test-pub")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


async def test_mqtt_trigger(config_dir: Path, mosquitto: Mosquitto) -> None:
    config = f"""
mqtt:
  broker: 127.0.0.1
  port: {mosquitto.port}
automation:
  - id: alarm
    triggers:
      - trigger: mqtt
        id: json
        topic: plant/+/alarm
        value_template: "{{{{ value_json.level }}}}"
        payload: "high"
      - platform: mqtt
        id: plain
        topic: plant/reset
    actions:
      - action: test.record
        data:
          value: "{{{{ trigger.id }}}} {{{{ trigger.topic }}}} {{{{ trigger.payload }}}}"
          json: "{{{{ trigger.payload_json }}}}"
"""
    async with running(config_dir, config) as (host, rec):
        await wait_until(host.data[MQTT_API].is_connected)
        # the subscription is live once a probe comes back through the broker
        while not rec.calls:
            publish(mosquitto.port, "plant/reset", "probe")
            with contextlib.suppress(TimeoutError):
                await rec.wait(1, timeout=0.5)
        await rec.wait(1)
        del rec.calls[1:]  # probes that crossed
        publish(mosquitto.port, "plant/a/alarm", json.dumps({"level": "low"}))
        publish(mosquitto.port, "plant/b/alarm", json.dumps({"level": "high"}))
        publish(mosquitto.port, "plant/b/alarm", "not json")  # template fails: ignored
        publish(mosquitto.port, "plant/reset", "end")
        await rec.wait(3)
        assert rec.values() == ["plain plant/reset probe",
                                'json plant/b/alarm {"level": "high"}',
                                "plain plant/reset end"]
        assert rec.calls[1]["json"] == {"level": "high"}
