"""Bad configuration is named at check-config / config-flow time (config.py, certs.py,
flow.py): QoS 2, missing files, a key that is not the certificate's, an expired or
not-yet-valid certificate, an unreachable endpoint, a server root_ca does not trust.
The files come from the AWS-shaped test PKI (awstools' ``aws_certs``)."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
from awstools import THING, AwsCerts, aws_entry_data
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.testing import Mosquitto, add_entry, free_port, make_host
from gatehouse.integrations.aws_iot.config import CONFIG_SCHEMA, ENTRY_SCHEMA

pytestmark = pytest.mark.anyio
pytest_plugins = ["awstools"]

PACKAGES = {"aws_iot": "gatehouse.integrations.aws_iot"}


def base(aws_certs: AwsCerts, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "endpoint": "localhost",
        "thing_name": THING,
        "root_ca": str(aws_certs.root_ca),
        "certificate": str(aws_certs.certificate),
        "private_key": str(aws_certs.private_key),
    }
    data.update(overrides)
    return data


def refusal(data: dict[str, Any]) -> str:
    with pytest.raises(vol.Invalid) as caught:
        CONFIG_SCHEMA(data)
    return str(caught.value)


def future_cert(aws_certs: AwsCerts, directory: Path) -> tuple[Path, Path]:
    """A client certificate from the test CA that becomes valid tomorrow."""
    pki = aws_certs.pki
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gh-future")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "future.cert.pem", directory / "future.private.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_good_files_pass_and_defaults_fill_in(aws_certs: AwsCerts) -> None:
    config = CONFIG_SCHEMA(base(aws_certs))
    assert config["port"] == 8883 and config["qos"] == 1
    assert config["max_publish_rate"] == 100.0
    assert config["telemetry"]["topic"] == "gatehouse/{thing}/{domain}/{object_id}"


def test_qos_2_is_refused_with_a_clear_error(aws_certs: AwsCerts) -> None:
    text = refusal(base(aws_certs, qos=2))
    assert "qos 2 is not supported by AWS IoT Core" in text and "qos" in text
    assert ENTRY_SCHEMA(base(aws_certs, qos=0))["qos"] == 0


@pytest.mark.parametrize("field", ["root_ca", "certificate", "private_key"])
def test_a_missing_file_is_named(aws_certs: AwsCerts, tmp_path: Path, field: str) -> None:
    missing = tmp_path / f"no-{field}.pem"
    text = refusal(base(aws_certs, **{field: str(missing)}))
    assert f"{field}: file {missing} does not exist" in text


def test_a_key_that_is_not_the_certificates_is_named(aws_certs: AwsCerts) -> None:
    text = refusal(base(aws_certs, private_key=str(aws_certs.mismatched_private_key)))
    assert f"private_key: {aws_certs.mismatched_private_key} is not the private key of " \
        f"certificate {aws_certs.certificate}" in text


def test_an_expired_certificate_is_named(aws_certs: AwsCerts) -> None:
    text = refusal(base(aws_certs, certificate=str(aws_certs.expired_certificate),
                        private_key=str(aws_certs.expired_private_key)))
    assert f"certificate: {aws_certs.expired_certificate} expired on" in text


def test_a_certificate_not_valid_yet_is_named(aws_certs: AwsCerts, tmp_path: Path) -> None:
    cert, key = future_cert(aws_certs, tmp_path)
    text = refusal(base(aws_certs, certificate=str(cert), private_key=str(key)))
    assert f"certificate: {cert} is not valid yet" in text


def test_a_file_that_is_not_pem_is_named_without_its_contents(
    aws_certs: AwsCerts, tmp_path: Path
) -> None:
    garbage = tmp_path / "key.pem"
    garbage.write_text(
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXNlY3JldA==\n-----END PRIVATE KEY-----\n"
    )
    text = refusal(base(aws_certs, private_key=str(garbage)))
    assert f"private_key: {garbage} is not an unencrypted PEM private key" in text
    assert "c2VjcmV0" not in text


def test_the_claim_pair_is_checked_too(aws_certs: AwsCerts) -> None:
    data = aws_entry_data_like(aws_certs)
    assert CONFIG_SCHEMA(data)["provisioning"]["template_name"] == "gh-fleet"
    data["provisioning"]["claim_private_key"] = str(aws_certs.mismatched_private_key)
    assert "provisioning.claim_private_key" in refusal(data)


def aws_entry_data_like(aws_certs: AwsCerts) -> dict[str, Any]:
    data = base(aws_certs)
    del data["certificate"], data["private_key"]
    data["provisioning"] = {
        "claim_certificate": str(aws_certs.claim_certificate),
        "claim_private_key": str(aws_certs.claim_private_key),
        "template_name": "gh-fleet",
        "parameters": {"SerialNumber": "SN-0001"},
    }
    return data


def test_without_certificate_or_provisioning_the_certificate_is_asked_for(
    aws_certs: AwsCerts,
) -> None:
    data = base(aws_certs)
    del data["certificate"], data["private_key"]
    assert "certificate and private_key are required" in refusal(data)
    only_cert = base(aws_certs)
    del only_cert["private_key"]
    assert "private_key is required" in refusal(only_cert)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("a/b/c/d/e/f/g/h/{object_id}", "at most 7 '/'"),
        ("$aws/{thing}/x", "no '$' start"),
        ("dt/+/{object_id}", "no wildcards"),
        ("dt/{nope}", "fields: thing, domain, object_id"),
    ],
)
def test_topic_templates_aws_would_refuse_are_refused_here(
    aws_certs: AwsCerts, template: str, problem: str
) -> None:
    assert problem in refusal(base(aws_certs, telemetry={"topic": template}))


@pytest.mark.parametrize(
    "endpoint", ["https://abc-ats.iot.eu-west-1.amazonaws.com", "abc-ats.iot:8883", "a/b"]
)
def test_an_endpoint_with_a_scheme_port_or_path_is_named(
    aws_certs: AwsCerts, endpoint: str
) -> None:
    assert "the host name only" in refusal(base(aws_certs, endpoint=endpoint))


def test_a_list_of_entries_in_yaml(aws_certs: AwsCerts) -> None:
    assert len(CONFIG_SCHEMA([base(aws_certs), base(aws_certs, name="Second")])) == 2


# -- the config flow and set-up ---------------------------------------------------------


@pytest.fixture
async def aws_host(config_dir: Path, aws_broker: Mosquitto) -> AsyncIterator[Host]:
    """A host that stops before the broker does (set up after it)."""
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        yield host


def form(aws_broker: Mosquitto, aws_certs: AwsCerts, **overrides: Any) -> dict[str, Any]:
    return base(aws_certs, **{"port": aws_broker.tls_port, **overrides})


async def test_config_flow_names_the_field(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts
) -> None:
    flow = aws_host.config_entries.flow
    started = await flow.init("aws_iot")
    flow_id = started["flow_id"]

    qos2 = await flow.configure(flow_id, form(aws_broker, aws_certs, qos=2))
    assert "qos 2" in qos2["errors"]["qos"]
    mismatched = await flow.configure(
        flow_id, form(aws_broker, aws_certs, private_key=str(aws_certs.mismatched_private_key))
    )
    assert str(aws_certs.mismatched_private_key) in mismatched["errors"]["private_key"]
    expired = await flow.configure(flow_id, form(
        aws_broker, aws_certs, certificate=str(aws_certs.expired_certificate),
        private_key=str(aws_certs.expired_private_key)))
    assert "expired on" in expired["errors"]["certificate"]
    unreachable = await flow.configure(flow_id, form(aws_broker, aws_certs, port=free_port()))
    assert "cannot reach localhost:" in unreachable["errors"]["endpoint"]
    untrusted = await flow.configure(
        flow_id, form(aws_broker, aws_certs, root_ca=str(aws_certs.other_root_ca))
    )
    assert "not trusted by root_ca" in untrusted["errors"]["endpoint"]

    done = await flow.configure(flow_id, form(aws_broker, aws_certs))
    assert done["type"] == "create_entry", done
    entry = aws_host.config_entries.get(done["entry_id"])
    assert entry.state is ConfigEntryState.LOADED, entry.reason


async def test_set_up_refuses_a_key_that_does_not_match(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts
) -> None:
    data = aws_entry_data(aws_broker, aws_certs,
                          private_key=str(aws_certs.mismatched_private_key))
    entry = await add_entry(aws_host, "aws_iot", data)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None and str(aws_certs.mismatched_private_key) in entry.reason


def test_check_config_of_configuration_yaml_names_the_file(
    config_dir: Path, aws_certs: AwsCerts
) -> None:
    """The YAML path (``gatehouse check-config`` and boot): the issue is on the
    aws_iot section and names the key file that does not belong to the certificate."""
    from gatehouse.core.bootstrap import load_configuration

    (config_dir / "configuration.yaml").write_text(
        "aws_iot:\n"
        "  endpoint: localhost\n"
        f"  thing_name: {THING}\n"
        f"  root_ca: {aws_certs.root_ca}\n"
        f"  certificate: {aws_certs.certificate}\n"
        f"  private_key: {aws_certs.mismatched_private_key}\n"
    )
    host = make_host(config_dir, packages=PACKAGES)
    result = load_configuration(config_dir, host.plugins)
    [issue] = result.issues
    assert issue.path[0] == "aws_iot"
    assert f"{aws_certs.mismatched_private_key} is not the private key" in issue.message
    assert "aws_iot" not in result.config
