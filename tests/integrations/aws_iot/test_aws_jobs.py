"""AWS IoT Jobs (jobs.py) against Mosquitto with mTLS and the AWS IoT fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from awsfake import FakeAwsIot
from awslink import PahoLink, paho_link
from awstools import THING, AwsCerts, device_client, issue_device_cert

from gatehouse.core import Host, ServiceCall
from gatehouse.core.helpers import Backoff
from gatehouse.core.testing import Mosquitto, wait_until
from gatehouse.integrations.aws_iot.jobs import (
    JobDocumentError,
    JobRunner,
    parse_document,
)

pytestmark = pytest.mark.anyio
pytest_plugins = ["awstools"]

QUICK = Backoff(initial=0.01, maximum=0.05, jitter=0)
ALLOWED = ["light.turn_on", "light.turn_off", "script.broken", "script.hold"]


def doc(service: str, **data: Any) -> dict[str, Any]:
    return {"operation": "gatehouse.service", "service": service, "data": data}


@pytest.fixture
async def link(
    aws_fake: FakeAwsIot, aws_broker: Mosquitto, aws_certs: AwsCerts
) -> AsyncIterator[PahoLink]:
    async with paho_link(
        aws_broker, aws_certs.root_ca, aws_certs.certificate, aws_certs.private_key
    ) as connected:
        yield connected


class Services:
    """Services the jobs call, recording calls and how many ran at once."""

    def __init__(self, host: Host) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.running = 0
        self.most = 0
        self.release = anyio.Event()
        self.on_call: Any = None
        for name in ("turn_on", "turn_off"):
            host.services.register("light", name, self._light)
        host.services.register("script", "broken", self._broken)
        host.services.register("script", "hold", self._hold)
        host.services.register("homeassistant", "restart", self._light)

    async def _light(self, call: ServiceCall) -> None:
        assert call.context.user_id is None  # a system context, no admin borrowed
        self.running += 1
        self.most = max(self.most, self.running)
        self.calls.append((f"{call.domain}.{call.service}", dict(call.data)))
        if self.on_call is not None:
            self.on_call()
        await anyio.lowlevel.checkpoint()  # let a second job try to overlap
        self.running -= 1

    async def _broken(self, call: ServiceCall) -> None:
        self.calls.append((f"{call.domain}.{call.service}", dict(call.data)))
        raise RuntimeError("the script failed")

    async def _hold(self, call: ServiceCall) -> None:
        self.calls.append((f"{call.domain}.{call.service}", dict(call.data)))
        await self.release.wait()


@pytest.fixture
def services(host: Host) -> Services:
    return Services(host)


async def started(link: PahoLink, host: Host, allowed: list[str] = ALLOWED) -> JobRunner:
    runner = JobRunner(link, host, THING, allowed, backoff=QUICK)
    await runner.start()
    return runner


def statuses(fake: FakeAwsIot, job_id: str) -> list[str]:
    job = fake.job(THING, job_id)
    return [status for status, _ in job.history] if job else []


def final(fake: FakeAwsIot, job_id: str) -> tuple[str, dict[str, str]] | None:
    job = fake.job(THING, job_id)
    if job is None or job.status in ("QUEUED", "IN_PROGRESS"):
        return None
    return job.status, job.status_details


async def test_an_allowed_job_runs_and_succeeds(
    link: PahoLink, host: Host, services: Services, aws_fake: FakeAwsIot
) -> None:
    runner = await started(link, host)
    aws_fake.add_job(THING, "job-1", doc("light.turn_on", entity_id="light.porch"))
    result = await aws_fake.wait_for(lambda: final(aws_fake, "job-1"))
    assert result == ("SUCCEEDED", {"step": "done", "service": "light.turn_on"})
    assert statuses(aws_fake, "job-1") == ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]
    assert services.calls == [("light.turn_on", {"entity_id": "light.porch"})]
    assert runner.stats["succeeded"] == 1
    await runner.stop()


async def test_a_job_queued_before_start_runs_on_start(
    link: PahoLink, host: Host, services: Services, aws_fake: FakeAwsIot
) -> None:
    aws_fake.add_job(THING, "early", doc("light.turn_off"))
    runner = await started(link, host)
    assert (await aws_fake.wait_for(lambda: final(aws_fake, "early")))[0] == "SUCCEEDED"
    await runner.stop()


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (doc("homeassistant.restart"), "service homeassistant.restart is not on the allowed list"),
        ({"operation": "reboot"}, "operation must be 'gatehouse.service'"),
        ("not an object", "job document is not a JSON object"),
        (
            {"operation": "gatehouse.service", "service": "light"},
            "service must be 'domain.service'",
        ),
        (
            {"operation": "gatehouse.service", "service": "light.turn_on", "data": [1]},
            "data must be a JSON object",
        ),
    ],
)
async def test_other_jobs_are_rejected_with_the_reason(
    link: PahoLink,
    host: Host,
    services: Services,
    aws_fake: FakeAwsIot,
    document: Any,
    reason: str,
) -> None:
    runner = await started(link, host)
    aws_fake.add_job(THING, "bad", document)
    result = await aws_fake.wait_for(lambda: final(aws_fake, "bad"))
    assert result is not None
    assert result[0] == "REJECTED"
    assert result[1]["reason"] == reason
    assert services.calls == []
    await runner.stop()


async def test_a_failing_service_fails_the_job_with_the_reason(
    link: PahoLink, host: Host, services: Services, aws_fake: FakeAwsIot
) -> None:
    runner = await started(link, host)
    aws_fake.add_job(THING, "boom", doc("script.broken"))
    aws_fake.add_job(THING, "after", doc("light.turn_on"))
    result = await aws_fake.wait_for(lambda: final(aws_fake, "boom"))
    assert result == (
        "FAILED",
        {"step": "done", "service": "script.broken", "reason": "RuntimeError: the script failed"},
    )
    # the runner goes on with the next job
    assert (await aws_fake.wait_for(lambda: final(aws_fake, "after")))[0] == "SUCCEEDED"
    assert runner.stats == {
        "succeeded": 1,
        "failed": 1,
        "rejected": 0,
        "interrupted": 0,
        "given_up": 0,
    }
    await runner.stop()


async def test_one_job_at_a_time_in_queue_order(
    link: PahoLink, host: Host, services: Services, aws_fake: FakeAwsIot
) -> None:
    runner = await started(link, host)
    seen_in_progress: list[list[str]] = []

    def snapshot() -> None:
        seen_in_progress.append(
            [
                j
                for j in ("j1", "j2", "j3")
                if (aws_fake.job(THING, j) or 0) and aws_fake.job(THING, j).status == "IN_PROGRESS"
            ]  # type: ignore[union-attr]
        )

    services.on_call = snapshot
    for i in (1, 2, 3):
        aws_fake.add_job(THING, f"j{i}", doc("light.turn_on", entity_id=f"light.l{i}"))
    for i in (1, 2, 3):
        await aws_fake.wait_for(lambda i=i: final(aws_fake, f"j{i}"))  # type: ignore[misc]
    assert [c[1]["entity_id"] for c in services.calls] == ["light.l1", "light.l2", "light.l3"]
    assert services.most == 1
    assert seen_in_progress == [["j1"], ["j2"], ["j3"]]  # never two started at once
    await runner.stop()


async def test_version_mismatch_rereads_and_retries(
    link: PahoLink, host: Host, services: Services, aws_fake: FakeAwsIot
) -> None:
    runner = await started(link, host)
    aws_fake.fail_next("job_update", "VersionMismatch", "expectedVersion does not match")
    aws_fake.add_job(THING, "vm", doc("light.turn_on"))
    assert (await aws_fake.wait_for(lambda: final(aws_fake, "vm")))[0] == "SUCCEEDED"
    gets = aws_fake.messages(THING, f"$aws/things/{THING}/jobs/vm/get")
    assert len(gets) == 1  # the rejection carried no state: read it, then retry
    updates = [r.json() for r in aws_fake.messages(THING, f"$aws/things/{THING}/jobs/vm/update")]
    assert [u["expectedVersion"] for u in updates] == [2, 2, 3]
    assert len(services.calls) == 1
    await runner.stop()


async def test_cancelled_during_the_call_moves_on(
    link: PahoLink, host: Host, services: Services, aws_fake: FakeAwsIot
) -> None:
    runner = await started(link, host)
    services.on_call = lambda: aws_fake.cancel_job(THING, "c1")
    aws_fake.add_job(THING, "c1", doc("light.turn_on"))
    aws_fake.add_job(THING, "c2", doc("light.turn_off"))
    assert (await aws_fake.wait_for(lambda: final(aws_fake, "c2")))[0] == "SUCCEEDED"
    assert aws_fake.job(THING, "c1").status == "CANCELED"  # type: ignore[union-attr]
    assert runner.stats["given_up"] == 1
    await runner.stop()


async def test_throttled_start_next_is_retried(
    link: PahoLink, host: Host, services: Services, aws_fake: FakeAwsIot
) -> None:
    aws_fake.fail_next("start_next", "RequestThrottled", thing=THING, times=2)
    aws_fake.add_job(THING, "t1", doc("light.turn_on"))
    runner = await started(link, host)
    assert (await aws_fake.wait_for(lambda: final(aws_fake, "t1")))[0] == "SUCCEEDED"
    starts = aws_fake.messages(THING, f"$aws/things/{THING}/jobs/start-next")
    assert len(starts) >= 3
    await runner.stop()


async def test_a_job_interrupted_during_its_call_is_not_run_twice(
    link: PahoLink, host: Host, services: Services, aws_fake: FakeAwsIot
) -> None:
    runner = await started(link, host)
    aws_fake.add_job(THING, "hold", doc("script.hold"))
    await wait_until(lambda: services.calls)
    await runner.stop()  # a restart in the middle of the service call
    services.release.set()
    again = await started(link, host)
    result = await aws_fake.wait_for(lambda: final(aws_fake, "hold"))
    assert result is not None and result[0] == "FAILED"
    assert "interrupted" in result[1]["reason"]
    assert services.calls == [("script.hold", {})]
    assert again.stats["interrupted"] == 1
    await again.stop()


async def test_reconnect_asks_for_the_next_job(
    link: PahoLink, host: Host, services: Services, aws_fake: FakeAwsIot
) -> None:
    runner = await started(link, host)
    await aws_fake.wait_for(
        lambda: len(aws_fake.messages(THING, f"$aws/things/{THING}/jobs/start-next")) == 1
    )
    link.kick()
    await aws_fake.wait_for(
        lambda: len(aws_fake.messages(THING, f"$aws/things/{THING}/jobs/start-next")) == 2
    )
    await runner.stop()


async def test_a_service_call_over_its_time_fails_the_job(
    link: PahoLink, host: Host, services: Services, aws_fake: FakeAwsIot
) -> None:
    runner = JobRunner(link, host, THING, ALLOWED, backoff=QUICK, service_timeout=0.2)
    await runner.start()
    aws_fake.add_job(THING, "slow", doc("script.hold"))
    aws_fake.add_job(THING, "next", doc("light.turn_on"))
    result = await aws_fake.wait_for(lambda: final(aws_fake, "slow"))
    assert result is not None and result[0] == "FAILED"
    assert result[1]["reason"].startswith("TimeoutError")
    assert (await aws_fake.wait_for(lambda: final(aws_fake, "next")))[0] == "SUCCEEDED"
    await runner.stop()


async def test_garbage_on_the_jobs_topics_is_survived(
    link: PahoLink,
    host: Host,
    services: Services,
    aws_fake: FakeAwsIot,
    aws_broker: Mosquitto,
    aws_certs: AwsCerts,
) -> None:
    runner = await started(link, host)
    prefix = f"$aws/things/{THING}/jobs"
    app = issue_device_cert(aws_certs, "gh-noise")
    with device_client(aws_broker, aws_certs.root_ca, app, client_id="gh-noise") as noise:
        for payload in (b"not json", b"[1]", b'{"clientToken": 5}', b"[" * 5000):
            for topic in ("notify-next", "start-next/accepted", "x/update/rejected"):
                noise.publish(f"{prefix}/{topic}", payload)
    aws_fake.add_job(THING, "after-noise", doc("light.turn_on"))
    assert (await aws_fake.wait_for(lambda: final(aws_fake, "after-noise")))[0] == "SUCCEEDED"
    assert len(services.calls) == 1
    await runner.stop()


async def test_an_update_sent_again_after_a_reconnect_is_not_a_failure(
    link: PahoLink, host: Host, services: Services, aws_fake: FakeAwsIot
) -> None:
    """The answer to the final update dies with the old session; the runner sends it
    again, AWS (which got the first) answers VersionMismatch with the execution already
    SUCCEEDED with our details: that is our own update, not a job given up."""
    runner = await started(link, host)
    aws_fake.add_job(THING, "again", doc("script.hold"))
    await wait_until(lambda: services.calls)
    aws_fake.pause()  # AWS slow: the update waits on the broker, unanswered
    update = f"$aws/things/{THING}/jobs/again/update"
    services.release.set()
    await wait_until(lambda: link.delivered.count(update) == 2)  # running, then SUCCEEDED
    link.kick()
    await wait_until(lambda: link.delivered.count(update) == 3)  # sent again after it
    aws_fake.resume()
    assert (await aws_fake.wait_for(lambda: final(aws_fake, "again")))[0] == "SUCCEEDED"
    await wait_until(lambda: runner.current is None)
    assert runner.stats["given_up"] == 0 and runner.stats["succeeded"] == 1
    assert statuses(aws_fake, "again") == ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]
    await runner.stop()


def test_parse_document() -> None:
    allowed = frozenset({"light.turn_on"})
    assert parse_document(doc("light.turn_on", brightness=3), allowed) == (
        "light",
        "turn_on",
        {"brightness": 3},
    )
    with pytest.raises(JobDocumentError, match="allowed list"):
        parse_document(doc("light.turn_off"), allowed)
