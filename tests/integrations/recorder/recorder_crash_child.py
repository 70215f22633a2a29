"""Child of the kill -9 test: states offered at a steady rate to a real writer thread.

Prints ``READY``, then ``E <n>`` once state n (and every state before it) is committed,
and ``O <n>`` as it offers them; the test kills it with SIGKILL mid-stream.
Arguments: database path, commit interval (s), rate (states/s).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from gatehouse.core import State
from gatehouse.integrations.recorder.database import Database, state_row
from gatehouse.integrations.recorder.writer import RecorderWriter


def main() -> None:
    path, interval, rate = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    db = Database.open(path)
    write = db.write

    def committed(items: Any, now: float | None = None) -> int:
        written = write(items, now)
        if items:
            print(f"E {int(items[-1][1])}", flush=True)
        return written

    db.write = committed  # type: ignore[method-assign]
    writer = RecorderWriter(db, commit_interval=interval, max_queue=10_000_000)
    writer.start()
    print("READY", flush=True)
    step = 0.01
    per_step = max(1, int(rate * step))
    n = 0
    began = time.monotonic()
    while True:
        for _ in range(per_step):
            writer.offer(state_row(State("sensor.crash", str(n), {"unit_of_measurement": "x"})))
            n += 1
        print(f"O {n - 1}", flush=True)
        time.sleep(max(0.0, began + (n / per_step) * step - time.monotonic()))


if __name__ == "__main__":
    main()
