"""Provisioning one device: credentials, its broker client and role, the result.

``provision(name, type, site, auth)``:

1. make sure the type's group and its deny-all role exist (``templates.py``);
2. ``auth="password"``: a random password (shown once); ``auth="certificate"``: a
   certificate from the house CA whose CN is the device name, which Mosquitto's TLS
   listener (``use_identity_as_username``) turns into the username;
3. create the device's role with its ACLs, then the broker client with that role, in
   the type's group; if the client cannot be made, the role is removed again and a
   certificate just issued is revoked, so a failure leaves nothing usable behind;
4. record the device and answer with broker address, credentials, topics, limits, a
   QR code and the zip bundle.

``revoke(name)`` is the one-click stop: the broker client is disabled (which also kicks
its live sessions) and loses its role, and a certificate is revoked and the CRL handed
to the broker. Why both for a certificate device: Mosquitto skips the password check
for a certificate identity, so a disabled dynsec client could still connect with its
certificate until the broker reloads the CRL; without its role it may do nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from pathlib import Path
from typing import Any

import anyio.to_thread
import voluptuous as vol

from gatehouse.core.helpers import IssuedCert

from . import certs
from .bundle import make_bundle
from .config import DeviceType, ProvisioningSettings, valid_name
from .dynsec import DynsecClient
from .errors import DeviceNotFound, DynsecError, ProvisioningError
from .qr import qr_svg
from .registry import AuthKind, DeviceRecord, DeviceRegistry
from .templates import (
    confine_acls,
    confine_role_name,
    device_acls,
    device_topics,
    group_name,
    role_name,
)

_LOGGER = logging.getLogger(__name__)

PASSWORD_BYTES = 24  # 32 URL-safe characters


class Provisioner:
    """Provisioning on one mqtt entry's broker."""

    def __init__(self, config_dir: Path, entry_id: str, title: str,
                 settings: ProvisioningSettings, dynsec: DynsecClient,
                 registry: DeviceRegistry) -> None:
        self.config_dir = config_dir
        self.entry_id = entry_id
        self.title = title
        self.settings = settings
        self.dynsec = dynsec
        self.registry = registry
        self.provisioned = 0
        self.revoked = 0
        # One change at a time: two wizards provisioning the same name must not both
        # pass the "not provisioned yet" check and race on the broker.
        self._lock = anyio.Lock()

    # -- queries ----------------------------------------------------------------------------

    def template(self, device_type: str) -> DeviceType:
        template = self.settings.device_types.get(device_type)
        if template is None:
            known = ", ".join(sorted(self.settings.device_types))
            raise ProvisioningError(f"unknown device type {device_type!r} (known: {known})")
        return template

    def device(self, name: str) -> DeviceRecord:
        record = self.registry.get(name)
        if record is None:
            raise DeviceNotFound(f"no provisioned device named {name!r}")
        return record

    def describe(self) -> dict[str, Any]:
        """Templates and broker address, for the wizard."""
        from .templates import broker_enforcement

        types = list(self.settings.device_types.values())
        return {
            "entry_id": self.entry_id, "title": self.title,
            "broker": {"host": self.settings.address, "port": self.settings.port,
                       "tls_port": self.settings.tls_port},
            "device_types": [t.as_dict() for t in types],
            "enforcement": broker_enforcement(types),
        }

    async def broker_view(self, name: str) -> dict[str, Any]:
        """The device record and what the broker says of its client right now."""
        record = self.device(name)
        try:
            client: dict[str, Any] | None = await self.dynsec.get_client(record.username)
        except DynsecError as err:
            if err.error != "Client not found":
                raise
            client = None
        return {**record.as_dict(), "broker_client": client}

    # -- provisioning ------------------------------------------------------------------------

    async def provision(self, name: str, device_type: str, site: str,
                        auth: AuthKind = "password") -> dict[str, Any]:
        """See the module docstring; the answer holds the secrets, once."""
        async with self._lock:
            return await self._provision(name, device_type, site, auth)

    async def _provision(self, name: str, device_type: str, site: str,
                         auth: AuthKind) -> dict[str, Any]:
        for label, value in (("name", name), ("site", site), ("type", device_type)):
            try:
                valid_name(value)
            except vol.Invalid as err:
                raise ProvisioningError(f"bad {label} {value!r}: {err}") from None
        template = self.template(device_type)
        if auth not in ("password", "certificate"):
            raise ProvisioningError("auth must be 'password' or 'certificate'")
        if self.registry.get(name) is not None or self.registry.username_taken(name):
            raise ProvisioningError(f"a device named {name!r} is already provisioned")
        topics = device_topics(template, site, name)
        username, role, group = name, role_name(name), group_name(device_type)

        await self._ensure_type_group(device_type)
        password: str | None = None
        issued: IssuedCert | None = None
        if auth == "password":
            password = secrets.token_urlsafe(PASSWORD_BYTES)
        else:
            issued = await anyio.to_thread.run_sync(certs.issue, self.config_dir, name)
        try:
            await self.dynsec.create_role(role, device_acls(topics),
                                          textname=f"Gatehouse device {name}")
            record = DeviceRecord(
                name=name, site=site, type=device_type, username=username, auth=auth,
                role=role, group=group, topic_root=topics.root, created=time.time(),
                serial=None if issued is None else issued.serial)
            try:
                await self.dynsec.create_client(
                    username, password, textname=name,
                    textdescription=f"{device_type} at {site}, provisioned by Gatehouse",
                    roles=[role], groups=[group])
                try:
                    await self.registry.put(record)
                except Exception:
                    # Not recorded means not revocable from here: undo the client too.
                    await self._quietly(self.dynsec.delete_client(username, missing_ok=True))
                    raise
            except Exception:
                await self._quietly(self.dynsec.delete_role(role, missing_ok=True))
                raise
        except Exception:
            if issued is not None:
                await self._quietly(anyio.to_thread.run_sync(
                    certs.revoke, self.config_dir, issued.serial,
                    self.settings.crl_file, self.settings.broker_pid_file))
            raise
        self.provisioned += 1
        _LOGGER.info("Provisioned %s device %s at %s (%s)", device_type, name, site, auth)
        return await self._result(record, template, topics.as_dict(), password, issued)

    async def _ensure_type_group(self, device_type: str) -> None:
        """The type's deny-all role and group, made if missing: one request of three
        commands (the plugin runs them in order), their "already" errors ignored."""
        group, confine = group_name(device_type), confine_role_name(device_type)
        responses = await self.dynsec.run([
            {"command": "createRole", "rolename": confine, "acls": confine_acls(),
             "textname": f"Gatehouse {device_type}: deny the rest"},
            {"command": "createGroup", "groupname": group,
             "textname": f"Gatehouse {device_type} devices"},
            {"command": "addGroupRole", "groupname": group, "rolename": confine,
             "priority": -100},
        ])
        fine = {"Role already exists", "Group already exists", "Group is already in this role"}
        for response in responses:
            if response.error is not None and response.error not in fine:
                raise DynsecError(response.command, response.error)

    async def _result(self, record: DeviceRecord, template: DeviceType,
                      topics: dict[str, Any], password: str | None,
                      issued: IssuedCert | None
                      ) -> dict[str, Any]:
        tls = record.auth == "certificate"
        result: dict[str, Any] = {
            "device": record.as_dict(),
            "broker": {"host": self.settings.address,
                       "port": self.settings.tls_port if tls else self.settings.port,
                       "tls": tls},
            "username": record.username,
            "password": password,
            "certificate": None,
            "topics": topics,
            "limits": {"max_qos": template.max_qos, "retain": template.retain,
                       "enforced_by_broker_acl": False,
                       "note": "Mosquitto's dynamic security ACLs limit topics only; "
                               "max_qos and retain are enforced by listener settings "
                               "(max_qos, retain_available) or by the device."},
        }
        if issued is not None:
            result["certificate"] = {
                "serial": issued.serial,
                "not_after": issued.not_after.isoformat(),
                "cert_pem": issued.cert_pem.decode("ascii"),
                "key_pem": issued.key_pem.decode("ascii"),
            }
        ca_pem = await anyio.to_thread.run_sync(certs.ca_pem_or_none, self.config_dir)
        # The QR holds what a phone or installer tool needs to set the device up; a
        # certificate's key does not fit a scannable code and travels in the bundle.
        qr_data = {"broker": result["broker"], "username": record.username,
                   "topic_root": topics["root"]}
        if password is not None:
            qr_data["password"] = password
        qr_text = json.dumps(qr_data, separators=(",", ":"))
        result["qr_text"] = qr_text
        # About 10 ms of pure Python (QR masks, zip): not on the event loop.
        svg, bundle = await anyio.to_thread.run_sync(
            lambda: (qr_svg(qr_text), make_bundle(result, ca_pem)))
        result["qr_svg"] = svg
        result["bundle"] = {"filename": f"{record.name}.zip",
                            "base64": base64.b64encode(bundle).decode("ascii")}
        return result

    # -- revoking ----------------------------------------------------------------------------

    async def revoke(self, name: str) -> dict[str, Any]:
        """Disable the broker client, drop its role, revoke its certificate."""
        async with self._lock:
            return await self._revoke(name)

    async def _revoke(self, name: str) -> dict[str, Any]:
        record = self.device(name)
        if record.status == "revoked":
            raise ProvisioningError(f"device {name!r} is already revoked")
        notes: list[str] = []
        responses = await self.dynsec.run([
            {"command": "disableClient", "username": record.username},
            {"command": "removeClientRole", "username": record.username,
             "rolename": record.role},
        ])
        for response in responses:
            if response.error is None:
                notes.append(f"{response.command}: done")
            elif response.error in ("Client not found", "Role not found"):
                notes.append(f"{response.command}: {response.error} (nothing to undo)")
            else:
                raise DynsecError(response.command, response.error)
        if record.serial is not None:
            notes += await anyio.to_thread.run_sync(
                certs.revoke, self.config_dir, record.serial, self.settings.crl_file,
                self.settings.broker_pid_file)
        revoked = record.revoked_now(notes)
        await self.registry.put(revoked)
        self.revoked += 1
        _LOGGER.info("Revoked device %s: %s", name, "; ".join(notes))
        return revoked.as_dict()

    async def delete(self, name: str) -> None:
        """Remove the broker client and role and forget the device (revoking first)."""
        async with self._lock:
            record = self.device(name)
            if record.status == "active":
                await self._revoke(name)
            await self.dynsec.delete_client(record.username, missing_ok=True)
            await self.dynsec.delete_role(record.role, missing_ok=True)
            await self.registry.remove(name)

    async def _quietly(self, awaitable: Any) -> None:
        """Best-effort clean-up after a failure (the first error is what matters)."""
        try:
            await awaitable
        except Exception as err:  # noqa: BLE001 - the first failure is the one reported
            _LOGGER.warning("Clean-up after a failed provisioning failed too: %s", err)

    def diagnostics(self) -> dict[str, Any]:
        devices = self.registry.all()
        return {
            "devices": len(devices),
            "revoked": sum(1 for d in devices if d.status == "revoked"),
            "provisioned_since_start": self.provisioned,
            "revoked_since_start": self.revoked,
            "unmatched_answers": self.dynsec.unmatched,
        }
