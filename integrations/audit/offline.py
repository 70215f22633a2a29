"""``append_offline``: one record from a CLI command while no host is running.

``gatehouse certs ...`` and ``gatehouse keys ...`` change security material, often on a
stopped appliance (provisioning an image). With a host running they fire
``audit_security`` on its bus like every other component; without one there is no
bus, so they call::

    from gatehouse.integrations.audit.offline import append_offline

    append_offline(config_dir, {"action": "cert.issue", "result": "ok",
                                "name": getpass.getuser(), "target": "cert:4711",
                                "details": {"kind": "device", "cn": "pump-7"}})

The record has the shape of the ``audit_security`` event data (``api.py``) and is
normalised the same way (unknown action → ``security.other``, details bounded). The
call takes the log's write lock (``audit.lock``, an flock), appends the record after
the last one on disk, signs a checkpoint so the log stays fully signed, fsyncs and
releases the lock. It returns False, writing nothing, when the config has no audit
log yet (no key: an audit log is only started by the integration). While a host has
the log open it raises ``AuditLogBusy`` (after ``wait`` seconds): then the event
belongs on the running host's bus, not in the file behind its back.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .const import AUDIT_DIR, DEFAULT_MAX_FILE_SIZE, PRIVATE_KEY_FILE
from .keystore import load_or_create
from .listeners import security_record
from .writer import LogWriter, Pending, log_files


def audit_dir(config_dir: Path) -> Path:
    return Path(config_dir) / ".storage" / AUDIT_DIR  # the host's storage_dir


def append_offline(config_dir: Path, record: Mapping[str, Any], *, wait: float = 2.0) -> bool:
    """Append ``record`` to the config's audit log without a host (blocking; see above)."""
    directory = audit_dir(config_dir)
    if not (directory / PRIVATE_KEY_FILE).exists():
        return False
    action, actor, target, result, details = security_record(record, by=None)
    private, verifier = load_or_create(directory, log_exists=bool(log_files(directory)))
    writer = LogWriter(directory, private, verifier, max_file_size=DEFAULT_MAX_FILE_SIZE)
    writer.lock_wait = wait
    writer.open()
    try:
        details = {**details, "offline": True}
        writer.write_batch([Pending(action, actor, target, result, details)], True)
    finally:
        writer.close()
    return True

