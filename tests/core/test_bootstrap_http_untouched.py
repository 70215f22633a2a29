"""Another section's problem never takes the web server down (issue 16, "Also").

An unknown domain close to ``http`` (``htps:``) made ``http`` count as an invalid
section ("did you mean 'http'?"), so the host logged "Web server not started: its
http: configuration is invalid" although no http: section existed (and would have
refused to start a configured one had the key been in the same list).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import make_host

pytestmark = pytest.mark.anyio

FALSE_CLAIM = "its http: configuration is invalid"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_unknown_domain_without_http_section_is_not_blamed_on_http(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "configuration.yaml").write_text(
        "gatehouse:\n  control_socket: false\nhtps:\n  x: 1\nfrobnicate:\n  y: 2\n"
    )
    caplog.set_level(logging.INFO)
    host = make_host(tmp_path)
    async with host.running():
        pass
    assert FALSE_CLAIM not in caplog.text
    assert "unknown integration 'frobnicate'" in caplog.text
    assert "there is no http: section (is 'htps:' meant to be http:?)" in caplog.text


async def test_unknown_domains_beside_a_valid_http_section_leave_the_ui_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "configuration.yaml").write_text(
        "gatehouse:\n  control_socket: false\n"
        "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"
        "htps:\n  x: 1\nfrobnicate:\n  y: 2\n"
    )
    host = make_host(tmp_path)
    async with host.running():
        assert host.data.get(HTTP_SERVER) is not None, "the web server did not start"
    assert FALSE_CLAIM not in caplog.text


async def test_an_invalid_http_section_still_stops_the_web_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "configuration.yaml").write_text(
        "gatehouse:\n  control_socket: false\nhttp:\n  server_port: not-a-port\n"
    )
    host = make_host(tmp_path)
    async with host.running():
        assert host.data.get(HTTP_SERVER) is None
    assert FALSE_CLAIM in caplog.text
