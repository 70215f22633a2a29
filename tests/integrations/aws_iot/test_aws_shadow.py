"""Device Shadow sync (shadow.py) against Mosquitto with mTLS and the AWS IoT fake.

Each AWS answer the "Device Shadow error messages" page lists is played by the fake
(``fail_next``); the sync runs over a plain paho ``MqttLink`` (awslink.py), so these
tests need nothing of the integration's connection.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from awsfake import SHADOW_MAX_BYTES, FakeAwsIot, state_size
from awslink import PahoLink, paho_link
from awstools import THING, AwsCerts, aws_entry_data, device_client, issue_device_cert

from gatehouse.core import ConfigEntryState, Host, ServiceCall
from gatehouse.core.helpers import Backoff
from gatehouse.core.testing import Mosquitto, add_entry, make_host, state_of, wait_until
from gatehouse.integrations.aws_iot.errors import AwsIotConfigError, DeltaRefused
from gatehouse.integrations.aws_iot.shadow import (
    SHADOW_MAX_DEPTH,
    ShadowSync,
    document_size,
    fit_update,
    service_for,
)

pytestmark = pytest.mark.anyio
pytest_plugins = ["awstools"]

QUICK = Backoff(initial=0.01, maximum=0.05, jitter=0)


@pytest.fixture
async def link(
    aws_fake: FakeAwsIot, aws_broker: Mosquitto, aws_certs: AwsCerts
) -> AsyncIterator[PahoLink]:
    async with paho_link(
        aws_broker, aws_certs.root_ca, aws_certs.certificate, aws_certs.private_key
    ) as connected:
        yield connected


class Devices:
    """Entities with real services on the host: a switch, a number, a failing switch."""

    def __init__(self, host: Host) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.host = host
        host.states.set("switch.porch", "off")
        host.states.set("number.setpoint", "18")
        host.states.set("sensor.temp", "21.5")
        host.states.set("switch.broken", "off")
        for service in ("turn_on", "turn_off"):
            host.services.register("switch", service, self._switch)
        host.services.register("number", "set_value", self._number)

    async def _switch(self, call: ServiceCall) -> None:
        self.calls.append((call.domain, call.service, dict(call.data)))
        assert call.context.user_id is None  # the system, never an admin
        if call.data["entity_id"] == "switch.broken":
            raise RuntimeError("relay stuck")
        self.host.states.set(call.data["entity_id"], "on" if call.service == "turn_on" else "off")

    async def _number(self, call: ServiceCall) -> None:
        self.calls.append((call.domain, call.service, dict(call.data)))
        self.host.states.set(call.data["entity_id"], call.data["value"])


@pytest.fixture
def devices(host: Host) -> Devices:
    return Devices(host)


def config(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "enabled": True,
        "name": None,
        "include": {"entities": ["sensor.temp"]},
        "mapping": {"porch": "switch.porch", "setpoint": "number.setpoint"},
        "report_delay": 0.0,
    }
    base.update(overrides)
    return base


async def started(link: PahoLink, host: Host, **overrides: Any) -> ShadowSync:
    sync = ShadowSync(link, host, THING, config(**overrides), backoff=QUICK)
    await sync.start()
    return sync


def reported(fake: FakeAwsIot, name: str | None = None) -> dict[str, Any]:
    doc = fake.shadow(THING, name)
    return dict((doc or {}).get("state", {}).get("reported") or {})


async def test_get_on_connect_404_creates_the_shadow(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot
) -> None:
    sync = await started(link, host)
    await aws_fake.wait_for(lambda: reported(aws_fake), what="shadow created")
    assert aws_fake.requests_for(THING, "get") == 1
    first = aws_fake.updates_for(THING)[0]
    assert "version" not in first.body  # a create: no version to match yet
    assert first.body["clientToken"]
    assert reported(aws_fake) == {"sensor.temp": 21.5, "porch": False, "setpoint": 18}
    await wait_until(lambda: sync.version == aws_fake.shadow(THING)["version"])  # type: ignore[index]
    await sync.stop()


async def test_only_changes_are_reported_coalesced_with_the_version(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot
) -> None:
    aws_fake.set_reported(THING, {"sensor.temp": 21.5, "porch": False, "setpoint": 18})
    sync = await started(link, host, report_delay=0.05)
    await wait_until(lambda: sync.version == 1 and sync.stats["gets_sent"] == 1)
    await wait_until(lambda: not sync._inflight)
    assert aws_fake.updates_for(THING) == []  # the shadow already says it all
    for value in ("22", "23", "24"):
        host.states.set("sensor.temp", value)
    await aws_fake.wait_for(lambda: reported(aws_fake)["sensor.temp"] == 24)
    updates = aws_fake.updates_for(THING)
    assert len(updates) == 1
    assert updates[0].body["state"] == {"reported": {"sensor.temp": 24}}
    assert updates[0].body["version"] == 1
    await sync.stop()


async def test_delta_calls_the_service_then_reports_back(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot
) -> None:
    sync = await started(link, host)
    await aws_fake.wait_for(lambda: reported(aws_fake))
    aws_fake.set_desired(THING, {"porch": "on", "setpoint": 21})
    await aws_fake.wait_for(
        lambda: not aws_fake.shadow(THING)["state"].get("delta"),  # type: ignore[index]
        what="delta settled",
    )
    assert ("switch", "turn_on", {"entity_id": "switch.porch"}) in devices.calls
    assert ("number", "set_value", {"entity_id": "number.setpoint", "value": 21}) in devices.calls
    # reported in the shape the cloud asked for: "on" for "on"
    assert reported(aws_fake)["porch"] == "on"
    assert reported(aws_fake)["setpoint"] == 21
    assert host.states.get("switch.porch").state == "on"  # type: ignore[union-attr]
    # booleans too
    aws_fake.set_desired(THING, {"porch": False})
    await aws_fake.wait_for(lambda: reported(aws_fake)["porch"] is False)
    assert devices.calls[-1] == ("switch", "turn_off", {"entity_id": "switch.porch"})
    assert sync.stats["deltas_applied"] == 3
    await sync.stop()


async def test_a_delta_the_entity_cannot_follow_is_applied_once(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot
) -> None:
    """The fake re-sends the delta after every report (delta_on_reported): the device
    must not call the failing service again for the same desired value."""
    sync = await started(link, host, mapping={"broken": "switch.broken"})
    await aws_fake.wait_for(lambda: reported(aws_fake))
    aws_fake.set_desired(THING, {"broken": True})
    await wait_until(lambda: sync.stats["deltas_failed"] == 1)
    host.states.set("sensor.temp", "30")  # a report: AWS answers with the delta again
    await aws_fake.wait_for(lambda: reported(aws_fake)["sensor.temp"] == 30)
    await aws_fake.wait_for(lambda: len(aws_fake.responses_on("/update/delta")) >= 2)
    await wait_until(lambda: not sync._inflight and not sync._deltas)
    assert [c for c in devices.calls if c[2]["entity_id"] == "switch.broken"] == [
        ("switch", "turn_on", {"entity_id": "switch.broken"})
    ]
    assert sync.stats["deltas_failed"] == 1
    assert reported(aws_fake)["broken"] is False  # the truth, not the wish
    await sync.stop()


@pytest.mark.parametrize("report_delay", [0.0, 0.05])
async def test_version_conflict_gets_again_and_retries(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot, report_delay: float
) -> None:
    """With a report delay too: the retry after the re-read is not a state change, and
    it waited for one forever (found by the end-to-end test)."""
    sync = await started(link, host, report_delay=report_delay)
    await aws_fake.wait_for(lambda: reported(aws_fake))
    aws_fake.fail_next("update", 409, thing=THING)
    host.states.set("sensor.temp", "25")
    await aws_fake.wait_for(lambda: reported(aws_fake)["sensor.temp"] == 25)
    assert sync.rejections == {404: 1, 409: 1}  # 404: the first get (no shadow yet)
    assert aws_fake.requests_for(THING, "get") == 2  # re-read after the conflict
    codes = [u.code for u in aws_fake.updates_for(THING)]
    assert codes == [200, 409, 200]
    await sync.stop()


async def test_real_version_conflict_with_a_cloud_update_in_between(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot
) -> None:
    """An update carrying an old version (the cloud changed the shadow meanwhile) is
    refused by AWS's own check, then re-read and sent again."""
    sync = await started(link, host)
    await aws_fake.wait_for(lambda: reported(aws_fake))
    aws_fake.pause()  # requests queue on the broker while the cloud side moves on
    host.states.set("sensor.temp", "26")
    await wait_until(lambda: sync.stats["updates_sent"] == 2)
    with aws_fake._lock:  # a cloud-side change the device cannot have seen yet
        aws_fake._shadows[(THING, None)].version += 5
    aws_fake.resume()
    await aws_fake.wait_for(lambda: reported(aws_fake)["sensor.temp"] == 26)
    assert sync.rejections.get(409) == 1
    await sync.stop()


@pytest.mark.parametrize("code", [400, 413])
async def test_400_and_413_drop_that_update(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot, code: int
) -> None:
    sync = await started(link, host)
    await aws_fake.wait_for(lambda: reported(aws_fake))
    aws_fake.fail_next("update", code, thing=THING)
    host.states.set("sensor.temp", "27")
    await wait_until(lambda: sync.rejections.get(code) == 1)
    host.states.set("switch.porch", "on")  # the next change still goes out, alone
    await aws_fake.wait_for(lambda: reported(aws_fake)["porch"] is True)
    assert [u.code for u in aws_fake.updates_for(THING)] == [200, code, 200]
    assert aws_fake.updates_for(THING)[-1].body["state"] == {"reported": {"porch": True}}
    assert reported(aws_fake)["sensor.temp"] == 21.5  # dropped, not retried
    await sync.stop()


@pytest.mark.parametrize("code", [401, 403])
async def test_401_403_stop_the_sync_with_a_problem(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot, code: int
) -> None:
    aws_fake.fail_next("get", code, thing=THING)
    sync = await started(link, host)
    await wait_until(lambda: sync.problem)
    assert str(code) in (sync.problem or "")
    host.states.set("sensor.temp", "28")
    aws_fake.set_desired(THING, {"porch": "on"})  # traffic that wakes the sync
    await aws_fake.wait_for(lambda: aws_fake.responses_on("/update/delta"))
    await wait_until(lambda: not sync._deltas or sync.problem)
    assert aws_fake.requests_for(THING, "get") == 1
    assert aws_fake.updates_for(THING) == []
    await sync.stop()


@pytest.mark.parametrize("code", [429, 500])
async def test_429_500_retry_after_a_backoff(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot, code: int
) -> None:
    aws_fake.fail_next("get", code, thing=THING)
    aws_fake.fail_next("update", code, thing=THING, times=2)
    sync = await started(link, host)
    await aws_fake.wait_for(lambda: reported(aws_fake), what="created after the retries")
    assert sync.rejections == {code: 3, 404: 1}
    assert aws_fake.requests_for(THING, "get") == 2
    assert [u.code for u in aws_fake.updates_for(THING)] == [code, code, 200]
    assert sync.problem is None
    await sync.stop()


async def test_404_on_update_recreates_a_deleted_shadow(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot
) -> None:
    sync = await started(link, host)
    await aws_fake.wait_for(lambda: reported(aws_fake))
    aws_fake.delete_shadow(THING)
    aws_fake.fail_next("update", 404, thing=THING)  # as AWS answers a versioned update then
    host.states.set("sensor.temp", "29")
    await aws_fake.wait_for(lambda: reported(aws_fake).get("sensor.temp") == 29)
    last = aws_fake.updates_for(THING)[-1]
    assert "version" not in last.body
    assert last.body["state"]["reported"] == {"sensor.temp": 29, "porch": False, "setpoint": 18}
    await sync.stop()


async def test_a_shadow_deleted_by_the_cloud_is_recreated_whole(
    link: PahoLink,
    host: Host,
    devices: Devices,
    aws_fake: FakeAwsIot,
    aws_broker: Mosquitto,
    aws_certs: AwsCerts,
) -> None:
    sync = await started(link, host)
    await aws_fake.wait_for(lambda: reported(aws_fake))
    app = issue_device_cert(aws_certs, "gh-app")
    with device_client(aws_broker, aws_certs.root_ca, app, client_id="gh-app") as other:
        assert other.request(f"$aws/things/{THING}/shadow/delete", {})[0] == "accepted"
    await aws_fake.wait_for(lambda: reported(aws_fake))  # re-created at once, whole
    host.states.set("sensor.temp", "35")
    await aws_fake.wait_for(lambda: reported(aws_fake).get("sensor.temp") == 35)
    assert reported(aws_fake) == {"sensor.temp": 35, "porch": False, "setpoint": 18}
    await sync.stop()


async def test_limits_are_enforced_before_sending(
    link: PahoLink,
    host: Host,
    devices: Devices,
    aws_fake: FakeAwsIot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for i in range(60):
        host.states.set(f"sensor.long_{i:02d}", f"{i:02d}" + "x" * 200)
    sync = await started(link, host, include={"entity_globs": ["sensor.long_*"]}, mapping={})
    await aws_fake.wait_for(lambda: reported(aws_fake))
    await wait_until(lambda: not sync._inflight and sync.stats["updates_accepted"] == 1)
    assert all(u.code == 200 for u in aws_fake.updates_for(THING))  # never a 413
    doc = aws_fake._shadows[(THING, None)]
    assert state_size(doc) <= SHADOW_MAX_BYTES
    assert 0 < sync.stats["left_out"] < 60
    assert len(reported(aws_fake)) + sync.stats["left_out"] == 60
    # More of the same burst: counted, not logged again; what fits still goes out.
    left_out = sorted(set(host.states.entity_ids("sensor")) - set(reported(aws_fake)))
    left_out = [e for e in left_out if e.startswith("sensor.long_")]
    before = sync.stats["left_out"]
    # The room left is less than one entry (the trim stopped as soon as it fitted):
    # a same-size replacement fits, one more entry of that size does not.
    kept = sorted(reported(aws_fake))[0]
    host.states.set(left_out[0], "y" * 210)
    host.states.set(kept, kept[-2:] + "z" * 200)
    await aws_fake.wait_for(lambda: reported(aws_fake)[kept].endswith("z"))
    assert sync.stats["left_out"] == before + 1
    assert left_out[0] not in reported(aws_fake)
    logged = [r for r in caplog.records if "left out of the report" in r.getMessage()]
    assert len(logged) == 1
    assert all(u.code == 200 for u in aws_fake.updates_for(THING))


async def test_the_shared_entity_filter_selects_what_is_reported(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot
) -> None:
    host.states.set("sensor.kitchen", "20", {"device_class": "temperature"})
    host.states.set("sensor.secret_vault", "19", {"device_class": "temperature"})
    host.states.set("sensor.power", "300", {"device_class": "power"})
    sync = await started(
        link,
        host,
        include={"domains": ["sensor"], "attributes": {"device_class": "temperature"}},
        exclude={"entity_globs": ["sensor.secret_*"]},
        mapping={},
    )
    await aws_fake.wait_for(lambda: reported(aws_fake))
    assert reported(aws_fake) == {"sensor.kitchen": 20}
    host.states.set("sensor.power", "310", {"device_class": "power"})
    host.states.set("sensor.kitchen", "21", {"device_class": "temperature"})
    await aws_fake.wait_for(lambda: reported(aws_fake) == {"sensor.kitchen": 21})
    # leaving the selection (an attribute condition) removes the key, as removal does
    host.states.set("sensor.power", "300", {"device_class": "temperature"})
    await aws_fake.wait_for(
        lambda: reported(aws_fake) == {"sensor.kitchen": 21, "sensor.power": 300}
    )
    host.states.set("sensor.power", "300", {"device_class": "power"})
    await aws_fake.wait_for(lambda: reported(aws_fake) == {"sensor.kitchen": 21})
    host.states.remove("sensor.kitchen")  # removed: null deletes the key
    await aws_fake.wait_for(lambda: reported(aws_fake) == {})
    await wait_until(lambda: not sync._inflight)
    assert sync._current == {}  # forgotten once the shadow dropped them
    await sync.stop()


def test_fit_update_leaves_out_too_deep_and_too_big() -> None:
    deep: Any = 1
    for _ in range(SHADOW_MAX_DEPTH):
        deep = {"d": deep}
    ok_deep: Any = 1
    for _ in range(SHADOW_MAX_DEPTH - 1):
        ok_deep = {"d": ok_deep}
    kept, out = fit_update(None, {}, {"deep": deep, "ok": ok_deep})
    assert out == ["deep"] and kept == {"ok": ok_deep}
    big = {f"k{i}": "v" * 1000 for i in range(9)}
    kept, out = fit_update({"x": "y"}, {}, big)
    assert len(out) == 1 and document_size({"x": "y"}, kept) <= SHADOW_MAX_BYTES
    # a removal always fits (it only shrinks the document)
    kept, out = fit_update(None, {"a": "v" * 9000}, {"a": None})
    assert kept == {"a": None} and out == []


def test_fit_update_agrees_with_the_fake_on_random_documents() -> None:
    """Whatever it keeps, the fake (AWS's rules) accepts; it leaves out only when it must."""
    from awsfake import ShadowDocument, ShadowRejected, apply_update

    rng = random.Random(7)
    trimmed = fitted = 0

    def value(level: int) -> Any:
        roll = rng.random()
        if level < 3 and roll < 0.2:
            return {f"n{i}": value(level + 1) for i in range(rng.randint(0, 3))}
        if roll < 0.3:
            return None
        if roll < 0.6:
            return "é" * rng.randint(0, 500)  # multi-byte: bytes, not characters
        return rng.choice([True, 1, 2.5, "on"])

    for _ in range(300):
        desired = {f"d{i}": value(1) for i in range(rng.randint(0, 5))} or None
        reported = {f"k{i}": value(1) for i in range(rng.randint(0, 30))}
        reported = {k: v for k, v in reported.items() if v is not None}
        if document_size(desired, reported) > SHADOW_MAX_BYTES:
            continue
        sections: dict[str, Any] = {"reported": reported}
        if desired is not None:
            sections["desired"] = desired
        doc = apply_update(ShadowDocument(), {"state": sections}, 0)  # as AWS holds it
        update = {f"k{rng.randint(0, 60)}": value(1) for _ in range(rng.randint(1, 40))}
        kept, out = fit_update(doc.desired, doc.reported or {}, update)
        assert set(kept) | set(out) == set(update) and not set(kept) & set(out)
        if kept:
            try:
                apply_update(doc, {"state": {"reported": kept}}, 0)
            except ShadowRejected as exc:  # pragma: no cover - the assertion's message
                raise AssertionError(f"fake refused what fit_update kept: {exc}") from exc
        if not out:
            fitted += 1
            continue
        trimmed += 1
        try:
            apply_update(doc, {"state": {"reported": dict(update)}}, 0)
        except ShadowRejected:
            pass  # the whole did not fit: leaving out was needed
        else:
            raise AssertionError("left keys out of an update AWS would have taken")
    assert trimmed > 30 and fitted > 30, (trimmed, fitted)  # both paths exercised


async def test_named_shadow(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot
) -> None:
    sync = await started(link, host, name="gatehouse")
    await aws_fake.wait_for(lambda: reported(aws_fake, "gatehouse"))
    assert aws_fake.shadow(THING) is None  # the classic shadow untouched
    aws_fake.set_desired(THING, {"porch": "on"}, name="gatehouse")
    await aws_fake.wait_for(lambda: reported(aws_fake, "gatehouse")["porch"] == "on")
    assert aws_fake.requests_for(THING, "get", "gatehouse") == 1
    await sync.stop()


async def test_answers_to_other_clients_tokens_are_ignored(
    link: PahoLink,
    host: Host,
    devices: Devices,
    aws_fake: FakeAwsIot,
    aws_broker: Mosquitto,
    aws_certs: AwsCerts,
) -> None:
    sync = await started(link, host)
    await aws_fake.wait_for(lambda: reported(aws_fake))
    app = issue_device_cert(aws_certs, "gh-app")
    with device_client(aws_broker, aws_certs.root_ca, app, client_id="gh-app") as other:
        kind, _ = other.request(
            f"$aws/things/{THING}/shadow/update", {"state": {"reported": {"extra": 1}}}
        )
        assert kind == "accepted"
        other.request(f"$aws/things/{THING}/shadow/get", {})
    await wait_until(lambda: sync.stats["stale_answers"] >= 2)
    host.states.set("sensor.temp", "31")
    await aws_fake.wait_for(lambda: reported(aws_fake)["sensor.temp"] == 31)
    # the other client's update moved the version on; ours carried the new one
    assert aws_fake.updates_for(THING)[-1].body["version"] == 2
    assert sync.rejections == {404: 1}  # only the first get (no shadow yet)
    await sync.stop()


async def test_an_unanswered_request_is_given_up_and_its_late_answer_ignored(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot
) -> None:
    sync = ShadowSync(link, host, THING, config(), backoff=QUICK, request_timeout=0.3)
    await sync.start()
    await aws_fake.wait_for(lambda: reported(aws_fake))
    await wait_until(lambda: sync.version is not None and not sync._inflight)
    aws_fake.pause()  # AWS slow: requests queue on the broker
    host.states.set("sensor.temp", "33")
    await wait_until(lambda: sync.stats["timeouts"] >= 1)  # the update, then a re-read
    aws_fake.resume()  # the queued requests are answered now, late
    await aws_fake.wait_for(lambda: reported(aws_fake)["sensor.temp"] == 33)
    await wait_until(lambda: sync.stats["stale_answers"] >= 1 and not sync._inflight)
    assert sync.rejections == {404: 1}
    await sync.stop()


async def test_garbage_on_the_shadow_topics_is_survived(
    link: PahoLink,
    host: Host,
    devices: Devices,
    aws_fake: FakeAwsIot,
    aws_broker: Mosquitto,
    aws_certs: AwsCerts,
) -> None:
    sync = await started(link, host)
    await aws_fake.wait_for(lambda: reported(aws_fake))
    prefix = f"$aws/things/{THING}/shadow"
    app = issue_device_cert(aws_certs, "gh-noise")
    with device_client(aws_broker, aws_certs.root_ca, app, client_id="gh-noise") as noise:
        for payload in (b"not json", b"[1]", b'{"state": "x"}', b'{"state": [1]}', b"[" * 5000):
            noise.publish(f"{prefix}/update/delta", payload)
            noise.publish(f"{prefix}/get/accepted", payload)
        noise.publish(f"{prefix}/update/documents", b'{"current": 7}')
    host.states.set("sensor.temp", "34")
    await aws_fake.wait_for(lambda: reported(aws_fake)["sensor.temp"] == 34)
    assert devices.calls == []
    # the broker delivers in order: this delta comes after all the garbage
    aws_fake.set_desired(THING, {"porch": True})
    await aws_fake.wait_for(lambda: reported(aws_fake)["porch"] is True)
    assert devices.calls == [("switch", "turn_on", {"entity_id": "switch.porch"})]
    await sync.stop()


async def test_reconnect_gets_again(
    link: PahoLink, host: Host, devices: Devices, aws_fake: FakeAwsIot
) -> None:
    sync = await started(link, host)
    await aws_fake.wait_for(lambda: reported(aws_fake))
    link.kick()
    await aws_fake.wait_for(lambda: aws_fake.requests_for(THING, "get") == 2)
    host.states.set("sensor.temp", "32")
    await aws_fake.wait_for(lambda: reported(aws_fake)["sensor.temp"] == 32)
    await sync.stop()


@pytest.mark.parametrize("name", ["a/b", "+", "#", "x" * 65, ""])
def test_a_bad_shadow_name_is_refused_naming_the_field(name: str) -> None:
    from gatehouse.core.testing import make_host

    with pytest.raises(AwsIotConfigError, match=r"shadow\.name"):
        ShadowSync(None, make_host("/nonexistent"), THING, config(name=name))  # type: ignore[arg-type]


def test_service_rule() -> None:
    from gatehouse.core.testing import make_host

    host = make_host("/nonexistent")
    assert service_for(host, "input_boolean.x", "ON")[1] == "turn_on"
    assert service_for(host, "switch.x", 0)[1] == "turn_off"
    assert service_for(host, "input_number.x", 2.5) == (
        "input_number",
        "set_value",
        {"entity_id": "input_number.x", "value": 2.5},
    )
    assert service_for(host, "input_select.x", "eco")[1] == "select_option"
    with pytest.raises(DeltaRefused):
        service_for(host, "sensor.x", 3)
    with pytest.raises(DeltaRefused):
        service_for(host, "switch.x", "maybe")


# -- through the real integration (its own connection, config and runtime) --------------


@pytest.fixture
async def aws_host(config_dir: Path, aws_broker: Mosquitto) -> AsyncIterator[Host]:
    """A host that stops before the broker does (set up after it)."""
    running = make_host(config_dir, packages={"aws_iot": "gatehouse.integrations.aws_iot"})
    async with running.running():
        yield running


async def test_end_to_end_named_shadow_through_the_entry(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    Devices(aws_host)
    shadow = {
        "name": "house",
        "desired": {"porch": "switch.porch"},  # the lead's key name (config: "mapping" too)
        "include": {"entities": ["sensor.temp"]},
    }
    entry = await add_entry(
        aws_host, "aws_iot", aws_entry_data(aws_broker, aws_certs, fast=True, shadow=shadow)
    )
    assert entry.state is ConfigEntryState.LOADED, entry.reason
    await aws_fake.wait_for(
        lambda: reported(aws_fake, "house") == {"porch": False, "sensor.temp": 21.5}
    )
    assert aws_fake.shadow(THING) is None
    # a version conflict and a delta through the integration's own connection
    aws_fake.fail_next("update", 409, thing=THING, name="house")
    aws_fake.set_desired(THING, {"porch": "on"}, name="house")
    await aws_fake.wait_for(lambda: reported(aws_fake, "house").get("porch") == "on")
    assert state_of(aws_host, "switch.porch") == "on"
    assert aws_fake.requests_for(THING, "get", "house") == 2
    # AWS refusing the device is the entry's problem, not a retry loop
    aws_fake.fail_next("update", 403, thing=THING, name="house")
    aws_host.states.set("sensor.temp", "19")
    runtime = entry.runtime_data
    await wait_until(lambda: "403" in (runtime.problem() or ""))
    updates = len(aws_fake.updates_for(THING, "house"))
    aws_host.states.set("sensor.temp", "18")
    assert runtime.shadow._wake.is_set()
    # the loop woke for the change (and replaced its event) but sent nothing
    await wait_until(lambda: not runtime.shadow._wake.is_set())
    assert len(aws_fake.updates_for(THING, "house")) == updates
