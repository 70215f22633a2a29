"""Conformance of the AWS IoT Core fake, driven by a plain paho client with mTLS.

The integration's tests trust what the fake answers, so the fake is checked here
against AWS's documented shapes first ("Device Shadow MQTT topics", "Device Shadow
service documents", "Device Shadow error messages", "Device provisioning MQTT API",
"Jobs device MQTT API operations").
"""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from awsfake import FakeAwsIot
from awstools import (
    PARAMETERS,
    TEMPLATE,
    THING,
    AwsCerts,
    ClientHello,
    DeviceClient,
    HelloTap,
    aws_entry_data,
    device_client,
    duplicate_client,
    parse_client_hello,
    tls_context,
    wait_persisted,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gatehouse.core.testing import ClientCert, Mosquitto, make_pki, wait_until_sync

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
    device.subscribe(f"{SHADOW}/update/delta", f"{SHADOW}/update/documents")
    device.request(f"{SHADOW}/update", {"state": {"reported": {"on": False, "level": 3}}})
    first = device.next_message(f"{SHADOW}/update/documents")
    assert "previous" not in first
    assert first["current"]["version"] == 1
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


def test_partial_report_gets_the_remaining_delta(
    device: DeviceClient, aws_fake: FakeAwsIot
) -> None:
    device.subscribe(f"{SHADOW}/update/delta")
    aws_fake.set_desired(THING, {"on": True, "level": 5})
    assert device.next_message(f"{SHADOW}/update/delta")["state"] == {"on": True, "level": 5}
    device.request(f"{SHADOW}/update", {"state": {"reported": {"on": True, "level": 2}}})
    assert device.next_message(f"{SHADOW}/update/delta")["state"] == {"level": 5}
    aws_fake.delta_on_reported = False
    device.request(f"{SHADOW}/update", {"state": {"reported": {"level": 3}}})
    device.request(f"{SHADOW}/update", {"state": {"desired": {"on": False}}})
    # Only the update with desired published one; it names every differing attribute.
    assert device.next_message(f"{SHADOW}/update/delta")["state"] == {"on": False, "level": 5}
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


def test_bump_version_makes_the_next_versioned_update_conflict(
    device: DeviceClient, aws_fake: FakeAwsIot
) -> None:
    device.request(f"{SHADOW}/update", {"state": {"reported": {"a": 1}}})
    assert aws_fake.bump_version(THING, by=5) == 6
    kind, body = device.request(f"{SHADOW}/update", {"state": {"reported": {"a": 2}}, "version": 1})
    assert (kind, body["code"]) == ("rejected", 409)
    kind, body = device.request(f"{SHADOW}/update", {"state": {"reported": {"a": 2}}, "version": 6})
    assert (kind, body["version"]) == ("accepted", 7)


def test_too_large_is_413_and_counts_the_merged_document(
    device: DeviceClient, aws_fake: FakeAwsIot
) -> None:
    # Each update alone is under 8 KB; together they are over it (AWS merges first).
    kind, _ = device.request(f"{SHADOW}/update", {"state": {"reported": {"a": "x" * 5000}}})
    assert kind == "accepted"
    kind, body = device.request(f"{SHADOW}/update", {"state": {"reported": {"b": "y" * 5000}}})
    assert kind == "rejected"
    assert body["code"] == 413
    assert body["message"] == "The payload exceeds the maximum size allowed"
    _, doc = device.request(f"{SHADOW}/get")
    assert set(doc["state"]["reported"]) == {"a"}
    assert aws_fake.shadow_size(THING) == len(b'{"reported":{"a":""}}') + 5000
    assert aws_fake.shadow_size("nobody") is None


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
    kind, body = device.request(f"{SHADOW}/update", payload)
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
        f"{SHADOW}/update",
        {"state": {"reported": {"a": None, "b": {"c": None}, "new": {"x": None}}}},
    )
    assert kind == "accepted"
    assert body["state"] == {"reported": {"a": None, "b": {"c": None}, "new": {"x": None}}}
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

    async def stream() -> None:
        def run() -> None:
            with device_client(aws_broker, aws_certs.root_ca, aws_certs.device(), "streamer") as d:
                infos = [
                    d.client.publish(f"gatehouse/{THING}/s/n", str(i), qos=1) for i in range(1000)
                ]
                for info in infos:
                    info.wait_for_publish(10)

        await anyio.to_thread.run_sync(run)

    async with anyio.create_task_group() as tg:
        tg.start_soon(stream)
        await aws_fake.wait_for(lambda: aws_fake.count(THING) >= 1000, timeout=10)
    async with anyio.create_task_group() as tg:
        tg.start_soon(report)
        shadow = await aws_fake.wait_for(lambda: aws_fake.shadow(THING), timeout=5)
    assert shadow is not None
    assert shadow["state"]["reported"] == {"ready": True}
    with pytest.raises(TimeoutError, match="never"):
        await aws_fake.wait_for(lambda: aws_fake.shadow("nope"), timeout=0.05, what="never")


# -- fleet provisioning ----------------------------------------------------------------

CREATE = "$aws/certificates/create/json"
PROVISION = f"$aws/provisioning-templates/{TEMPLATE}/provision/json"


def test_provisioning_by_claim_then_reconnect_with_the_new_certificate(
    aws_fake: FakeAwsIot, aws_broker: Mosquitto, aws_certs: AwsCerts, tmp_path: Path
) -> None:
    with device_client(aws_broker, aws_certs.root_ca, aws_certs.claim(), "claim-boot") as dev:
        kind, created = device_request_ok(dev, CREATE, {})
        assert set(created) == {
            "certificateId",
            "certificatePem",
            "privateKey",
            "certificateOwnershipToken",
        }
        assert re.fullmatch(r"[0-9a-f]{64}", created["certificateId"])
        kind, registered = dev.request(
            PROVISION,
            {
                "certificateOwnershipToken": created["certificateOwnershipToken"],
                "parameters": dict(PARAMETERS),
            },
        )
        assert kind == "accepted", registered
        assert registered == {
            "thingName": "gh-SN-0001",
            "deviceConfiguration": {"Fleet": "gatehouse"},
        }
        # The token is single-use.
        kind, again = dev.request(
            PROVISION,
            {
                "certificateOwnershipToken": created["certificateOwnershipToken"],
                "parameters": dict(PARAMETERS),
            },
        )
        assert kind == "rejected"
        assert set(again) == {"statusCode", "errorCode", "errorMessage"}
        assert again["statusCode"] == 400
    assert (aws_fake.create_calls, aws_fake.provision_calls) == (1, 2)
    assert [p.thing_name for p in aws_fake.provisioned] == ["gh-SN-0001"]
    assert aws_fake.provisioned[0].certificate_id == created["certificateId"]
    cert = tmp_path / "new.cert.pem"
    key = tmp_path / "new.private.key"
    cert.write_text(created["certificatePem"])
    key.write_text(created["privateKey"])
    new_identity = ClientCert("gh-SN-0001", cert, key)
    with device_client(aws_broker, aws_certs.root_ca, new_identity, "gh-SN-0001") as dev:
        kind, _ = dev.request(
            "$aws/things/gh-SN-0001/shadow/update", {"state": {"reported": {"up": True}}}
        )
        assert kind == "accepted"
    assert aws_fake.shadow("gh-SN-0001") is not None


def device_request_ok(dev: DeviceClient, topic: str, body: dict[str, object]) -> tuple[str, Any]:
    kind, answer = dev.request(topic, body)
    assert kind == "accepted", answer
    return kind, answer


@pytest.mark.parametrize(
    ("topic", "body", "status", "error_code"),
    [
        (
            "$aws/provisioning-templates/nope/provision/json",
            {"certificateOwnershipToken": "x", "parameters": {}},
            404,
            "ResourceNotFound",
        ),
        (
            PROVISION,
            {"certificateOwnershipToken": "forged", "parameters": dict(PARAMETERS)},
            400,
            "InvalidCertificateOwnershipToken",
        ),
    ],
)
def test_provision_rejections(
    device: DeviceClient, topic: str, body: dict[str, object], status: int, error_code: str
) -> None:
    kind, answer = device.request(topic, body)
    assert kind == "rejected"
    assert (answer["statusCode"], answer["errorCode"]) == (status, error_code)
    assert answer["errorMessage"]


def test_provision_missing_parameter_and_injected_failure(
    device: DeviceClient, aws_fake: FakeAwsIot
) -> None:
    _, created = device_request_ok(device, CREATE, {})
    token = created["certificateOwnershipToken"]
    kind, answer = device.request(PROVISION, {"certificateOwnershipToken": token, "parameters": {}})
    assert (kind, answer["statusCode"], answer["errorCode"]) == (
        "rejected",
        400,
        "InvalidParameters",
    )
    aws_fake.fail_next("create_certificate", 503, "ServiceUnavailable try later")
    kind, answer = device.request(CREATE, {})
    assert (kind, answer["statusCode"], answer["errorCode"]) == (
        "rejected",
        503,
        "ServiceUnavailable",
    )
    assert aws_fake.create_calls == 2


# -- jobs --------------------------------------------------------------------------------

JOBS = f"$aws/things/{THING}/jobs"


def test_jobs_lifecycle(device: DeviceClient, aws_fake: FakeAwsIot) -> None:
    device.subscribe(f"{JOBS}/notify-next", f"{JOBS}/notify")
    document = {"service": "light.turn_on", "data": {"entity_id": "light.porch"}}
    aws_fake.add_job(THING, "job-1", document)
    aws_fake.add_job(THING, "job-2", {"service": "noop"})
    nxt = device.next_message(f"{JOBS}/notify-next")
    assert nxt["execution"]["jobId"] == "job-1"
    assert nxt["execution"]["status"] == "QUEUED"
    assert nxt["execution"]["jobDocument"] == document
    listing = device.next_message(f"{JOBS}/notify")
    assert [j["jobId"] for j in listing["jobs"]["QUEUED"]] == ["job-1"]

    kind, got = device.request(f"{JOBS}/get", {})
    assert kind == "accepted"
    assert [j["jobId"] for j in got["queuedJobs"]] == ["job-1", "job-2"]
    assert got["inProgressJobs"] == []

    kind, started = device.request(f"{JOBS}/start-next", {"statusDetails": {"step": "begin"}})
    assert kind == "accepted"
    execution = started["execution"]
    assert (execution["jobId"], execution["status"], execution["versionNumber"]) == (
        "job-1",
        "IN_PROGRESS",
        2,
    )
    assert execution["jobDocument"] == document
    assert execution["statusDetails"] == {"step": "begin"}

    kind, rejected = device.request(
        f"{JOBS}/job-1/update", {"status": "SUCCEEDED", "expectedVersion": 1}
    )
    assert (kind, rejected["code"]) == ("rejected", "VersionMismatch")
    assert rejected["executionState"]["versionNumber"] == 2

    kind, updated = device.request(
        f"{JOBS}/job-1/update",
        {
            "status": "SUCCEEDED",
            "statusDetails": {"result": "ok"},
            "expectedVersion": 2,
            "includeJobExecutionState": True,
        },
    )
    assert kind == "accepted", updated
    assert updated["executionState"] == {
        "status": "SUCCEEDED",
        "statusDetails": {"result": "ok"},
        "versionNumber": 3,
    }
    # The next pending execution changed: notify-next names job-2.
    assert device.next_message(f"{JOBS}/notify-next")["execution"]["jobId"] == "job-2"
    job = aws_fake.job(THING, "job-1")
    assert job is not None
    assert job.status == "SUCCEEDED"
    assert [status for status, _ in job.history] == ["IN_PROGRESS", "SUCCEEDED"]

    kind, again = device.request(f"{JOBS}/job-1/update", {"status": "FAILED"})
    assert (kind, again["code"]) == ("rejected", "InvalidStateTransition")

    kind, failed = device.request(
        f"{JOBS}/job-2/update", {"status": "FAILED", "statusDetails": {"error": "boom"}}
    )
    assert kind == "accepted"
    assert "executionState" not in failed  # only when includeJobExecutionState
    empty = device.next_message(f"{JOBS}/notify-next")
    assert "execution" not in empty and isinstance(empty["timestamp"], int)
    kind, none_left = device.request(f"{JOBS}/start-next", {})
    assert kind == "accepted" and "execution" not in none_left


@pytest.mark.parametrize(
    ("topic", "body", "code"),
    [
        (f"{JOBS}/missing/update", {"status": "SUCCEEDED"}, "ResourceNotFound"),
        (f"{JOBS}/missing/get", {}, "ResourceNotFound"),
        (f"{JOBS}/job-1/update", {"status": "DONE"}, "InvalidRequest"),
        (
            f"{JOBS}/job-1/update",
            {"status": "IN_PROGRESS", "statusDetails": {"n": 1}},
            "InvalidRequest",
        ),
        (f"{JOBS}/job-1/update", b"{oops", "InvalidJson"),
    ],
)
def test_jobs_rejections(
    device: DeviceClient, aws_fake: FakeAwsIot, topic: str, body: Any, code: str
) -> None:
    aws_fake.add_job(THING, "job-1", {"service": "noop"})
    kind, answer = device.request(topic, body)
    assert (kind, answer["code"]) == ("rejected", code)
    assert answer["message"]


def test_cancelled_job_leaves_the_queue(device: DeviceClient, aws_fake: FakeAwsIot) -> None:
    device.subscribe(f"{JOBS}/notify-next")
    aws_fake.add_job(THING, "job-1", {"service": "noop"})
    assert device.next_message(f"{JOBS}/notify-next")["execution"]["jobId"] == "job-1"
    aws_fake.cancel_job(THING, "job-1")
    assert "execution" not in device.next_message(f"{JOBS}/notify-next")
    kind, answer = device.request(f"{JOBS}/job-1/update", {"status": "SUCCEEDED"})
    assert (kind, answer["code"]) == ("rejected", "InvalidStateTransition")
    job = aws_fake.job(THING, "job-1")
    assert job is not None
    assert job.status == "CANCELED"


def test_job_describe_next(device: DeviceClient, aws_fake: FakeAwsIot) -> None:
    aws_fake.add_job(THING, "job-9", {"service": "noop"})
    kind, answer = device.request(f"{JOBS}/$next/get", {})
    assert kind == "accepted"
    assert answer["execution"]["jobId"] == "job-9"


# -- connection: mTLS, TLS versions, duplicate client ids, rates --------------------------


def test_connection_without_client_certificate_is_refused(
    aws_broker: Mosquitto, aws_certs: AwsCerts
) -> None:
    with pytest.raises(ConnectionError), device_client(aws_broker, aws_certs.root_ca, None):
        pass


def test_certificate_from_another_ca_is_refused(
    aws_broker: Mosquitto, aws_certs: AwsCerts, tmp_path: Path
) -> None:
    stranger = make_pki(tmp_path / "other", client_names=(THING,)).client(THING)
    with pytest.raises(ConnectionError), device_client(aws_broker, aws_certs.root_ca, stranger):
        pass


def test_expired_certificate_is_refused(aws_broker: Mosquitto, aws_certs: AwsCerts) -> None:
    expired = ClientCert("gh-expired", aws_certs.expired_certificate, aws_certs.expired_private_key)
    with pytest.raises(ConnectionError), device_client(aws_broker, aws_certs.root_ca, expired):
        pass


def test_tls_1_2_and_1_3_are_accepted(aws_broker: Mosquitto, aws_certs: AwsCerts) -> None:
    """AWS IoT Core takes TLS 1.2 and 1.3; the kit's default listener is 1.3-only."""
    for maximum, expected in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (None, "TLSv1.3")):
        with device_client(
            aws_broker, aws_certs.root_ca, aws_certs.device(), maximum_tls=maximum
        ) as dev:
            sock = dev.client.socket()
            assert isinstance(sock, ssl.SSLSocket)
            assert sock.version() == expected
    assert "tls_version tlsv1.2" in aws_broker.config_path.read_text()


def test_other_root_ca_does_not_trust_the_broker(
    aws_broker: Mosquitto, aws_certs: AwsCerts
) -> None:
    with (
        pytest.raises(ConnectionError, match="CERTIFICATE_VERIFY_FAILED"),
        device_client(aws_broker, aws_certs.other_root_ca, aws_certs.device()),
    ):
        pass


def test_mismatched_key_cannot_be_loaded(aws_certs: AwsCerts) -> None:
    with pytest.raises(ssl.SSLError):
        tls_context(aws_certs.root_ca, aws_certs.certificate, aws_certs.mismatched_private_key)


def test_duplicate_client_id_kicks_and_is_counted(
    aws_fake: FakeAwsIot, aws_broker: Mosquitto, aws_certs: AwsCerts
) -> None:
    kicked = threading.Event()
    with device_client(aws_broker, aws_certs.root_ca, aws_certs.device()) as dev:
        dev.client.on_disconnect = lambda *_: kicked.set()
        with duplicate_client(aws_broker, aws_certs) as dup:
            assert kicked.wait(5)
            wait_until_sync(lambda: dup.connects >= 1)
    wait_until_sync(lambda: aws_fake.takeovers(THING) >= 1)


def test_duplicate_client_makes_a_storm_with_a_reconnecting_device(
    aws_fake: FakeAwsIot, aws_broker: Mosquitto, aws_certs: AwsCerts
) -> None:
    """Both sides reconnect when kicked, so the takeovers go on until one gives up:
    what the integration has to detect instead of joining in."""
    with (
        device_client(aws_broker, aws_certs.root_ca, aws_certs.device()),
        duplicate_client(aws_broker, aws_certs) as dup,
    ):
        wait_until_sync(lambda: aws_fake.takeovers(THING) >= 6, timeout=10)
        assert dup.connects >= 3
        assert dup.kicked >= 2


@pytest.mark.anyio
async def test_async_context_manager(aws_broker: Mosquitto, aws_certs: AwsCerts) -> None:
    async with FakeAwsIot(aws_broker, aws_certs.backend) as fake:
        assert fake.connected
    assert not fake.connected


def test_publish_rate_is_measured_per_client(device: DeviceClient, aws_fake: FakeAwsIot) -> None:
    for i in range(30):
        device.client.publish(f"gatehouse/{THING}/sensor/t", str(i), qos=1)
    aws_fake.wait_for_sync(lambda: aws_fake.count(THING) == 30)
    assert len(aws_fake.messages(THING, "gatehouse/")) == 30
    assert aws_fake.max_rate(THING, topic_prefix="gatehouse/") == 30
    assert aws_fake.max_rate(THING, window=0.0001, topic_prefix="gatehouse/") >= 1
    assert aws_fake.max_rate("someone-else") == 0
    per_second = aws_fake.broker_publishes_per_second(THING)
    assert sum(per_second.values()) == 30


def test_provisioning_from_csr_keeps_the_key_on_the_device(
    aws_fake: FakeAwsIot, aws_broker: Mosquitto, aws_certs: AwsCerts, tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device")]))
        .sign(key, hashes.SHA256())
    )
    with device_client(aws_broker, aws_certs.root_ca, aws_certs.claim(), "claim-csr") as dev:
        _, created = device_request_ok(
            dev,
            "$aws/certificates/create-from-csr/json",
            {"certificateSigningRequest": csr.public_bytes(serialization.Encoding.PEM).decode()},
        )
        assert set(created) == {"certificateId", "certificatePem", "certificateOwnershipToken"}
        kind, bad = dev.request(
            "$aws/certificates/create-from-csr/json", {"certificateSigningRequest": "junk"}
        )
        assert (kind, bad["statusCode"]) == ("rejected", 400)
        device_request_ok(
            dev,
            PROVISION,
            {
                "certificateOwnershipToken": created["certificateOwnershipToken"],
                "parameters": {"SerialNumber": "CSR-1"},
            },
        )
    cert = tmp_path / "csr.cert.pem"
    key_path = tmp_path / "csr.private.key"
    cert.write_text(created["certificatePem"])
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with device_client(
        aws_broker, aws_certs.root_ca, ClientCert("gh-CSR-1", cert, key_path), "gh-CSR-1"
    ) as dev:
        kind, _ = dev.request("$aws/things/gh-CSR-1/shadow/get", {})
        assert kind == "rejected"  # 404: connected and answered with the new identity
    assert aws_fake.issued[0].key is None


def test_qos2_publish_is_refused_like_aws(aws_broker: Mosquitto, aws_certs: AwsCerts) -> None:
    with device_client(aws_broker, aws_certs.root_ca, aws_certs.device()) as dev:
        closed = threading.Event()
        dev.client.on_disconnect = lambda *_: closed.set()
        dev.client.publish(f"gatehouse/{THING}/x", b"1", qos=2)
        assert closed.wait(5)


def test_limit_violations_are_reported(device: DeviceClient, aws_fake: FakeAwsIot) -> None:
    device.publish("a/b/c/d/e/f/g/h/i", b"1")
    device.publish(f"gatehouse/{THING}/big", b"x" * (128 * 1024 + 1))
    device.publish(f"gatehouse/{THING}/ok", b"1")
    aws_fake.wait_for_sync(lambda: len(aws_fake.messages(topic_prefix="gatehouse/")) == 2)
    reasons = sorted(reason for reason, _ in aws_fake.limit_violations())
    assert reasons == ["payload 131073 bytes > 131072", "topic with more than 7 slashes"]


def test_requests_queue_while_the_service_is_paused(
    device: DeviceClient, aws_fake: FakeAwsIot
) -> None:
    aws_fake.pause()
    device.subscribe(f"{SHADOW}/update/accepted", f"{SHADOW}/update/rejected")
    device.publish(f"{SHADOW}/update", {"state": {"reported": {"a": 1}}, "clientToken": "q"})
    assert aws_fake.shadow(THING) is None
    aws_fake.resume()
    assert device.next_message(f"{SHADOW}/update/accepted")["clientToken"] == "q"
    assert aws_fake.requests_for(THING, "update") == 1


@pytest.mark.parametrize("crash", [False, True], ids=["restart", "kill-9"])
def test_queued_requests_survive_a_broker_restart(
    aws_fake: FakeAwsIot, aws_broker: Mosquitto, aws_certs: AwsCerts, crash: bool
) -> None:
    aws_fake.pause()
    with device_client(aws_broker, aws_certs.root_ca, aws_certs.device()) as dev:
        dev.publish(f"{SHADOW}/update", {"state": {"reported": {"b": 2}}})
    if crash:
        # Mosquitto saves (autosave_on_change) after it has sent the PUBACK, so a kill
        # right after the ack can lose the message: wait until it is in the file.
        wait_persisted(aws_broker, b'"reported": {"b": 2}')
        aws_broker.kill()
        aws_broker.start()
    else:
        aws_broker.restart()
    aws_fake.resume()
    shadow = aws_fake.wait_for_sync(lambda: aws_fake.shadow(THING), timeout=5)
    assert shadow is not None
    assert shadow["state"]["reported"] == {"b": 2}


def test_service_reconnects_after_a_broker_restart(
    aws_fake: FakeAwsIot, aws_broker: Mosquitto, aws_certs: AwsCerts
) -> None:
    aws_broker.restart()
    aws_fake.wait_for_sync(lambda: aws_fake.connected and aws_fake.connects >= 2, timeout=10)
    with device_client(aws_broker, aws_certs.root_ca, aws_certs.device()) as dev:
        kind, _ = dev.request(f"{SHADOW}/update", {"state": {"reported": {"c": 3}}})
        assert kind == "accepted"


def test_jobs_fail_next(device: DeviceClient, aws_fake: FakeAwsIot) -> None:
    aws_fake.add_job(THING, "job-1", {"service": "noop"})
    aws_fake.fail_next("start_next", "RequestThrottled", "slow down")
    kind, answer = device.request(f"{JOBS}/start-next", {})
    assert (kind, answer["code"], answer["message"]) == (
        "rejected",
        "RequestThrottled",
        "slow down",
    )
    kind, answer = device.request(f"{JOBS}/start-next", {})
    assert kind == "accepted"
    assert answer["execution"]["jobId"] == "job-1"


HOSTILE_TOPICS = [
    f"{SHADOW}/update",
    f"{SHADOW}/get",
    f"{JOBS}/get",
    f"{JOBS}/job-1/update",
    CREATE,
    "$aws/certificates/create-from-csr/json",
    PROVISION,
]


@pytest.mark.parametrize(
    "payload",
    [b"[" * 100_000, b"\xff\xfe", b"null", b"[]", b'{"state": null, "parameters": [1]}'],
    ids=["deep", "not-utf8", "null", "list", "odd-types"],
)
def test_hostile_requests_get_an_answer(
    device: DeviceClient, aws_fake: FakeAwsIot, payload: bytes
) -> None:
    """Whatever a device sends, the fake answers (rejected, or accepted where AWS would
    be lenient, as create/json is) and its thread lives on; the fixture also checks
    that the fake recorded no failure of its own."""
    for topic in HOSTILE_TOPICS:
        kind, _ = device.request(topic, payload)
        assert kind in ("accepted", "rejected"), topic
    kind, _ = device.request(f"{SHADOW}/get", {})
    assert kind == "rejected"  # still answering: 404, nothing was created
    assert aws_fake.errors == []


def test_hello_tap_sees_sni_alpn_and_versions(
    aws_fake: FakeAwsIot, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_hello_tap: HelloTap
) -> None:
    with device_client(
        aws_broker,
        aws_certs.root_ca,
        aws_certs.device(),
        port=aws_hello_tap.port,
        alpn=["x-amzn-mqtt-ca"],
    ) as dev:
        kind, _ = dev.request(f"{SHADOW}/update", {"state": {"reported": {"via": "tap"}}})
        assert kind == "accepted"
    assert aws_hello_tap.wait_hello(1) == ClientHello(
        sni="localhost", alpn=("x-amzn-mqtt-ca",), versions=("TLSv1.3", "TLSv1.2")
    )
    with device_client(
        aws_broker,
        aws_certs.root_ca,
        aws_certs.device(),
        port=aws_hello_tap.port,
        maximum_tls=ssl.TLSVersion.TLSv1_2,
    ):
        pass
    assert aws_hello_tap.wait_hello(2) == ClientHello(
        sni="localhost", alpn=(), versions=("TLSv1.2",)
    )


def test_parse_client_hello_refuses_other_records() -> None:
    assert parse_client_hello(b"") is None
    assert parse_client_hello(b"\x10\x00\x00\x00\x05hello") is None  # MQTT CONNECT
    assert parse_client_hello(b"\x16\x03\x01\x00\x04\x01\x00\x00") is None  # cut short


def test_entry_data_fits_the_integration(aws_broker: Mosquitto, aws_certs: AwsCerts) -> None:
    """The keys aws_entry_data writes are the integration's (its check-config too)."""
    from gatehouse.integrations.aws_iot import config
    for data in (
        aws_entry_data(aws_broker, aws_certs, fast=True),
        aws_entry_data(aws_broker, aws_certs, provisioning=True),
    ):
        validated = config.CONFIG_SCHEMA(data)
        assert validated["port"] == aws_broker.tls_port
