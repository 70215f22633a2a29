"""A nats-server that requires TLS with client certificates and a user/password.

Built on the harness's ``NatsNode`` (same binary, process handling and health check
through the monitoring port, which stays plain HTTP); only the config gains the
``authorization`` and ``tls`` blocks.
"""

from __future__ import annotations

import json
from pathlib import Path

from gatehouse.core.testing import LOOPBACK, Pki, free_ports
from gatehouse.core.testing.nats import NatsNode, NodePorts

USER = "gatehouse"
PASSWORD = "s3cret-pass"


class SecuredNats(NatsNode):
    def __init__(self, workdir: Path, pki: Pki) -> None:
        self._pki = pki
        client, monitor = free_ports(2)
        super().__init__(workdir, "secured", NodePorts(client=client, monitor=monitor))

    @property
    def tls_url(self) -> str:
        return f"tls://{LOOPBACK}:{self.ports.client}"

    def _render_config(self, routes: list[int]) -> str:
        q = json.dumps
        pki = self._pki
        return super()._render_config(routes) + "\n".join(
            [
                f"authorization {{ user: {q(USER)}, password: {q(PASSWORD)} }}",
                "tls {",
                f"  cert_file: {q(str(pki.server_cert))}",
                f"  key_file: {q(str(pki.server_key))}",
                f"  ca_file: {q(str(pki.ca_cert))}",
                "  verify: true",
                "  timeout: 2",
                "}",
                "",
            ]
        )
