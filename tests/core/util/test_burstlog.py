"""A burst of the same trouble is logged twice, however long it lasts."""

from __future__ import annotations

import logging

import pytest

from gatehouse.core.helpers import BurstLog

LOGGER = logging.getLogger("test.burstlog")


def test_first_hit_and_the_calm_are_logged_the_rest_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = BurstLog(LOGGER, "%(name)s: bad payload on %(topic)s", "%(name)s: fine after %(count)d",
                   name="sensor.x")
    with caplog.at_level(logging.INFO, logger="test.burstlog"):
        assert bad.hit(topic="t/1") is True
        for _ in range(999):
            assert bad.hit(topic="t/2") is False
        bad.calm()
        bad.calm()  # nothing to end: silent
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert messages == [
        ("WARNING", "sensor.x: bad payload on t/1"),
        ("INFO", "sensor.x: fine after 1000"),
    ]
    assert bad.total == 1000 and bad.burst == 0


def test_counts_batches_and_a_new_burst_logs_again(caplog: pytest.LogCaptureFixture) -> None:
    full = BurstLog(LOGGER, "%(d)s full", "%(d)s room; %(count)d dropped", d="q",
                    end_level=logging.WARNING)
    with caplog.at_level(logging.INFO, logger="test.burstlog"):
        full.hit(5)
        full.hit(7)
        full.calm()
        full.hit(1)
    assert [r.getMessage() for r in caplog.records] == ["q full", "q room; 12 dropped", "q full"]
    assert full.total == 13 and full.burst == 1


def test_fields_can_change_after_creation(caplog: pytest.LogCaptureFixture) -> None:
    bad = BurstLog(LOGGER, "%(name)s bad", "%(name)s ok", name="unnamed")
    bad.fields["name"] = "sensor.renamed"
    with caplog.at_level(logging.INFO, logger="test.burstlog"):
        bad.hit()
    assert caplog.records[0].getMessage() == "sensor.renamed bad"
