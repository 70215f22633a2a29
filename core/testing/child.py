"""Crash tests: a host in a child process that a test kills with SIGKILL.

"``kill -9`` loses no acknowledged data" is proved the same way for every exporter: a
child script runs a host, prints a line for each message once it is acknowledged
(durably queued), the test kills it mid-stream, runs a second child that drains what
was left, and checks that everything acknowledged arrived, first arrivals in order.
This module holds the test's side of that conversation, so each test only writes its
child script and its checks.

The child's stdout protocol, one fact per line:

=================  ======================================================================
``E <key>``        ``key`` is acknowledged (``acked``; also in ``acknowledged`` if an int)
``READY``          the child is set up (``ready`` is set)
``STATS <json>``   figures the child reports (``stats``)
``WORD``           any other line in capitals and underscores: a flag (``flags``), e.g.
                   ``ENQUEUED`` (``enqueued_all``) when it produced everything
anything else      kept in ``other`` for the failure message
=================  ======================================================================

A last line cut short by SIGKILL is never counted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

_FLAG = re.compile(r"^[A-Z][A-Z_]*$")


class ChildOutput:
    """A child's stdout, read as it comes (``read`` runs in the test's task group)."""

    def __init__(self) -> None:
        self.acked: list[str] = []
        self.acknowledged: list[int] = []
        self.stats: Any = None
        self.flags: set[str] = set()
        self.other: list[str] = []
        self.ready = anyio.Event()

    @property
    def enqueued_all(self) -> bool:
        """Whether the child said it produced everything (``ENQUEUED``)."""
        return "ENQUEUED" in self.flags

    async def wait_ready(self) -> None:
        await self.ready.wait()

    async def read(self, stream: anyio.abc.ByteReceiveStream) -> None:
        buffer = b""
        async for chunk in stream:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                self._line(raw.decode())

    def _line(self, line: str) -> None:
        if line.startswith("E "):
            key = line[2:]
            self.acked.append(key)
            if key.isdigit():
                self.acknowledged.append(int(key))
        elif line == "READY":
            self.ready.set()
        elif line.startswith("STATS "):
            self.stats = json.loads(line[6:])
        elif _FLAG.match(line):
            self.flags.add(line)
        else:
            self.other.append(line)


async def start_child(
    script: Path | Sequence[str], args: Sequence[str], errors: Path
) -> anyio.abc.Process:
    """Start ``script`` (a Python file, or a whole command) with unbuffered output; its
    stderr goes to ``errors`` (quote that file when the test fails)."""
    command = [sys.executable, str(script)] if isinstance(script, Path) else list(script)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with errors.open("wb") as stderr:
        return await anyio.open_process(
            [*command, *args], stdout=subprocess.PIPE, stderr=stderr, env=env
        )


def check_stream(values: Iterable[int], acknowledged: set[int]) -> tuple[int, int]:
    """Assert nothing acknowledged is missing and first arrivals are in order; return
    (distinct, duplicates). Duplicates are allowed: delivery is at least once."""
    values = list(values)
    first_arrivals = list(dict.fromkeys(values))
    missing = acknowledged - set(first_arrivals)
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:5]}"
    assert first_arrivals == sorted(first_arrivals), "first arrivals out of order"
    return len(first_arrivals), len(values) - len(first_arrivals)
