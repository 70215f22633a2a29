"""``LoadedEntries.pick_entry_id``: the one rule by which a domain service with no entity
to aim at names its entry (issue 14, point 5).

Real demo entries on a running host, the rule called as the services call it: an id, a
title in any case or its slug; left out, the only entry (several: refused naming them);
a title two entries share, or a name nobody has: refused listing the choices; ``among``
narrows the choice; ``entry`` is the deprecated spelling, warned about once per host and
service. What reaches a real peer is tested per integration (mqtt, nats, influxdb,
aws_iot ``test_*services*``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from gatehouse.core import Context, Host, ServiceCall, ServiceValidationError
from gatehouse.core.testing import add_entry
from gatehouse.integrations.demo.services import LOADED

pytestmark = pytest.mark.anyio


def call(data: Mapping[str, Any], service: str = "write") -> ServiceCall:
    return ServiceCall("demo", service, dict(data), Context())


async def _demo(host: Host, name: str, title: str | None = None) -> str:
    entry = await add_entry(host, "demo", {"name": name, "update_interval": 60},
                            title=title or name, unique_id=name.lower())
    assert str(entry.state) == "loaded", entry.reason
    return entry.entry_id


async def test_one_entry_is_meant_when_none_is_named(host: Host) -> None:
    kitchen = await _demo(host, "Kitchen")
    assert LOADED.pick_entry_id(host, call({})) == kitchen
    assert LOADED.pick_entry_id(host, call({"entry_id": ""})) == kitchen  # an empty template
    assert LOADED.pick_entry(host, call({})) is LOADED.runtimes(host)[kitchen]


async def test_two_entries_by_id_title_slug_and_refusals(host: Host) -> None:
    kitchen = await _demo(host, "Kitchen")
    plant = await _demo(host, "Plant 1")
    pick = LOADED.pick_entry_id
    assert pick(host, call({"entry_id": plant})) == plant
    assert pick(host, call({"entry_id": "  kitchen "})) == kitchen
    assert pick(host, call({"entry_id": "PLANT 1"})) == plant
    assert pick(host, call({"entry_id": "plant_1"})) == plant  # what `entry` took before
    listed = f"'Kitchen' ({kitchen}), 'Plant 1' ({plant})"
    with pytest.raises(ServiceValidationError) as left_out:
        pick(host, call({}))
    assert str(left_out.value).endswith(
        "several demo entries are loaded; pass entry_id (an entry id or title) with one of: "
        + listed)
    with pytest.raises(ServiceValidationError) as unknown:
        pick(host, call({"entry_id": "Garage"}))
    assert str(unknown.value).endswith(
        "no loaded demo entry has the id or title 'Garage'; choose one of: " + listed)


async def test_a_shared_title_is_refused_listing_both_ids(host: Host) -> None:
    first = await _demo(host, "North", title="Pump")
    second = await _demo(host, "South", title="pump")
    with pytest.raises(ServiceValidationError, match="2 demo entries are titled 'PUMP'") as err:
        LOADED.pick_entry_id(host, call({"entry_id": "PUMP"}))
    assert first in str(err.value) and second in str(err.value)
    assert LOADED.pick_entry_id(host, call({"entry_id": second})) == second


async def test_among_narrows_the_choice(host: Host) -> None:
    kitchen = await _demo(host, "Kitchen")
    garage = await _demo(host, "Garage")
    among = {garage}
    what = " with a provisioning: block"
    assert LOADED.pick_entry_id(host, call({}), among=among, among_what=what) == garage
    with pytest.raises(ServiceValidationError,
                       match=f"demo entry 'Kitchen' is not one with a provisioning: block; "
                             f"choose one of: 'Garage' \\({garage}\\)"):
        LOADED.pick_entry_id(host, call({"entry_id": kitchen}), among=among, among_what=what)
    with pytest.raises(ServiceValidationError,
                       match="no demo entry with a provisioning: block is loaded"):
        LOADED.pick_entry_id(host, call({}), among=set(), among_what=what)


async def test_the_deprecated_entry_alias_works_and_warns_once(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    kitchen = await _demo(host, "Kitchen")
    garage = await _demo(host, "Garage")
    caplog.set_level(logging.WARNING, logger="gatehouse.core.loaded_entries")
    assert LOADED.pick_entry_id(host, call({"entry": "garage"})) == garage
    assert LOADED.pick_entry_id(host, call({"entry": kitchen})) == kitchen
    assert LOADED.pick_entry_id(host, call({"entry": "Garage", "entry_id": "Garage"})) == garage
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == ["demo.write: the 'entry' field is deprecated; use 'entry_id' "
                        "(an entry id or title) instead"]
    LOADED.pick_entry_id(host, call({"entry": "garage"}, service="publish"))
    assert len(caplog.records) == 2  # once per service
    with pytest.raises(ServiceValidationError, match="entry_id 'Kitchen' and entry 'Garage' "
                       "disagree; pass entry_id only"):
        LOADED.pick_entry_id(host, call({"entry": "Garage", "entry_id": "Kitchen"}))


async def test_pick_takes_titles_too(host: Host) -> None:
    """``pick`` (services that also take a target: opcua's entry_id, modbus' hub) reads a
    title as ``pick_entry`` does, after ids and its own ``matches``."""
    kitchen = await _demo(host, "Kitchen")
    plant = await _demo(host, "Plant 1")
    runtimes = LOADED.runtimes(host)
    assert LOADED.pick(host, call({}), "KITCHEN") is runtimes[kitchen]
    assert LOADED.pick(host, call({}), plant) is runtimes[plant]
    with pytest.raises(ServiceValidationError) as unknown:
        LOADED.pick(host, call({}), "Garage")
    assert str(unknown.value).endswith(
        f"no loaded demo entry has the id or title 'Garage'; choose one of: "
        f"'Kitchen' ({kitchen}), "
        f"'Plant 1' ({plant})")
    with pytest.raises(ServiceValidationError, match="several demo entries are loaded; "
                       r"pass entry_id \(an entry id or title\) with one of: "
                       rf"'Kitchen' \({kitchen}\)"):
        LOADED.pick(host, call({}), None)
