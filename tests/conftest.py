"""The suite's fixtures come from the test kit that ships for plugin authors.

``gatehouse.core.testing.plugin`` gives a fresh running host per test (``host``), its
config dir (``config_dir``, ``write_config``) and real peers (``mosquitto``,
``mosquitto_tls``, ``nats_server``, ``nats_cluster``, ``pki``): the suite uses exactly
what a third-party author gets.
"""

pytest_plugins = ["gatehouse.core.testing.plugin"]
