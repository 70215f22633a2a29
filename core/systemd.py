"""systemd's notify protocol: READY, STOPPING, STATUS and a watchdog fed by the event loop.

A unit of ``Type=notify`` hands the process a datagram socket in ``$NOTIFY_SOCKET``;
the process sends ``KEY=value`` lines to it (``sd_notify(3)``). The protocol is one
``sendto`` per message, so it is written here (no libsystemd binding to install).

The watchdog ping is sent by a task of the host's own event loop, at half of
``$WATCHDOG_USEC`` as ``sd_watchdog_enabled(3)`` recommends: a thread would keep pinging
while the loop is stuck, which is exactly the failure systemd should restart us for.
Without ``$NOTIFY_SOCKET`` (not under systemd) every call here does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

import anyio

if TYPE_CHECKING:
    from .host import Host

_LOGGER = logging.getLogger(__name__)

#: Seconds between STATUS= refreshes when no watchdog asks for something shorter.
STATUS_INTERVAL: Final = 10.0

#: The unit template shipped in the package (``packaging/`` in a checkout, installed as
#: ``gatehouse/packaging``: one level above this package either way).
UNIT_TEMPLATE: Final = Path(__file__).resolve().parents[1] / "packaging" / "gatehouse.service"


class Notifier:
    """Sends notify messages to ``address`` (a path, or ``@name`` for the abstract namespace)."""

    def __init__(self, address: str) -> None:
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._socket.setblocking(False)
        self._warned = False
        self.closed = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier | None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if not address or not (address.startswith(("/", "@"))):
            return None
        return cls(address)

    def send(self, *lines: str) -> bool:
        """Send one datagram; False (logged once) if systemd is gone or its queue is full.

        Non-blocking: a full queue must not stall the loop that is trying to prove it runs.
        """
        if self.closed:
            return False
        try:
            self._socket.sendto("\n".join(lines).encode(), self.address)
        except OSError as err:
            if not self._warned:
                _LOGGER.warning("Could not notify systemd at %s: %s", self.address.strip("\0"), err)
                self._warned = True
            return False
        return True

    def close(self) -> None:
        self.closed = True
        self._socket.close()


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between pings: half of ``$WATCHDOG_USEC``, if the watchdog is meant for us."""
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 2 / 1_000_000


def status_line(host: Host) -> str:
    """A one-line summary for ``systemctl status``: entry states and entity count."""
    from .config_entry import ConfigEntryState

    entries = host.config_entries.entries()
    loaded = sum(1 for e in entries if e.state is ConfigEntryState.LOADED)
    failing = sum(
        1 for e in entries
        if e.state in (ConfigEntryState.SETUP_ERROR, ConfigEntryState.SETUP_RETRY,
                       ConfigEntryState.MIGRATION_ERROR, ConfigEntryState.FAILED_UNLOAD)
    )
    from .disk import disk_problems

    text = f"{loaded}/{len(entries)} entries loaded, {len(host.states)} entities"
    text += f", {failing} failing" if failing else ""
    return "; ".join([text, *disk_problems(host)])


class SystemdLink:
    """The host's side of the protocol: call ``ready`` once started, ``stopping`` on stop."""

    def __init__(self, notifier: Notifier, *, watchdog: float | None,
                 status_interval: float = STATUS_INTERVAL) -> None:
        self.notifier = notifier
        self.watchdog = watchdog
        self.status_interval = status_interval
        self.pings = 0
        self._last_status = ""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SystemdLink | None:
        notifier = Notifier.from_environment(environ)
        if notifier is None:
            return None
        return cls(notifier, watchdog=watchdog_interval(environ))

    def ready(self, host: Host) -> None:
        """READY=1 with the first STATUS, and start the watchdog task in the host's group."""
        self._last_status = status_line(host)
        self.notifier.send("READY=1", f"STATUS={self._last_status}", f"MAINPID={os.getpid()}")
        host.spawn(self._keep_alive(host), name="systemd watchdog")

    def stopping(self) -> None:
        """STOPPING=1, then close: pings sent while the host winds down are dropped."""
        self.notifier.send("STOPPING=1", "STATUS=stopping")
        self.notifier.close()

    async def _keep_alive(self, host: Host) -> None:
        period = min(self.watchdog or self.status_interval, self.status_interval)
        while True:
            await anyio.sleep(period)
            lines = []
            if self.watchdog is not None:
                lines.append("WATCHDOG=1")
                self.pings += 1
            status = status_line(host)
            if status != self._last_status:
                self._last_status = status
                lines.append(f"STATUS={status}")
            if lines:
                self.notifier.send(*lines)


#: The daily backup (``gatehouse backup create --keep 7``) beside the main unit.
BACKUP_UNITS: Final = ("gatehouse-backup.service", "gatehouse-backup.timer")


def render_unit(*, exec_path: str, config_dir: str, user: str = "gatehouse",
                data_dir: str = "/var/lib/gatehouse", watchdog_sec: int = 30,
                template: Path = UNIT_TEMPLATE) -> str:
    """A shipped unit (the service by default) with this installation's paths filled in."""
    text = template.read_text(encoding="utf-8")
    for key, value in {
        "@EXEC@": exec_path, "@CONFIG@": config_dir, "@USER@": user,
        "@DATA@": data_dir, "@WATCHDOG@": str(watchdog_sec),
    }.items():
        if any(c.isspace() for c in value):
            raise ValueError(f"{key.strip('@').lower()} must not contain white space: {value!r}")
        text = text.replace(key, value)
    return text


def cli_main(argv: list[str]) -> int:
    """``gatehouse install-service``: write the unit with this installation's paths."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="gatehouse install-service",
        description="Write a hardened systemd unit (Type=notify, watchdog) for this "
        "installation. Then: systemctl daemon-reload && systemctl enable --now gatehouse",
    )
    parser.add_argument("--config", default="/etc/gatehouse", metavar="DIR",
                        help="config directory the service runs with (default /etc/gatehouse)")
    parser.add_argument("--data-dir", default="/var/lib/gatehouse", metavar="DIR",
                        help="a second writable directory (default /var/lib/gatehouse)")
    parser.add_argument("--user", default="gatehouse",
                        help="system user (and group) to run as (default gatehouse)")
    parser.add_argument("--exec", dest="exec_path", default=None, metavar="PATH",
                        help="the gatehouse executable (default: the one beside this Python)")
    parser.add_argument("--watchdog-sec", type=int, default=30, metavar="S",
                        help="WatchdogSec= (default 30)")
    parser.add_argument("--output", default="/etc/systemd/system/gatehouse.service",
                        metavar="FILE", help="where to write the unit ('-' prints it)")
    parser.add_argument("--backup-timer", action="store_true",
                        help="also write gatehouse-backup.service/.timer beside it "
                        "(a daily backup, 7 kept; enable the timer)")
    args = parser.parse_args(argv)
    exec_path = args.exec_path or str(Path(sys.executable).parent / "gatehouse")
    fields = {"exec_path": os.path.abspath(exec_path),
              "config_dir": os.path.abspath(args.config), "user": args.user,
              "data_dir": os.path.abspath(args.data_dir), "watchdog_sec": args.watchdog_sec}
    try:
        text = render_unit(**fields)
        extra = {name: render_unit(**fields, template=UNIT_TEMPLATE.with_name(name))
                 for name in BACKUP_UNITS} if args.backup_timer else {}
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)  # noqa: T201
        return 2
    if args.output == "-":
        sys.stdout.write(text)
        for body in extra.values():
            sys.stdout.write(body)
        return 0
    target = Path(args.output)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    for name, body in extra.items():
        (target.parent / name).write_text(body, encoding="utf-8")
        print(f"Wrote {target.parent / name}")  # noqa: T201
    print(f"Wrote {target}. Create the user if needed: useradd --system --user-group "  # noqa: T201
          f"--home-dir {args.data_dir} {args.user}; then: systemctl daemon-reload && "
          "systemctl enable --now gatehouse")
    return 0
