"""Shared subprocess plumbing for the peer harness.

Kept in one place so every peer gets the same guarantees: output captured to a log file
that failures can quote, graceful stop with a hard-kill fallback, and death of the peer
if the test process itself dies abruptly (so a crashed run leaks no brokers).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

LOG_TAIL_CHARS = 4000


def find_binary(name: str, extra_dirs: Sequence[Path] = ()) -> str:
    """Locate executable ``name`` in ``extra_dirs`` first, then ``PATH``, then sbin dirs.

    ``/usr/sbin`` is searched explicitly because Debian installs mosquitto there and it
    is often absent from a non-root ``PATH``.
    """
    for directory in extra_dirs:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
    if found is None:
        searched = [str(d) for d in extra_dirs]
        raise FileNotFoundError(f"{name} not found (searched {searched}, PATH, /usr/sbin)")
    return found


def _death_signal_prefix() -> list[str]:
    """Command prefix that makes the child receive SIGTERM when this process dies.

    Linux delivers the parent-death signal when the *thread* that forked the child
    exits, so it is only armed from the main thread: a peer restarted from a worker
    thread (``anyio.to_thread``) would otherwise die when that idle worker is reaped.
    ``setpriv`` re-execs the peer, so the pid we hold is still the peer's own pid.
    """
    if threading.current_thread() is not threading.main_thread():
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


def tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    """Return the last ``chars`` characters of a log file (empty if missing)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-chars:]


class ManagedProcess:
    """One peer process whose stdout/stderr go to ``log_path`` (appended across restarts)."""

    def __init__(self, argv: Sequence[str], log_path: Path, cwd: Path) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """Pid of the running process, ``None`` when not running."""
        return self._proc.pid if self.running and self._proc else None

    @property
    def running(self) -> bool:
        """Whether the process has been started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit status of the last run (``None`` while running or never started)."""
        return None if self._proc is None else self._proc.poll()

    def start(self) -> None:
        """Spawn the process; refuses a second copy that would fight over the ports."""
        if self.running:
            raise RuntimeError(f"{self.argv[0]} is already running (pid {self.pid})")
        self._close_log()
        self._log = self.log_path.open("ab")
        self._log.write(f"\n=== starting: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self._proc = subprocess.Popen(
            [*_death_signal_prefix(), *self.argv],
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if the process has not exited within ``timeout``.

        A graceful stop matters: mosquitto writes its persistence file and nats-server
        hands off Raft leadership on SIGTERM.
        """
        self._signal_and_wait(signal.SIGTERM, timeout)

    def kill(self, timeout: float = 5.0) -> None:
        """SIGKILL: simulates a crash (no persistence flush, no leadership hand-off)."""
        self._signal_and_wait(signal.SIGKILL, timeout)

    def _signal_and_wait(self, sig: signal.Signals, timeout: float) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=timeout)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self) -> str:
        """Recent output, for error messages that explain why a peer did not come up."""
        return tail(self.log_path)
