"""Errors of the InfluxDB integration, all rooted at ``GatehouseError``."""

from __future__ import annotations

from gatehouse.core import GatehouseError


class InfluxError(GatehouseError):
    """Base of this integration's errors."""


class InfluxQueryError(InfluxError):
    """A query sensor's query failed (the server's answer or the connection)."""


class InfluxAuthError(InfluxError):
    """InfluxDB refused the credentials (401) or the right to write (403)."""


class InfluxWriteError(InfluxError):
    """``influxdb.write`` could not queue its points (nothing writable, outbox full)."""


class WriteStopped(InfluxError):
    """The server cannot take writes now (no answer, 5xx, 429, refused credentials):
    the sender stops the batch there and the outbox retries the rest."""
