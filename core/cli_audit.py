"""Recording what a CLI command did to security material in the audit log.

``gatehouse certs`` and ``gatehouse keys`` change the CA and the keyring on disk, often
with no host running (an appliance being provisioned). Their operations belong in the
tamper-evident audit log like the web server's (README "audit"), with the OS user as
the actor. There are two ways in, and this module picks the right one:

* a host is running: the record goes through its control socket to the service
  ``audit.record`` (the running audit writer owns the log; writing behind its back
  would break the hash chain);
* no host is running: ``append_offline`` (``gatehouse.integrations.audit.offline``)
  takes the log's lock, appends and signs a checkpoint.

An audit log that does not exist (the integration was never set up) or is not installed
is not an error: there is nothing to keep the record in. Any other failure is reported
on stderr but never fails the command: the operation itself already happened.
"""

from __future__ import annotations

import getpass
import importlib
import sys
from pathlib import Path
from typing import Any

from .control import ControlError, HostNotRunning, request

#: Where ``append_offline`` lives (imported only when needed: an optional extra).
_OFFLINE_MODULE = "gatehouse.integrations.audit.offline"


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return "unknown"


def record_cli_operation(
    config_dir: Path, action: str, target: str | None, details: dict[str, Any] | None = None,
    *, result: str = "ok",
) -> str:
    """Record ``action`` on ``target``; returns where it went: ``"host"``, ``"offline"``,
    ``"none"`` (no audit log) or ``"failed"`` (a warning was printed)."""
    data = {"action": action, "result": result, "name": _actor(), "target": target,
            "details": {**(details or {}), "via": "cli"}}
    for _attempt in range(2):  # a host may start or stop between the two ways
        try:
            reply = request(config_dir, {"cmd": "call_service", "domain": "audit",
                                         "service": "record", "data": data}, timeout=10.0)
        except HostNotRunning:
            outcome = _offline(config_dir, data)
            if outcome != "busy":
                return outcome
            continue
        except ControlError as err:
            return _warn(f"the running host did not answer ({err})")
        if reply.get("ok"):
            return "host"
        error = reply.get("error") or {}
        if error.get("type") == "ServiceNotFound":
            return "none"  # the host has no audit log loaded
        return _warn(str(error.get("message") or error))
    return _warn("the audit log stayed busy")


def _offline(config_dir: Path, data: dict[str, Any]) -> str:
    try:
        module = importlib.import_module(_OFFLINE_MODULE)
    except ImportError:
        return "none"  # gatehouse[audit] is not installed
    try:
        written = module.append_offline(config_dir, data)
    except Exception as err:  # noqa: BLE001 - the audit log's own errors, reported
        if type(err).__name__ == "AuditLogBusy":
            return "busy"
        return _warn(str(err))
    return "offline" if written else "none"


def _warn(reason: str) -> str:
    sys.stderr.write(f"warning: not recorded in the audit log: {reason}\n")
    return "failed"
