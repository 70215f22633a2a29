"""Secrets never reach the logs: the redactor masks them in messages and tracebacks."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from gatehouse.core.logging_setup import MASK, SecretRedactor
from gatehouse.core.testing import make_host

pytestmark = pytest.mark.anyio


def _logger_with(redactor: SecretRedactor) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redactor)
    logger = logging.getLogger(f"test.redact.{id(redactor)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_secret_masked_in_message_args_and_traceback() -> None:
    redactor = SecretRedactor()
    redactor.add(["hunter2-password", "x"])  # too-short values are ignored
    logger, stream = _logger_with(redactor)
    logger.info("connecting with %s", {"password": "hunter2-password"})
    try:
        raise ValueError("bad credentials hunter2-password")
    except ValueError:
        logger.exception("failed")
    text = stream.getvalue()
    assert "hunter2-password" not in text
    assert text.count(MASK) >= 2
    assert "ValueError" in text
    logger.info("x marks the spot")
    assert "x marks the spot" in stream.getvalue()


async def test_host_registers_yaml_secrets_with_the_redactor(config_dir: Path) -> None:
    from gatehouse.core.logging_setup import REDACTOR

    (config_dir / "secrets.yaml").write_text("demo_name: TopSecretName42\n")
    (config_dir / "configuration.yaml").write_text("demo:\n  name: !secret demo_name\n")
    host = make_host(config_dir)
    async with host.running():
        logger, stream = _logger_with(REDACTOR)
        logger.warning("entry title is %s", "TopSecretName42")
    assert "TopSecretName42" not in stream.getvalue()
    assert MASK in stream.getvalue()


async def test_entry_secrets_marked_by_schema_are_redacted(config_dir: Path) -> None:
    from gatehouse.core import ConfigEntry
    from gatehouse.core.logging_setup import REDACTOR

    host = make_host(config_dir)
    async with host.running():
        entry = ConfigEntry(
            domain="demo", title="D",
            data={"name": "D", "nkey_seed": "SUAXXSEEDVALUE", "nested": [{"password": "pw-1234"}]},
        )
        await host.config_entries.add(entry)
        logger, stream = _logger_with(REDACTOR)
        logger.warning("seed %s and %s", "SUAXXSEEDVALUE", "pw-1234")
    text = stream.getvalue()
    assert "SUAXXSEEDVALUE" not in text and "pw-1234" not in text
