"""Child process for the proxy kill -9 test: a real host running schema_guard's proxy.

``python sg_proxy_child.py CONFIG_DIR``: starts the host from the config dir, prints
``READY`` once the proxy's ingress subscription is acknowledged, then ``STATS <json>``
(the proxy's diagnostics) every 50 ms until killed.
"""

from __future__ import annotations

import json
import sys

import anyio

from gatehouse.core.testing import make_host, wait_until
from gatehouse.integrations.schema_guard.services import LOADED


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(config_dir: str) -> None:
    host = make_host(config_dir)
    async with host.running():
        (runtime,) = LOADED.runtimes(host).values()
        proxy = runtime.proxy
        assert proxy is not None
        await wait_until(lambda: proxy.subscribed, timeout=20)
        say("READY")
        while True:
            say("STATS " + json.dumps(proxy.diagnostics()))
            await anyio.sleep(0.05)  # a report rate, not a synchronisation


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
