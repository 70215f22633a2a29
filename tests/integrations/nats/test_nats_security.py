"""Authentication and TLS (verified, mutual) against a real secured server."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from natstools import add_nats, assert_loaded
from securednats import PASSWORD, USER, SecuredNats

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.testing import Pki, state_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def secured(tmp_path: Path, pki: Pki) -> Iterator[SecuredNats]:
    node = SecuredNats(tmp_path / "secured", pki)
    try:
        node.start()
        node.wait_healthy()
        yield node
    finally:
        node.stop()


def _tls(pki: Pki, **extra: object) -> dict[str, object]:
    client = pki.client()
    return {"tls_ca": str(pki.ca_cert), "tls_cert": str(client.cert),
            "tls_key": str(client.key), **extra}


async def test_mutual_tls_with_password(secured: SecuredNats, pki: Pki, host: Host) -> None:
    entry = await add_nats(
        host, "Secure", servers=[secured.tls_url], user=USER, password=PASSWORD,
        **_tls(pki),
    )
    assert_loaded(entry)
    assert state_of(host, "binary_sensor.secure_connected") == "on"
    reply = await host.services.call(
        "nats", "request", {"subject": "$JS.API.INFO", "timeout": 2}, return_response=True
    )
    assert reply is not None and "memory" in reply["json"]

    (diagnostics,) = host.plugins.hook.gatehouse_diagnostics(host=host)
    figures = diagnostics[entry.entry_id]
    assert figures["connection"]["connected"] and figures["connection"]["server"]
    assert PASSWORD not in json.dumps(diagnostics)


async def test_wrong_password_fails_fast_without_retrying(
    secured: SecuredNats, pki: Pki, host: Host
) -> None:
    started = time.monotonic()
    entry = await add_nats(
        host, "Secure", servers=[secured.tls_url], user=USER, password="wrong",
        setup_timeout=10, **_tls(pki),
    )
    assert entry.state is ConfigEntryState.SETUP_ERROR  # auth failed: no retry loop
    assert "refused the credentials" in (entry.reason or "")
    assert time.monotonic() - started < 5


async def test_certificate_verification_is_on_unless_insecure(
    secured: SecuredNats, pki: Pki, host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    client = pki.client()
    own_cert = {"tls_cert": str(client.cert), "tls_key": str(client.key)}
    # The test CA is not in the system store: the server is not trusted. Like an
    # unreachable server (it used to make the entry retry set-up), the entry loads
    # offline and says why on its connectivity sensor and in the log.
    with caplog.at_level(logging.WARNING, logger="gatehouse.integrations.nats"):
        untrusted = await add_nats(
            host, "Untrusted", servers=[secured.tls_url], user=USER, password=PASSWORD,
            setup_timeout=0.5, **own_cert,
        )
    assert_loaded(untrusted)
    assert any("CERTIFICATE_VERIFY_FAILED" in r.getMessage() for r in caplog.records)
    link = host.states.get("binary_sensor.untrusted_connected")
    assert link is not None and link.state == "off"
    assert "CERTIFICATE_VERIFY_FAILED" in link.attributes["last_error"]
    await host.config_entries.unload(untrusted.entry_id)

    trusting = await add_nats(
        host, "Trusting", servers=[secured.tls_url], user=USER, password=PASSWORD,
        insecure=True, **own_cert,
    )
    assert_loaded(trusting)
