"""The ``proxy:`` block: defaults, the loop check of prefix mode, topic rewrite; and the
quarantine file of phase 1 (schema v1) gaining the ``transport`` column."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

from gatehouse.integrations.schema_guard.config import ENTRY_SCHEMA, PROXY_SCHEMA
from gatehouse.integrations.schema_guard.proxy import Rewrite
from gatehouse.integrations.schema_guard.store import (
    SCHEMA_VERSION,
    Filters,
    QuarantineStore,
    make_entry,
)
from gatehouse.integrations.schema_guard.violation import Violation

INGRESS: dict[str, Any] = {"broker": "in.local", "port": 1883, "username": "u",
                           "password": "p", "topics": ["plant/#"]}


def test_egress_defaults_to_the_ingress_broker_with_its_credentials() -> None:
    proxy = PROXY_SCHEMA({"ingress": INGRESS, "rewrite": [{"from": "plant/", "to": "ok/"}]})
    assert proxy["egress"]["broker"] == "in.local" and proxy["egress"]["password"] == "p"
    assert "client_id" not in proxy["egress"]
    assert proxy["ingress"]["qos"] == 2 and proxy["ingress"]["receive_maximum"] == 1000


def test_prefix_mode_needs_a_rewrite_that_leaves_the_ingress_filters() -> None:
    with pytest.raises(vol.Invalid, match="rewrite is required"):
        PROXY_SCHEMA({"ingress": INGRESS})
    with pytest.raises(vol.Invalid, match="read its own output"):
        PROXY_SCHEMA({"ingress": INGRESS, "rewrite": [{"from": "plant/", "to": "plant/ok/"}]})
    # another broker: no loop possible, no rewrite needed
    proxy = PROXY_SCHEMA({"ingress": INGRESS, "egress": {"broker": "out.local"}})
    assert proxy["rewrite"] == [] and proxy["egress"]["max_inflight"] == 1000


@pytest.mark.parametrize("bad", [
    {"ingress": {**INGRESS, "topics": ["a/#/b"]}},
    {"ingress": {**INGRESS, "topics": []}},
    {"ingress": {**INGRESS, "qos": 3}},
    {"ingress": INGRESS, "egress": {"broker": "x"}, "rewrite": [{"from": "a/+", "to": "b/"}]},
])
def test_bad_proxy_blocks_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(vol.Invalid):
        PROXY_SCHEMA(bad)


def test_the_entry_schema_takes_the_block() -> None:
    config = ENTRY_SCHEMA({"proxy": {"ingress": INGRESS, "egress": {"broker": "o"}}})
    assert config["proxy"]["ingress"]["topics"] == ["plant/#"]


def test_rewrite_first_matching_prefix_wins() -> None:
    rewrite = Rewrite([("plant/a/", "x/"), ("plant/", "clean/")])
    assert rewrite("plant/a/reading") == "x/reading"
    assert rewrite("plant/b/reading") == "clean/b/reading"
    assert rewrite("other/topic") == "other/topic"


def test_a_phase_one_quarantine_gains_the_transport_column(tmp_path: Path) -> None:
    path = tmp_path / "quarantine.db"
    now = time.time()  # within retention
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, received REAL NOT NULL,
          topic TEXT NOT NULL, rule TEXT, schema TEXT, version INTEGER, source TEXT,
          action TEXT NOT NULL, size INTEGER NOT NULL, stored INTEGER NOT NULL,
          sha256 TEXT NOT NULL, payload BLOB, file TEXT, note TEXT, replayed REAL);
        INSERT INTO messages (received, topic, action, size, stored, sha256, payload)
          VALUES (?, 'old/topic', 'quarantine', 2, 2, 'x', X'7b7d');
    """.replace("?", repr(now - 1)) + "PRAGMA user_version=1;")
    conn.close()
    store = QuarantineStore(path)
    store.open()
    try:
        store.insert([make_entry(received=now, topic="new/topic", rule=None, schema=None,
                                 version=None, source=None, action="quarantine",
                                 errors=[Violation("", "json", "bad")], payload=b"{",
                                 stored=b"{", transport="mqtt")])
        rows = store.query(Filters())
        assert [(r["topic"], r["transport"]) for r in rows] == [
            ("old/topic", None), ("new/topic", "mqtt")]
        version = store.conn.execute("PRAGMA user_version").fetchone()[0]
        assert version == SCHEMA_VERSION == 2
    finally:
        store.close()
