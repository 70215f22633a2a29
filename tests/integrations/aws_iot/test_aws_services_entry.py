"""Which AWS IoT entry ``aws_iot.publish`` uses, with two things (issue 14, point 5).

Two entries (two things, each with its own certificate) on the AWS IoT fake (Mosquitto
with mTLS and the test-side responder): ``entry_id`` names the entry by id or title (any
case); ``entry``, its deprecated spelling, still works; left out, the only loaded entry
is meant, and with two the call is refused naming both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from awsfake import FakeAwsIot
from awstools import THING, AwsCerts, aws_entry_data, default_templates, issue_device_cert

from gatehouse.core import ConfigEntryState, Host, ServiceValidationError
from gatehouse.core.testing import Mosquitto, add_entry, make_host

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]
pytest_plugins = ["awstools"]

SECOND = "gh-thing-2"
OFF = {"shadow": {"enabled": False}, "jobs": {"enabled": False}}


@pytest.fixture
def two_things(aws_broker: Mosquitto, aws_certs: AwsCerts) -> Iterator[FakeAwsIot]:
    fake = FakeAwsIot(aws_broker, aws_certs.backend, things=(THING, SECOND),
                      templates=default_templates())
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.errors, fake.errors


@pytest.fixture
async def aws_host(config_dir: Path, aws_broker: Mosquitto) -> AsyncIterator[Host]:
    """A host that stops before the broker does (set up after it)."""
    host = make_host(config_dir, packages={"aws_iot": "gatehouse.integrations.aws_iot"})
    async with host.running():
        yield host


async def test_publish_goes_to_the_thing_of_the_entry_named(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, two_things: FakeAwsIot
) -> None:
    cert = issue_device_cert(aws_certs, SECOND)
    north = await add_entry(aws_host, "aws_iot", aws_entry_data(
        aws_broker, aws_certs, fast=True, name="North thing", **OFF), title="North thing")
    south = await add_entry(aws_host, "aws_iot", aws_entry_data(
        aws_broker, aws_certs, fast=True, name="South thing", thing_name=SECOND,
        certificate=str(cert.cert), private_key=str(cert.key), **OFF), title="South thing")
    assert north.state is ConfigEntryState.LOADED, north.reason
    assert south.state is ConfigEntryState.LOADED, south.reason

    async def publish(thing: str, payload: str, **named: str) -> None:
        await aws_host.services.call("aws_iot", "publish", {
            "topic": f"gatehouse/{thing}/events", "payload": payload, **named})

    with pytest.raises(ServiceValidationError) as left_out:
        await publish(THING, "none named")
    assert "several aws_iot entries are loaded; pass entry_id" in str(left_out.value)
    assert f"'North thing' ({north.entry_id}), 'South thing' ({south.entry_id})" in str(
        left_out.value)
    with pytest.raises(ServiceValidationError,
                       match="no loaded aws_iot entry has the id or title 'West thing'"):
        await publish(THING, "x", entry_id="West thing")

    await publish(SECOND, "by id", entry_id=south.entry_id)
    await publish(THING, "by title", entry_id="north THING")
    await publish(SECOND, "old field", entry="South thing")
    await two_things.wait_for(
        lambda: len(two_things.messages(SECOND, f"gatehouse/{SECOND}/events")) >= 2
        and two_things.messages(THING, f"gatehouse/{THING}/events"))
    assert [m.payload for m in two_things.messages(SECOND, f"gatehouse/{SECOND}/events")] \
        == [b"by id", b"old field"]
    assert [m.payload for m in two_things.messages(THING, f"gatehouse/{THING}/events")] \
        == [b"by title"]

    await aws_host.config_entries.unload(north.entry_id)
    await publish(SECOND, "only one")
    await two_things.wait_for(
        lambda: len(two_things.messages(SECOND, f"gatehouse/{SECOND}/events")) >= 3)
