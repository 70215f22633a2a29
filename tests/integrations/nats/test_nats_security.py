"""Authentication and TLS (verified, mutual) against a real secured server."""

from __future__ import annotations

import json
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
    secured: SecuredNats, pki: Pki, host: Host
) -> None:
    client = pki.client()
    own_cert = {"tls_cert": str(client.cert), "tls_key": str(client.key)}
    # The test CA is not in the system store: the server is not trusted. A server that
    # answers but fails the handshake is no outage: set-up retries, as before (an
    # unreachable one would leave the entry loaded, offline).
    untrusted = await add_nats(
        host, "Untrusted", servers=[secured.tls_url], user=USER, password=PASSWORD,
        setup_timeout=0.5, **own_cert,
    )
    assert untrusted.state is ConfigEntryState.SETUP_RETRY
    assert "CERTIFICATE_VERIFY_FAILED" in (untrusted.reason or "")
    await host.config_entries.unload(untrusted.entry_id)

    trusting = await add_nats(
        host, "Trusting", servers=[secured.tls_url], user=USER, password=PASSWORD,
        insecure=True, **own_cert,
    )
    assert_loaded(trusting)
