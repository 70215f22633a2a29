"""A kill -9 of the exporting host mid-stream loses no point that was on disk.

"On disk" means the child's exporter barrier returned after the point was queued (the
outbox committed it). The child is killed while it still produces and while its
outbox holds a backlog (``flush_interval`` keeps one); a second run of the same config
dir delivers what the first left. Every acknowledged number must then be in InfluxDB
(re-writes of the same point are harmless: same series and time).
"""

from __future__ import annotations

import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.abc
import pytest
from influxtools import InfluxServer

from gatehouse.core.testing import ChildOutput, start_child, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

CHILD = Path(__file__).with_name("influxdb_kill_child.py")


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path / "influxd")
    server.start()
    try:
        server.create_database("kill")
        yield server
    finally:
        server.stop()


async def test_kill9_of_the_exporting_host_loses_nothing_on_disk(
    influx: InfluxServer, config_dir: Path, tmp_path: Path
) -> None:
    total = 30_000
    (config_dir / "configuration.yaml").write_text(
        textwrap.dedent(
            f"""\
            gatehouse:
              control_socket: false
            influxdb:
              host: 127.0.0.1
              port: {influx.port}
              database: kill
              flush_interval: 0.3
              batch_size: 2000
            """
        ),
        encoding="utf-8",
    )
    first, second = ChildOutput(), ChildOutput()
    process = await start_child(CHILD, [str(config_dir), "--count", str(total), "--rate", "10000"],
                              tmp_path / "child1.err")
    async with process, anyio.create_task_group() as group:
        assert process.stdout is not None
        group.start_soon(first.read, process.stdout)
        with anyio.fail_after(30):
            await first.ready.wait()
        await wait_until(
            lambda: len(first.acknowledged) >= 6000 and influx.rows_sync(
                "kill", 'SELECT count("value") FROM "seq"'), timeout=30,
        )
        process.send_signal(signal.SIGKILL)
        assert await process.wait() == -signal.SIGKILL
    acknowledged = set(first.acknowledged)
    assert not first.enqueued_all, "killed too late: the child had produced everything"
    at_kill = await influx.count("kill", "seq")
    assert at_kill < len(acknowledged), "nothing was waiting in the outbox at the kill"

    process = await start_child(CHILD, [str(config_dir), "--drain"], tmp_path / "child2.err")
    async with process, anyio.create_task_group() as group:
        assert process.stdout is not None
        group.start_soon(second.read, process.stdout)
        with anyio.fail_after(60):
            code = await process.wait()
    assert code == 0, (tmp_path / "child2.err").read_text()
    assert second.stats is not None and second.stats["depth"] == 0
    rows = await influx.rows("kill", 'SELECT "value" FROM "seq"')
    stored = {int(r["value"]) for r in rows}
    missing = acknowledged - stored
    assert not missing, f"{len(missing)} points lost, e.g. {sorted(missing)[:5]}"
    print(f"\nacknowledged {len(acknowledged)}, in InfluxDB at the kill {at_kill}, "
          f"after the drain {len(stored)}")
