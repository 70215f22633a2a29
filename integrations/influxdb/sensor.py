"""Query sensors: a value read from InfluxDB at an interval, as Home Assistant has them.

A sensor runs its ``query`` every ``scan_interval`` seconds: InfluxQL on 1.x (its
``database``, else the entry's), Flux on 2.x, or SQL on 3.x (``language: sql``; its
``bucket``, else the entry's, is the database). Instead of a whole query, the InfluxQL
parts Home Assistant users know may be given (``measurement``, ``field``, ``where``,
``group_function``): they make ``SELECT <group_function>("<field>") AS value FROM
"<measurement>" WHERE <where>``. The value is the last row's value (InfluxQL: the first
column after ``time``; Flux: ``_value``), passed through ``value_template`` (``value``
is the raw value) when there is one.

A failed query (an error answer, no answer, a template error) makes the sensor
unavailable and logs one line per burst of failures (``BurstLog``), not one per
interval; the first good answer makes it available again and logs that it recovered.
An empty answer is an unknown value, not an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import anyio

from gatehouse.core import DeviceInfo, SensorEntity
from gatehouse.core.helpers import BurstLog, TemplateEngine, TemplateError, slugify

from .client import InfluxClient
from .const import CONF_BUCKET, CONF_DATABASE
from .errors import InfluxQueryError

_LOGGER = logging.getLogger(__name__)

#: The longest state the core takes (its ``MAX_STATE_LENGTH``).
MAX_STATE_CHARS = 255


def _quote_identifier(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def query_text(item: Mapping[str, Any]) -> str:
    """The sensor's query: its own, or one made from Home Assistant's parts."""
    if "query" in item:
        return str(item["query"])
    where = f" WHERE {item['where']}" if item.get("where") else ""
    return (
        f"SELECT {item['group_function']}({_quote_identifier(item['field'])}) AS value "
        f"FROM {_quote_identifier(item['measurement'])}{where}"
    )


class QuerySensor(SensorEntity):
    """A sensor whose value is a query's answer."""

    _attr_icon = "mdi:database-search"

    def __init__(
        self,
        key: str,
        item: Mapping[str, Any],
        client: InfluxClient,
        engine: TemplateEngine,
        device_info: DeviceInfo,
    ) -> None:
        self._attr_unique_id = item.get("unique_id") or f"{key}_query_{slugify(item['name'])}"
        self._attr_name = item["name"]
        self._attr_device_info = device_info
        self._attr_native_unit_of_measurement = item.get("unit_of_measurement")
        self._attr_device_class = item.get("device_class")
        self._attr_state_class = item.get("state_class")
        self.query = query_text(item)
        self.interval = float(item["scan_interval"])
        self._database: str | None = item.get(CONF_DATABASE)
        self._bucket: str | None = item.get(CONF_BUCKET)
        self._language: str | None = item.get("language")
        self._template: str | None = item.get("value_template")
        self._client = client
        self._engine = engine
        self.failures = 0
        self.last_error: str | None = None
        self._errors = BurstLog(
            _LOGGER,
            "InfluxDB query sensor %(name)s unavailable: %(reason)s",
            "InfluxDB query sensor %(name)s: answering again after %(count)d failures",
            name=item["name"],
        )

    async def update(self) -> None:
        """Run the query once and write the state (unavailable on failure)."""
        try:
            raw = await self._client.query(
                self.query, database=self._database, bucket=self._bucket,
                language=self._language,
            )
            value = raw
            if self._template is not None and raw is not None:
                value = self._engine.render(
                    self._template, {"value": raw}, name=f"{self._attr_name} value_template"
                )
            if isinstance(value, str) and len(value) > MAX_STATE_CHARS:
                raise InfluxQueryError(
                    f"value of {len(value)} characters; a state holds {MAX_STATE_CHARS} "
                    "(use value_template to pick a part)"
                )
        except (InfluxQueryError, TemplateError) as err:
            self.failures += 1
            self.last_error = str(err)
            self._errors.hit(reason=self.last_error)
            self._attr_available = False
        else:
            self._errors.calm()
            self.last_error = None
            self._attr_available = True
            self._attr_native_value = value
        if self.entity_id is not None:
            self.write_state()

    async def run(self) -> None:
        """An entry task: update now, then every ``scan_interval`` seconds. Nothing a
        server answers may end it: an unforeseen error is logged (once per burst) and
        the next interval tries again."""
        while True:
            try:
                await self.update()
            except Exception as err:  # noqa: BLE001 - the loop must outlive a bad answer
                self.failures += 1
                self.last_error = f"{type(err).__name__}: {err}"
                self._errors.hit(reason=self.last_error)
            await anyio.sleep(self.interval)


def query_sensors(
    config: Mapping[str, Any], key: str, client: InfluxClient, engine: TemplateEngine,
    device_info: DeviceInfo,
) -> list[QuerySensor]:
    return [QuerySensor(key, item, client, engine, device_info) for item in config["queries"]]
