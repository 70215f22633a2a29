"""The crash-test kit: a child's stdout protocol, read from a real child process."""

from __future__ import annotations

import textwrap
from pathlib import Path

import anyio
import pytest

from gatehouse.core.testing import ChildOutput, check_stream, start_child

pytestmark = pytest.mark.anyio


async def test_child_output_reads_the_protocol_and_ignores_a_cut_line(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent("""
        import sys
        print("READY"); print("E 1"); print("E a:2"); print("ALARM")
        print('STATS {"depth": 0}'); print("hello there")
        sys.stdout.write("E 3")  # no newline: a line SIGKILL cut short
    """))
    output = ChildOutput()
    process = await start_child(script, [], tmp_path / "child.err")
    async with process, anyio.create_task_group() as group:
        assert process.stdout is not None
        group.start_soon(output.read, process.stdout)
        with anyio.fail_after(10):
            await output.wait_ready()
            await process.wait()
    assert output.acked == ["1", "a:2"] and output.acknowledged == [1]
    assert output.flags == {"ALARM"} and not output.enqueued_all
    assert output.stats == {"depth": 0} and output.other == ["hello there"]


def test_check_stream_allows_duplicates_but_not_loss_or_disorder() -> None:
    assert check_stream([1, 2, 2, 3], {1, 2, 3}) == (3, 1)
    with pytest.raises(AssertionError, match="1 acknowledged messages lost"):
        check_stream([1, 3], {1, 2, 3})
    with pytest.raises(AssertionError, match="out of order"):
        check_stream([2, 1], {1, 2})
