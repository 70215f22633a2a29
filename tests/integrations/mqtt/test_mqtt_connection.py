"""The broker connection: TLS 1.3 with client certificates, birth and will, reconnects,
MQTT 5, and the config flow that checks a connection before making an entry."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_helpers import Peer, entry_data, loaded

from gatehouse.core import STATE_UNAVAILABLE, ConfigEntryState, Host
from gatehouse.core.testing import Mosquitto, add_entry, make_pki, state_of, wait_until
from gatehouse.integrations.mqtt.runtime import MqttRuntime

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def runtime_of(host: Host, entry_id: str) -> MqttRuntime:
    runtime: MqttRuntime = host.config_entries.get(entry_id).runtime_data
    return runtime


async def test_tls13_with_client_certificate(mosquitto_tls: Mosquitto, host: Host) -> None:
    certs = mosquitto_tls.certs
    client = certs.client()
    entry = await add_entry(
        host, "mqtt",
        entry_data(
            mosquitto_tls.tls_port,
            ca_certs=str(certs.ca_cert),
            client_cert=str(client.cert),
            client_key=str(client.key),
            sensor=[{"name": "Secure", "unique_id": "secure", "state_topic": "secure/value"}],
        ),
    )
    assert loaded(entry), entry.reason
    connection = runtime_of(host, entry.entry_id).connection
    assert connection.tls_version() == "TLSv1.3"
    assert connection.settings.tls  # implied by ca_certs
    # Round trip over TLS: our own publish comes back through the subscription.
    await host.services.call("mqtt", "publish", {"topic": "secure/value", "payload": "42"})
    await wait_until(lambda: state_of(host, "sensor.secure") == "42")


async def test_wrong_ca_is_refused_with_a_clear_reason(
    mosquitto_tls: Mosquitto, host: Host, tmp_path: Path
) -> None:
    other = make_pki(tmp_path / "other-pki")  # a CA that did not sign the broker
    entry = await add_entry(
        host, "mqtt",
        entry_data(
            mosquitto_tls.tls_port,
            ca_certs=str(other.ca_cert),
            client_cert=str(other.client().cert),
            client_key=str(other.client().key),
        ),
    )
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "TLS certificate verification" in entry.reason, entry.reason
    assert "failed" in entry.reason and "ca_certs" in entry.reason, entry.reason
    await host.config_entries.unload(entry.entry_id)


async def test_missing_client_certificate_is_refused(
    mosquitto_tls: Mosquitto, host: Host
) -> None:
    entry = await add_entry(
        host, "mqtt",
        entry_data(mosquitto_tls.tls_port, ca_certs=str(mosquitto_tls.certs.ca_cert),
                   connect_timeout=3),
    )
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None and "before CONNACK" in entry.reason, entry.reason
    await host.config_entries.unload(entry.entry_id)


async def test_birth_and_will_are_retained(mosquitto: Mosquitto, peer: Peer, host: Host) -> None:
    entry = await add_entry(host, "mqtt", entry_data(mosquitto.port, client_id="gatehouse-birth"))
    assert loaded(entry), entry.reason
    # A late subscriber sees the retained birth message.
    watcher = Peer(mosquitto.port, "watcher")
    try:
        watcher.subscribe("gatehouse/status", qos=1)
        await wait_until(lambda: watcher.payloads("gatehouse/status") == [b"online"])
        assert watcher.snapshot()[0][3] is True  # retained

        # The connection dies without DISCONNECT: the broker publishes the will.
        connection = runtime_of(host, entry.entry_id).connection
        connection.drop_connection()
        await wait_until(lambda: b"offline" in watcher.payloads("gatehouse/status"))
        # paho reconnects by itself and announces itself again.
        await wait_until(lambda: watcher.payloads("gatehouse/status")[-1:] == [b"online"])
        await wait_until(lambda: connection.connected)
        assert connection.disconnects == 1 and connection.connects == 2

        # A graceful unload says offline too (the broker drops the will on DISCONNECT).
        await host.config_entries.unload(entry.entry_id)
        await wait_until(lambda: watcher.payloads("gatehouse/status")[-1:] == [b"offline"])
    finally:
        watcher.close()
    late = Peer(mosquitto.port, "late")
    try:
        late.subscribe("gatehouse/status", qos=1)
        await wait_until(lambda: late.payloads("gatehouse/status") == [b"offline"])
    finally:
        late.close()


async def test_reconnect_after_broker_restart_restores_subscriptions(
    mosquitto: Mosquitto, peer: Peer, host: Host
) -> None:
    entry = await add_entry(
        host, "mqtt",
        entry_data(
            mosquitto.port,
            sensor=[{"name": "Level", "unique_id": "level", "state_topic": "tank/level"}],
            subscribe=["tank/alarm/#"],
        ),
    )
    assert loaded(entry), entry.reason
    events: list[bytes] = []
    host.bus.listen("mqtt_message", lambda event: events.append(event.data["payload"]))
    peer.publish("tank/level", "1", qos=1)
    await wait_until(lambda: state_of(host, "sensor.level") == "1")
    connection = runtime_of(host, entry.entry_id).connection

    peer.close()
    await anyio_to_thread(mosquitto.restart)  # clean session: the broker forgot us
    await wait_until(lambda: not connection.connected or connection.connects > 1)
    await wait_until(lambda: connection.connected and connection.connects == 2, timeout=15)
    # While the broker was away the entity was unavailable; it is back now.
    assert state_of(host, "sensor.level") != STATE_UNAVAILABLE

    again = Peer(mosquitto.port, "test-peer-2")
    try:
        await wait_until(lambda: _publish_and_check(again, host))
        again.publish("tank/alarm/high", "!", qos=1)
        await wait_until(lambda: events == [b"!"])
    finally:
        again.close()


def _publish_and_check(peer: Peer, host: Host) -> bool:
    """Publish until the entity sees it (the SUBSCRIBE may still be on its way)."""
    if state_of(host, "sensor.level") == "2":
        return True
    peer.publish("tank/level", "2", qos=1)
    return False


async def anyio_to_thread(func: object) -> None:
    import anyio.to_thread

    await anyio.to_thread.run_sync(func)  # type: ignore[arg-type]


async def test_mqtt5_entity_and_durable_publish(
    mosquitto: Mosquitto, peer: Peer, host: Host
) -> None:
    peer.subscribe("v5/out", qos=1)
    entry = await add_entry(
        host, "mqtt",
        entry_data(
            mosquitto.port,
            protocol=5,
            clean_start=False,
            client_id="gatehouse-v5",
            sensor=[{"name": "Five", "unique_id": "five", "state_topic": "v5/in"}],
        ),
    )
    assert loaded(entry), entry.reason
    assert runtime_of(host, entry.entry_id).connection.settings.protocol == "5"
    peer.publish("v5/in", "5", qos=1)
    await wait_until(lambda: state_of(host, "sensor.five") == "5")
    for n in range(50):
        await host.services.call("mqtt", "publish", {"topic": "v5/out", "payload": str(n),
                                                       "qos": 1})
    await wait_until(lambda: len(peer.payloads("v5/out")) == 50)
    assert peer.payloads("v5/out") == [str(n).encode() for n in range(50)]


async def test_config_flow_checks_the_connection(mosquitto: Mosquitto, host: Host) -> None:
    flow = host.config_entries.flow
    form = await flow.init("mqtt")
    assert form["type"] == "form"
    fields = {f["name"]: f for f in form["data_schema"]}
    assert fields["password"].get("secret") is True
    assert fields["protocol"]["type"] == "select"

    # Nothing listens on the port: the form comes back with an error.
    closed_port = Mosquitto(mosquitto.workdir / "unused").port
    result = await flow.configure(form["flow_id"], {"broker": "127.0.0.1", "port": closed_port})
    assert result["type"] == "form" and result["errors"] == {"base": "cannot_connect"}

    result = await flow.configure(
        form["flow_id"], {"broker": "127.0.0.1", "port": mosquitto.port, "name": "Home"}
    )
    assert result["type"] == "create_entry", result
    entry = host.config_entries.get(result["entry_id"])
    assert entry.title == "Home" and loaded(entry)

    again = await flow.init("mqtt")
    result = await flow.configure(
        again["flow_id"], {"broker": "127.0.0.1", "port": mosquitto.port}
    )
    assert result == {**result, "type": "abort", "reason": "already_configured"}


@pytest.fixture
def password_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker that knows user ``gw`` with password ``s3cret-pass``.

    Anonymous clients stay allowed (the harness's health check is one), but a client
    that names a user must give the right password.
    """
    passwords = tmp_path / "passwd"
    passwords.write_text("")
    subprocess.run(
        ["mosquitto_passwd", "-b", str(passwords), "gw", "s3cret-pass"], check=True,
        capture_output=True,
    )
    passwords.chmod(0o600)
    broker = Mosquitto(
        tmp_path / "auth-broker",
        extra_config=f"password_file {passwords}",
    )
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


async def test_credentials(password_broker: Mosquitto, host: Host) -> None:
    wrong = await add_entry(
        host, "mqtt",
        entry_data(password_broker.port, client_id="wrong", username="gw", password="guessed"),
        title="Wrong",
    )
    # Retrying cannot fix a refused password: setup_error, not setup_retry.
    assert wrong.state is ConfigEntryState.SETUP_ERROR
    assert wrong.reason is not None and "refused the connection" in wrong.reason
    assert "guessed" not in wrong.reason

    right = await add_entry(
        host, "mqtt",
        entry_data(password_broker.port, client_id="right", username="gw",
                   password="s3cret-pass"),
        title="Right",
    )
    assert loaded(right), right.reason


async def test_a_refusal_after_start_up_shows_on_the_link_sensor(
    password_broker: Mosquitto, host: Host, tmp_path: Path
) -> None:
    """The password changes on the broker while we run: the link sensor says why we are
    out (not a stale "connected" reason), and recovers when it is changed back."""
    entry = await add_entry(
        host, "mqtt",
        entry_data(password_broker.port, client_id="gw1", username="gw", password="s3cret-pass"),
        title="Plant",
    )
    assert loaded(entry), entry.reason
    assert state_of(host, "binary_sensor.plant_link") == "on"

    passwords = tmp_path / "passwd"

    def set_password(password: str) -> None:
        subprocess.run(["mosquitto_passwd", "-b", str(passwords), "gw", password], check=True,
                       capture_output=True)

    set_password("rotated")
    password_broker.restart()

    def refused() -> bool:
        link = host.states.get("binary_sensor.plant_link")
        return link is not None and link.state == "off" and "authori" in str(
            link.attributes.get("last_error")).lower()

    await wait_until(refused, 30, "the link sensor naming the refusal")
    assert entry.state is ConfigEntryState.LOADED  # still loaded: the outbox keeps queuing

    set_password("s3cret-pass")
    password_broker.restart()
    await wait_until(lambda: state_of(host, "binary_sensor.plant_link") == "on", 30)
    link = host.states.get("binary_sensor.plant_link")
    assert link is not None and link.attributes.get("last_error") is None
