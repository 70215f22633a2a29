"""The writer thread: the loop appends, one thread commits every ``commit_interval``.

The loop's whole cost per state change is one ``deque.append`` of a small tuple of
plain values (``database.StateRow``; no JSON): serialising, hashing, encrypting and
SQLite run in this thread. It wakes every ``commit_interval`` (or at once on
``flush``/``close``), takes everything queued and commits it as one transaction, so a
``kill -9`` loses at most what arrived in the last interval. With
``commit_interval: 0`` it commits as soon as something is queued (rounds grow with
load, as the outbox's group commit does).

Why a thread and not the ``to_thread``-per-round writer tasks of the outbox, audit
log and quarantine: at 20,000 changes/s the per-round hand-off through the loop is
itself loop work, and a purge or a statistics round must not wait on the loop either.

Bounded: at most ``max_queue`` items wait; beyond that an item is dropped and counted
(``dropped``), so a flood costs neither memory nor loop time. A failed commit (disk
full, I/O error) loses that batch (counted in ``lost``), sets ``problem`` (the problem
entity shows it) and the thread goes on; the next successful commit clears it. A
database found corrupt while running is moved aside and a new one opened.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .database import Database, is_corruption, is_disk_full

_LOGGER = logging.getLogger(__name__)


class _Marker:
    """A flush or a job, run by the thread in queue order."""

    __slots__ = ("done", "error", "job", "result")

    def __init__(self, job: Callable[[Database], Any] | None = None) -> None:
        self.done = threading.Event()
        self.job = job
        self.result: Any = None
        self.error: BaseException | None = None


class RecorderWriter:
    """See the module docstring."""

    def __init__(self, db: Database, *, commit_interval: float, max_queue: int,
                 reopen: Callable[[], Database] | None = None,
                 on_status: Callable[[], None] | None = None) -> None:
        self.db = db
        self.commit_interval = commit_interval
        self.max_queue = max_queue
        self._reopen = reopen
        #: Called from this thread after a commit changed ``problem`` (the integration
        #: hands it to the loop).
        self.on_status = on_status
        self._queue: deque[Any] = deque()
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="recorder writer", daemon=True)
        self.queued = 0
        self.dropped = 0
        self.lost = 0
        self.commits = 0
        self.written = 0
        self.problem: str | None = None
        self.last_commit_seconds = 0.0

    # -- the loop's side -------------------------------------------------------------

    def offer(self, item: Any) -> bool:
        """Queue a ``StateRow`` or ``Event``; False if dropped (full or closing)."""
        queue = self._queue
        if len(queue) >= self.max_queue or self._closing:
            self.dropped += 1
            return False
        queue.append(item)
        self.queued += 1
        if self.commit_interval <= 0:
            self._wake.set()
        return True

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: Callable[[Database], Any] | None = None) -> _Marker:
        """Run ``job(db)`` in the thread after everything queued so far is committed
        (None: just the commit); wait on the marker's ``done`` (blocking)."""
        marker = _Marker(job)
        self._queue.append(marker)
        self._wake.set()
        return marker

    def call(self, job: Callable[[Database], Any] | None = None, timeout: float = 300.0) -> Any:
        """``submit`` and wait (blocking: from a worker thread)."""
        marker = self.submit(job)
        if not marker.done.wait(timeout):
            raise TimeoutError("the recorder writer did not answer")
        if marker.error is not None:
            raise marker.error
        return marker.result

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued and stop the thread (blocking)."""
        self._closing = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                if not self._closing:
                    self._wake.wait(self.commit_interval if self.commit_interval > 0 else None)
                    self._wake.clear()
                self._round()
                if self._closing and not self._queue:
                    break
        finally:
            try:
                self.db.close()
            except Exception:
                _LOGGER.exception("Recorder: closing the database failed")

    def _round(self) -> None:
        queue = self._queue
        batch: list[Any] = []
        while queue:
            item = queue.popleft()
            if isinstance(item, _Marker):
                self._commit(batch)
                batch = []
                self._run_marker(item)
                continue
            batch.append(item)
        self._commit(batch)

    def commit_queued(self) -> None:
        """From a job in this thread (a purge between its chunks): commit what is queued
        up to the next marker, so a long job does not hold back the states."""
        queue = self._queue
        batch: list[Any] = []
        while queue and not isinstance(queue[0], _Marker):
            batch.append(queue.popleft())
        if batch:
            self._commit(batch)

    def _run_marker(self, marker: _Marker) -> None:
        try:
            if marker.job is not None:
                marker.result = marker.job(self.db)
        except BaseException as err:  # noqa: BLE001 - handed to the waiter
            marker.error = err
        finally:
            marker.done.set()

    def _commit(self, batch: list[Any]) -> None:
        began = time.perf_counter()
        try:
            written = self.db.write(batch)
        except Exception as err:  # noqa: BLE001 - never kill the thread
            self.lost += len(batch)
            self._failed(err, len(batch))
            return
        self.last_commit_seconds = time.perf_counter() - began
        self.commits += 1
        self.written += written
        if self.problem is not None and batch:
            _LOGGER.warning("Recorder: writing works again (%s before)", self.problem)
            self.problem = None
            self._announce()

    def _failed(self, err: BaseException, count: int) -> None:
        if is_disk_full(err):
            problem = f"disk full: {err}"
        elif is_corruption(err):
            problem = f"database corrupt: {err}"
        else:
            problem = f"write failed: {err}"
        if problem != self.problem:
            _LOGGER.error("Recorder: %d rows could not be written to %s: %s",
                          count, self.db.path, problem)
            self.problem = problem
            self._announce()
        if (is_corruption(err) or self.db.broken) and self._reopen is not None:
            with contextlib.suppress(Exception):  # it is being replaced
                self.db.conn.close()
            try:
                self.db = self._reopen()
            except Exception as again:  # noqa: BLE001 - reported, the next round retries
                _LOGGER.error("Recorder: reopening the database failed: %s", again)

    def _announce(self) -> None:
        if self.on_status is not None:
            try:
                self.on_status()
            except Exception:
                _LOGGER.exception("Recorder: status callback failed")

    def diagnostics(self) -> dict[str, Any]:
        return {"queued": self.queued, "pending": self.pending, "dropped": self.dropped,
                "lost": self.lost, "commits": self.commits, "written": self.written,
                "problem": self.problem,
                "last_commit_ms": round(self.last_commit_seconds * 1000, 3)}
