"""An invalid ``gatehouse:`` section must not switch tag encryption off (fail closed).

Regression: the config loader drops a whole section that does not validate, so a typo
anywhere in ``gatehouse:`` (or in ``encryption:`` itself) left the host running with
no sensitive entity: values meant to be encrypted went to the outbox and the wire in
clear. Now a valid ``encryption:`` block keeps working beside another key's mistake,
and an invalid one makes every entity sensitive (published as envelopes) until fixed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gatehouse.core.crypto import tag_cipher
from gatehouse.core.testing import make_host

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

GOOD_BLOCK = """\
  encryption:
    sensitive:
      include:
        entities: [sensor.recipe]
"""


async def test_a_mistake_elsewhere_in_the_core_section_keeps_encryption(
    config_dir: Path,
) -> None:
    (config_dir / "configuration.yaml").write_text(
        "gatehouse:\n  control_socket: false\n  stop_timeout: soon\n" + GOOD_BLOCK
    )
    host = make_host(config_dir)
    async with host.running():
        cipher = tag_cipher(host)
        assert cipher is not None
        assert cipher.is_sensitive("sensor.recipe")
        assert not cipher.is_sensitive("sensor.tank_level")


async def test_an_invalid_encryption_block_makes_everything_sensitive(
    config_dir: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    (config_dir / "configuration.yaml").write_text(
        "gatehouse:\n  control_socket: false\n  encryption:\n    sensitive:\n"
        "      include:\n        entites: [sensor.recipe]\n    publish: false\n"
    )
    host = make_host(config_dir)
    with caplog.at_level(logging.ERROR):
        async with host.running():
            cipher = tag_cipher(host)
            assert cipher is not None
            assert cipher.is_sensitive("sensor.recipe")
            assert cipher.is_sensitive("sensor.anything_else")
            assert cipher.publish  # unknown intent: nothing leaves in clear
    assert any("encryption" in r.getMessage() and "every entity" in r.getMessage()
               for r in caplog.records)
