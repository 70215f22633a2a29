"""Issue 9, finding 5: DNS rebinding at onboarding; Origins; client addresses via proxies.

The attack: a page on the attacker's name (``evil.example``, rebound to the host's
address) posted to ``/api/onboarding/users`` and became the owner of a fresh host: the
Origin check compared the Origin with the Host header, which that page controls (both
said ``evil.example``). Now an Origin is allowed only if it is a configured one
(``external_url``, ``trusted_origins``) or this server as reached by a name that cannot
be an attacker's (an IP address, ``localhost``, this machine's name, ``allowed_hosts``).
Onboarding is allowed only from local networks, and behind a proxy only through one
listed in ``trusted_proxies`` (``use_x_forwarded_for``), whose X-Forwarded-For then
gives the real client address to onboarding and to the login budget.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import ClientSession, WSServerHandshakeError
from aiohttp.test_utils import TestClient

from gatehouse.core.http.runtime import HttpRuntime
from httpkit import OWNER

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]

LOGIN = {"username": OWNER["username"], "password": OWNER["password"]}
PROXY = {"trusted_proxies": ["127.0.0.1"], "use_x_forwarded_for": True}


def rebound(client: Client, name: str = "evil.example") -> dict[str, str]:
    """What a rebinding page's browser sends: its own name as Host and as Origin."""
    port = client.make_url("/").port
    return {"Host": f"{name}:{port}", "Origin": f"http://{name}:{port}"}


# -- Origin ----------------------------------------------------------------------------


async def test_a_rebinding_page_cannot_onboard(client: Client, runtime: HttpRuntime) -> None:
    response = await client.post("/api/onboarding/users", json=OWNER,
                                 headers=rebound(client))
    assert response.status == 403
    assert "evil.example" in (await response.json())["message"]
    assert not runtime.auth.has_users
    # Even without an Origin (an old browser), the Host names no allowed host.
    bare = await client.post("/api/onboarding/users", json=OWNER,
                             headers={"Host": rebound(client)["Host"]})
    assert bare.status == 403
    assert not runtime.auth.has_users
    # From this server's own address it works.
    assert (await client.post("/api/onboarding/users", json=OWNER)).status == 200


async def test_a_rebinding_page_cannot_use_a_session_or_log_in(
    owner: Client, anon: ClientSession
) -> None:
    evil = rebound(owner)
    made = await owner.post("/api/auth/tokens", json={"name": "x"}, headers=evil)
    assert made.status == 403
    login = await anon.post("/auth/login", json=LOGIN, headers=evil)
    assert login.status == 403
    with pytest.raises(WSServerHandshakeError) as caught:
        await owner.ws_connect("/api/websocket", headers=evil)
    assert caught.value.status == 403


async def test_the_port_is_part_of_the_origin(owner: Client) -> None:
    """Another service on the same address (another port) is another origin."""
    port = owner.make_url("/").port
    other = await owner.post("/api/auth/tokens", json={"name": "x"},
                             headers={"Origin": f"http://127.0.0.1:{port + 1}"})
    assert other.status == 403


@pytest.mark.parametrize("http_config", [{"allowed_hosts": ["Gate.Example"]}])
async def test_allowed_hosts_name_this_server(owner: Client, http_config: Any) -> None:
    ok = await owner.post("/api/auth/tokens", json={"name": "x"},
                          headers=rebound(owner, "gate.example"))
    assert ok.status == 201
    still = await owner.post("/api/auth/tokens", json={"name": "y"}, headers=rebound(owner))
    assert still.status == 403


@pytest.mark.parametrize("http_config", [{"external_url": "https://gate.example/ui"}])
async def test_external_url_is_an_allowed_origin(owner: Client, http_config: Any) -> None:
    """Behind a TLS proxy the browser's Origin is the external URL, whatever Host says."""
    ok = await owner.post("/api/auth/tokens", json={"name": "x"},
                          headers={"Origin": "https://gate.example"})
    assert ok.status == 201
    plain = await owner.post("/api/auth/tokens", json={"name": "y"},
                             headers={"Origin": "http://gate.example"})
    assert plain.status == 403


async def test_machine_name_and_localhost_are_allowed(owner: Client,
                                                      runtime: HttpRuntime) -> None:
    for name in ("localhost", *sorted(runtime.allowed_hosts)):
        response = await owner.post("/api/auth/tokens", json={"name": name},
                                    headers=rebound(owner, name))
        assert response.status == 201, name


# -- onboarding from where -------------------------------------------------------------


@pytest.mark.parametrize("http_config", [PROXY])
async def test_onboarding_from_a_distant_network_is_refused(
    client: Client, runtime: HttpRuntime, http_config: Any
) -> None:
    far = await client.post("/api/onboarding/users", json=OWNER,
                            headers={"X-Forwarded-For": "203.0.113.9"})
    assert far.status == 403
    assert "local network" in (await far.json())["message"]
    assert not runtime.auth.has_users
    near = await client.post("/api/onboarding/users", json=OWNER,
                             headers={"X-Forwarded-For": "203.0.113.9, 192.168.1.20"})
    assert near.status == 200


@pytest.mark.parametrize("http_config", [{**PROXY, "onboarding_networks": ["10.8.0.0/24"]}])
async def test_onboarding_networks_are_configurable(
    client: Client, http_config: Any
) -> None:
    lan = await client.post("/api/onboarding/users", json=OWNER,
                            headers={"X-Forwarded-For": "192.168.1.20"})
    assert lan.status == 403
    vpn = await client.post("/api/onboarding/users", json=OWNER,
                            headers={"X-Forwarded-For": "10.8.0.7"})
    assert vpn.status == 200


async def test_a_proxy_that_is_not_trusted_cannot_onboard_and_is_logged_once(
    client: Client, runtime: HttpRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    """Behind an unlisted proxy the real client is unknown: no onboarding through it."""
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        refused = await client.post("/api/onboarding/users", json=OWNER,
                                    headers={"X-Forwarded-For": "192.168.1.20"})
        assert refused.status == 403
        assert "trusted_proxies" in (await refused.json())["message"]
    assert not runtime.auth.has_users
    warnings = [r for r in caplog.records if "X-Forwarded-For" in r.getMessage()]
    assert len(warnings) == 1, warnings


# -- the real client address behind a proxy -------------------------------------------


@pytest.mark.parametrize("http_config", [PROXY])
async def test_the_login_budget_counts_the_client_behind_a_trusted_proxy(
    anon: ClientSession, runtime: HttpRuntime, http_config: Any
) -> None:
    wrong = {"username": "nobody", "password": "wrong password"}
    first = {"X-Forwarded-For": "198.51.100.1"}
    statuses = [(await anon.post("/auth/login", json=wrong, headers=first)).status
                for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    # Another client behind the same proxy has its own budget (for another user name).
    other = {"X-Forwarded-For": "198.51.100.2"}
    response = await anon.post("/auth/login", json={**wrong, "username": "else"},
                               headers=other)
    assert response.status == 401
    assert runtime.limiter.used("addr:198.51.100.1") == 5
    assert runtime.limiter.used("addr:127.0.0.1") == 0


@pytest.mark.parametrize("http_config", [PROXY])
async def test_the_user_budget_holds_across_addresses(
    anon: ClientSession, http_config: Any
) -> None:
    statuses = [
        (await anon.post("/auth/login", json={**LOGIN, "password": "wrong password"},
                         headers={"X-Forwarded-For": f"198.51.100.{i}"})).status
        for i in range(1, 8)
    ]
    assert statuses == [401, 401, 401, 401, 429, 429, 429]
    right = await anon.post("/auth/login", json=LOGIN,
                            headers={"X-Forwarded-For": "198.51.100.99"})
    assert right.status == 429


@pytest.mark.parametrize("http_config", [PROXY])
async def test_a_forged_forwarded_for_is_refused(anon: ClientSession, http_config: Any
                                                 ) -> None:
    response = await anon.get("/api/health", headers={"X-Forwarded-For": "not an address"})
    assert response.status == 400


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    anon: ClientSession, runtime: HttpRuntime
) -> None:
    wrong = {"username": "nobody", "password": "wrong password"}
    await anon.post("/auth/login", json=wrong, headers={"X-Forwarded-For": "198.51.100.1"})
    assert runtime.limiter.used("addr:127.0.0.1") == 1
    assert runtime.limiter.used("addr:198.51.100.1") == 0
