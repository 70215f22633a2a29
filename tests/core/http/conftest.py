"""Fixtures for the web server tests: the real application of a running host.

``app`` is what the server runs (``create_app``), driven through aiohttp's test client
on a loopback port; ``owner`` is a client logged in as the owner (session cookie),
``token`` a long-lived access token of that owner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer

from gatehouse.core import Host
from gatehouse.core.http.app import create_app
from gatehouse.core.http.runtime import RUNTIME_KEY, HttpRuntime
from gatehouse.core.testing import make_host
from httpkit import CONFIG, OWNER


@pytest.fixture
async def host(config_dir: Path) -> AsyncIterator[Host]:
    """A running host with the demo and echo integrations set up."""
    (config_dir / "configuration.yaml").write_text(CONFIG, encoding="utf-8")
    h = make_host(config_dir)
    async with h.running():
        yield h


@pytest.fixture
def http_config() -> dict[str, Any]:
    """The ``http:`` section the app is built with (override in a test module)."""
    return {}


@pytest.fixture
async def app(host: Host, http_config: dict[str, Any]) -> web.Application:
    return await create_app(host, http_config)


@pytest.fixture
def runtime(app: web.Application) -> HttpRuntime:
    return app[RUNTIME_KEY]


@pytest.fixture
async def client(app: web.Application) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def origin_of(client: TestClient[Any, Any]) -> str:
    """The Origin a browser would send for pages of this server."""
    return str(client.make_url("/")).rstrip("/")


@pytest.fixture
def origin(client: TestClient[Any, Any]) -> dict[str, str]:
    """Headers with this server's Origin, as a browser adds them to a POST."""
    return {"Origin": origin_of(client)}


@pytest.fixture
async def owner(client: TestClient[Any, Any]) -> TestClient[Any, Any]:
    """The client, logged in as the owner created by onboarding."""
    response = await client.post("/api/onboarding/users", json=OWNER)
    assert response.status == 200, await response.text()
    return client


@pytest.fixture
async def token(owner: TestClient[Any, Any], origin: dict[str, str]) -> str:
    response = await owner.post("/api/auth/tokens", json={"name": "tests"}, headers=origin)
    assert response.status == 201, await response.text()
    value: str = (await response.json())["token"]
    return value


@pytest.fixture
def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def anon(owner: TestClient[Any, Any]) -> AsyncIterator[ClientSession]:
    """A session without cookies on the same server (the owner exists already)."""
    async with ClientSession(
        base_url=str(owner.make_url("/")), cookie_jar=DummyCookieJar()
    ) as session:
        yield session
