"""Conformance of the AWS IoT Core fake, driven by a plain paho client with mTLS.

The integration's tests trust what the fake answers, so the fake is checked here
against AWS's documented shapes first ("Device Shadow MQTT topics", "Device Shadow
service documents", "Device Shadow error messages", "Device provisioning MQTT API",
"Jobs device MQTT API operations").
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from awsfake import FakeAwsIot
from awstools import THING, AwsCerts, DeviceClient, device_client

from gatehouse.core.testing import Mosquitto

pytest_plugins = ["awstools"]

SHADOW = f"$aws/things/{THING}/shadow"


@pytest.fixture
def device(
    aws_fake: FakeAwsIot, aws_broker: Mosquitto, aws_certs: AwsCerts
) -> Iterator[DeviceClient]:
    with device_client(aws_broker, aws_certs.root_ca, aws_certs.device()) as client:
        yield client


def test_get_of_missing_shadow_is_404(device: DeviceClient) -> None:
    kind, body = device.request(f"{SHADOW}/get", {"clientToken": "t1"})
    assert kind == "rejected"
    assert body["code"] == 404
    assert body["message"] == f"No shadow exists with name: '{THING}'"
    assert body["clientToken"] == "t1"
    assert isinstance(body["timestamp"], int)


def test_update_then_get(device: DeviceClient, aws_fake: FakeAwsIot) -> None:
    kind, body = device.request(
        f"{SHADOW}/update", {"state": {"reported": {"temp": 21.5, "on": True}}, "clientToken": "u1"}
    )
    assert kind == "accepted", body
    assert body["state"] == {"reported": {"temp": 21.5, "on": True}}
    assert body["version"] == 1
    assert body["clientToken"] == "u1"
    ts = body["timestamp"]
    assert body["metadata"] == {"reported": {"temp": {"timestamp": ts}, "on": {"timestamp": ts}}}
    kind, doc = device.request(f"{SHADOW}/get", {"clientToken": "g1"})
    assert kind == "accepted"
    assert doc["state"] == {"reported": {"temp": 21.5, "on": True}}
    assert doc["version"] == 1
    assert doc["clientToken"] == "g1"
    assert aws_fake.shadow(THING) == {k: doc[k] for k in ("state", "metadata", "version")}
    assert [u.code for u in aws_fake.updates_for(THING)] == [200]


def test_desired_from_cloud_publishes_delta_and_documents(
    device: DeviceClient, aws_fake: FakeAwsIot
) -> None:
    device.request(f"{SHADOW}/update", {"state": {"reported": {"on": False, "level": 3}}})
    device.subscribe(f"{SHADOW}/update/delta", f"{SHADOW}/update/documents")
    version = aws_fake.set_desired(THING, {"on": True, "level": 3, "mode": {"a": 1}})
    assert version == 2
    delta = device.next_message(f"{SHADOW}/update/delta")
    # Only what differs from reported: level matches, so it is not part of the delta.
    assert delta["state"] == {"on": True, "mode": {"a": 1}}
    assert delta["version"] == 2
    ts = delta["timestamp"]
    assert delta["metadata"] == {"on": {"timestamp": ts}, "mode": {"a": {"timestamp": ts}}}
    docs = device.next_message(f"{SHADOW}/update/documents")
    assert docs["previous"]["version"] == 1
    assert docs["previous"]["state"] == {"reported": {"on": False, "level": 3}}
    assert docs["current"]["version"] == 2
    assert docs["current"]["state"]["desired"] == {"on": True, "level": 3, "mode": {"a": 1}}
    kind, doc = device.request(f"{SHADOW}/get")
    assert kind == "accepted"
    assert doc["state"]["delta"] == {"on": True, "mode": {"a": 1}}
    # The device reports what it applied: the delta goes away, no new delta message.
    kind, _ = device.request(
        f"{SHADOW}/update", {"state": {"reported": {"on": True, "mode": {"a": 1}}}, "version": 2}
    )
    assert kind == "accepted"
    shadow = aws_fake.shadow(THING)
    assert shadow is not None
    assert "delta" not in shadow["state"]
    assert shadow["version"] == 3
    assert device.messages(f"{SHADOW}/update/delta") == []


def test_bool_and_number_differ_in_delta(device: DeviceClient, aws_fake: FakeAwsIot) -> None:
    device.request(f"{SHADOW}/update", {"state": {"reported": {"on": 1}}})
    aws_fake.set_desired(THING, {"on": True})
    shadow = aws_fake.shadow(THING)
    assert shadow is not None
    assert shadow["state"]["delta"] == {"on": True}


def test_version_conflict_is_409(device: DeviceClient) -> None:
    device.request(f"{SHADOW}/update", {"state": {"reported": {"a": 1}}})
    kind, body = device.request(
        f"{SHADOW}/update",
        {"state": {"reported": {"a": 2}}, "version": 7, "clientToken": "c409"},
    )
    assert kind == "rejected"
    assert body["code"] == 409
    assert body["message"] == "Version conflict"
    assert body["clientToken"] == "c409"
    _, doc = device.request(f"{SHADOW}/get")
    assert doc["state"]["reported"] == {"a": 1}
    assert doc["version"] == 1


def test_too_large_is_413_and_counts_the_merged_document(device: DeviceClient) -> None:
    # Each update alone is under 8 KB; together they are over it (AWS merges first).
    kind, _ = device.request(f"{SHADOW}/update", {"state": {"reported": {"a": "x" * 5000}}})
    assert kind == "accepted"
    kind, body = device.request(f"{SHADOW}/update", {"state": {"reported": {"b": "y" * 5000}}})
    assert kind == "rejected"
    assert body["code"] == 413
    assert body["message"] == "The payload exceeds the maximum size allowed"
    _, doc = device.request(f"{SHADOW}/get")
    assert set(doc["state"]["reported"]) == {"a"}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "Invalid JSON"),
        ({"clientToken": "x"}, "Missing required node: state"),
        ({"state": [1]}, "State node must be an object"),
        ({"state": {"desired": 5}}, "Desired node must be an object"),
        ({"state": {"reported": "on"}}, "Reported node must be an object"),
        ({"state": {"reported": {}}, "version": "3"}, "Invalid version"),
        ({"state": {"reported": {}}, "clientToken": "t" * 65}, "Invalid clientToken"),
        (
            {"state": {"reported": {"1": {"2": {"3": {"4": {"5": {"6": {"7": 1}}}}}}}}},
            "JSON contains too many levels of nesting; maximum is 6",
        ),
        ({"state": {"delta": {"a": 1}}}, "State contains an invalid node"),
    ],
)
def test_bad_update_is_400(
    device: DeviceClient, payload: bytes | dict[str, object], message: str
) -> None:
    kind, body = device.request(f"{SHADOW}/update", payload)  # type: ignore[arg-type]
    assert (kind, body["code"], body["message"]) == ("rejected", 400, message)


def test_six_levels_are_allowed(device: DeviceClient) -> None:
    deep = {"1": {"2": {"3": {"4": {"5": {"6": 1}}}}}}
    kind, _ = device.request(f"{SHADOW}/update", {"state": {"reported": deep}})
    assert kind == "accepted"


def test_invalid_utf8_is_415(device: DeviceClient) -> None:
    kind, body = device.request(f"{SHADOW}/update", b'{"state": "\xff"}')
    assert (kind, body["code"]) == ("rejected", 415)


def test_null_deletes_keys_and_sections(device: DeviceClient, aws_fake: FakeAwsIot) -> None:
    device.request(f"{SHADOW}/update", {"state": {"reported": {"a": 1, "b": {"c": 2, "d": 3}}}})
    aws_fake.set_desired(THING, {"x": 1})
    kind, body = device.request(
        f"{SHADOW}/update", {"state": {"reported": {"a": None, "b": {"c": None}}}}
    )
    assert kind == "accepted"
    assert body["state"] == {"reported": {"a": None, "b": {"c": None}}}
    shadow = aws_fake.shadow(THING)
    assert shadow is not None
    assert shadow["state"]["reported"] == {"b": {"d": 3}}
    assert shadow["metadata"]["reported"] == {"b": {"d": {"timestamp": body["timestamp"]}}}
    device.request(f"{SHADOW}/update", {"state": {"desired": None}})
    shadow = aws_fake.shadow(THING)
    assert shadow is not None
    assert "desired" not in shadow["state"]
    assert "delta" not in shadow["state"]


def test_named_shadow_is_separate(device: DeviceClient, aws_fake: FakeAwsIot) -> None:
    named = f"{SHADOW}/name/climate"
    kind, body = device.request(f"{named}/get")
    assert (kind, body["code"], body["message"]) == (
        "rejected",
        404,
        "No shadow exists with name: 'climate'",
    )
    device.subscribe(f"{named}/update/delta")
    kind, _ = device.request(f"{named}/update", {"state": {"reported": {"t": 20}}})
    assert kind == "accepted"
    aws_fake.set_desired(THING, {"t": 22}, name="climate")
    assert device.next_message(f"{named}/update/delta")["state"] == {"t": 22}
    assert aws_fake.shadow(THING) is None
    shadow = aws_fake.shadow(THING, "climate")
    assert shadow is not None
    assert shadow["state"]["delta"] == {"t": 22}
    assert [u.name for u in aws_fake.updates_for(THING, "climate")] == ["climate"]


def test_delete_keeps_the_version(device: DeviceClient, aws_fake: FakeAwsIot) -> None:
    device.request(f"{SHADOW}/update", {"state": {"reported": {"a": 1}}})
    device.request(f"{SHADOW}/update", {"state": {"reported": {"a": 2}}})
    kind, body = device.request(f"{SHADOW}/delete", {"clientToken": "d"})
    assert (kind, body["version"], body["clientToken"]) == ("accepted", 2, "d")
    assert aws_fake.shadow(THING) is None
    kind, body = device.request(f"{SHADOW}/delete")
    assert (kind, body["code"]) == ("rejected", 404)
    _, body = device.request(f"{SHADOW}/update", {"state": {"reported": {"a": 3}}})
    assert body["version"] == 3


@pytest.mark.parametrize("code", [401, 403, 429, 500])
def test_fail_next_injects_one_error(device: DeviceClient, aws_fake: FakeAwsIot, code: int) -> None:
    aws_fake.fail_next("update", code)
    kind, body = device.request(
        f"{SHADOW}/update", {"state": {"reported": {"a": 1}}, "clientToken": "f"}
    )
    assert (kind, body["code"], body["clientToken"]) == ("rejected", code, "f")
    assert body["message"]
    kind, _ = device.request(f"{SHADOW}/update", {"state": {"reported": {"a": 1}}})
    assert kind == "accepted"
    assert [u.code for u in aws_fake.updates_for(THING)] == [code, 200]


@pytest.mark.anyio
async def test_wait_for_wakes_on_device_traffic(
    aws_fake: FakeAwsIot, aws_broker: Mosquitto, aws_certs: AwsCerts
) -> None:
    async def report() -> None:
        def run() -> None:
            with device_client(aws_broker, aws_certs.root_ca, aws_certs.device()) as dev:
                dev.request(f"{SHADOW}/update", {"state": {"reported": {"ready": True}}})

        await anyio.to_thread.run_sync(run)

    async with anyio.create_task_group() as tg:
        tg.start_soon(report)
        shadow = await aws_fake.wait_for(lambda: aws_fake.shadow(THING), timeout=5)
    assert shadow["state"]["reported"] == {"ready": True}
    with pytest.raises(TimeoutError, match="never"):
        await aws_fake.wait_for(lambda: aws_fake.shadow("nope"), timeout=0.05, what="never")
