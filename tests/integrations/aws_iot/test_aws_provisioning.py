"""Fleet provisioning by claim (provisioning.py) against Mosquitto with mTLS and the fake.

The fake issues REAL certificates from the broker's CA, so the last step (connect with
the new certificate) is checked by the broker itself.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from awsfake import FakeAwsIot, certificate_id
from awslink import PahoLink, paho_link
from awstools import CLAIM, PARAMETERS, PROVISIONED_THING, TEMPLATE, AwsCerts
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gatehouse.core.testing import Mosquitto
from gatehouse.integrations.aws_iot.provisioning import (
    ProvisioningError,
    provision,
    stored_identity,
)

pytestmark = pytest.mark.anyio
pytest_plugins = ["awstools"]


@pytest.fixture
async def claim_link(
    aws_fake: FakeAwsIot, aws_broker: Mosquitto, aws_certs: AwsCerts
) -> AsyncIterator[PahoLink]:
    async with paho_link(
        aws_broker,
        aws_certs.root_ca,
        aws_certs.claim_certificate,
        aws_certs.claim_private_key,
        client_id=CLAIM,
    ) as link:
        yield link


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_provision_once_store_0600_and_connect_with_the_new_certificate(
    claim_link: PahoLink,
    aws_fake: FakeAwsIot,
    aws_broker: Mosquitto,
    aws_certs: AwsCerts,
    tmp_path: Path,
) -> None:
    store = tmp_path / "config" / ".aws_iot"
    old_umask = os.umask(0)  # the files must be private whatever the umask
    try:
        identity = await provision(
            claim_link, template_name=TEMPLATE, parameters=PARAMETERS, store_dir=store
        )
    finally:
        os.umask(old_umask)
    assert identity.thing_name == PROVISIONED_THING
    assert aws_fake.create_calls == 1 and aws_fake.provision_calls == 1
    assert [p.thing_name for p in aws_fake.provisioned] == [PROVISIONED_THING]
    assert identity.certificate_id == aws_fake.issued[0].certificate_id
    assert certificate_id(identity.cert_path.read_bytes()) == identity.certificate_id
    assert identity.key_path.read_text() == aws_fake.issued[0].key.read_text()  # type: ignore[union-attr]
    assert dict(identity.device_configuration) == {"Fleet": "gatehouse"}
    for path in (identity.cert_path, identity.key_path, store / "identity.json"):
        assert mode(path) == 0o600, path
    assert mode(store) == 0o700
    assert not [p for p in store.iterdir() if p.name.endswith(".tmp")]

    # Done once: a second run (and a restart: a fresh read) uses the stored identity.
    again = await provision(
        claim_link, template_name=TEMPLATE, parameters=PARAMETERS, store_dir=store
    )
    assert again == identity == stored_identity(store)
    assert aws_fake.create_calls == 1 and aws_fake.provision_calls == 1

    # The broker (AWS) accepts a connection with the new certificate as the new thing.
    async with paho_link(
        aws_broker, aws_certs.root_ca, identity.cert_path, identity.key_path, identity.thing_name
    ) as device:
        await device.publish(f"$aws/things/{identity.thing_name}/shadow/get", b"{}")
    await aws_fake.wait_for(lambda: aws_fake.requests_for(PROVISIONED_THING, "get") == 1)


async def test_refused_certificate_creation_is_a_clear_error(
    claim_link: PahoLink, aws_fake: FakeAwsIot, tmp_path: Path
) -> None:
    aws_fake.fail_next("create_certificate", 503, "ServiceUnavailable try later")
    store = tmp_path / "store"
    with pytest.raises(ProvisioningError) as caught:
        await provision(claim_link, template_name=TEMPLATE, parameters=PARAMETERS, store_dir=store)
    assert caught.value.error_code == "ServiceUnavailable"
    assert caught.value.status_code == 503
    assert "CreateKeysAndCertificate" in str(caught.value) and "try later" in str(caught.value)
    assert stored_identity(store) is None
    assert not store.exists()


@pytest.mark.parametrize(
    ("template", "parameters", "error_code"),
    [
        (TEMPLATE, {}, "InvalidParameters"),
        ("no-such-template", PARAMETERS, "ResourceNotFound"),
    ],
)
async def test_refused_register_thing_stores_nothing(
    claim_link: PahoLink,
    aws_fake: FakeAwsIot,
    tmp_path: Path,
    template: str,
    parameters: dict[str, str],
    error_code: str,
) -> None:
    with pytest.raises(ProvisioningError) as caught:
        await provision(
            claim_link, template_name=template, parameters=parameters, store_dir=tmp_path
        )
    assert caught.value.error_code == error_code
    assert "RegisterThing" in str(caught.value)
    assert aws_fake.create_calls == 1 and aws_fake.provision_calls == 1
    assert stored_identity(tmp_path) is None


async def test_no_answer_is_a_timeout_error(
    claim_link: PahoLink, aws_fake: FakeAwsIot, tmp_path: Path
) -> None:
    aws_fake.pause()
    try:
        with pytest.raises(ProvisioningError, match="no answer"):
            await provision(
                claim_link,
                template_name=TEMPLATE,
                parameters=PARAMETERS,
                store_dir=tmp_path,
                timeout=0.2,
            )
    finally:
        aws_fake.resume()
    assert stored_identity(tmp_path) is None


def test_broken_stored_identity_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "identity.json").write_text("{not json")
    with pytest.raises(ProvisioningError, match=r"identity\.json"):
        stored_identity(tmp_path)
    (tmp_path / "identity.json").write_text(json.dumps({"thing_name": "gh-x"}))
    with pytest.raises(ProvisioningError, match=r"certificate\.pem\.crt"):
        stored_identity(tmp_path)


async def test_provision_with_a_csr_keeps_the_key_here(
    claim_link: PahoLink,
    aws_fake: FakeAwsIot,
    aws_broker: Mosquitto,
    aws_certs: AwsCerts,
    tmp_path: Path,
) -> None:
    store = tmp_path / "csr-store"
    identity = await provision(
        claim_link, template_name=TEMPLATE, parameters=PARAMETERS, store_dir=store, csr=True
    )
    assert identity.thing_name == PROVISIONED_THING
    assert aws_fake.issued[0].key is None  # AWS never saw (nor sent) a private key
    assert not aws_fake.messages(topic_prefix="$aws/certificates/create/json")
    cert = x509.load_pem_x509_certificate(identity.cert_path.read_bytes())
    key = serialization.load_pem_private_key(identity.key_path.read_bytes(), password=None)
    assert cert.public_key() == key.public_key()
    assert mode(identity.key_path) == 0o600
    async with paho_link(
        aws_broker, aws_certs.root_ca, identity.cert_path, identity.key_path, identity.thing_name
    ) as device:
        assert device.connected.is_set()
