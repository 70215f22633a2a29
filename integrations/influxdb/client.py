"""The HTTP side: one aiohttp session per entry, the write request, the queries.

InfluxDB 1.x takes ``POST /write?db=&rp=&precision=`` with HTTP Basic credentials;
2.x (and 3.x, which keeps the v2 write API) takes ``POST /api/v2/write?org=&bucket=
&precision=`` with ``Authorization: Token <token>``. Both answer 204 on success, and
both take a gzip body (``Content-Encoding: gzip``). Credentials travel in headers only,
never in the URL, so a logged URL holds no secret.

``write`` returns the status, the ``Retry-After`` seconds (if any) and the server's
error text (the JSON body's ``error`` (1.x) or ``message`` (2.x)); what each status
means for the queue is the writer's business (``writer.py``). Queries: InfluxQL over
``GET /query`` (1.x), Flux over ``POST /api/v2/query`` answered as annotated CSV (2.x).
"""

from __future__ import annotations

import base64
import csv
import email.utils
import io
import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import anyio.to_thread

from .const import (
    API_V2,
    CONF_API_VERSION,
    CONF_BUCKET,
    CONF_DATABASE,
    CONF_HOST,
    CONF_ORG,
    CONF_PASSWORD,
    CONF_PATH,
    CONF_PORT,
    CONF_PRECISION,
    CONF_RETENTION_POLICY,
    CONF_SSL,
    CONF_SSL_CA_CERT,
    CONF_TIMEOUT,
    CONF_TOKEN,
    CONF_USERNAME,
    CONF_VERIFY_SSL,
)
from .errors import InfluxQueryError

#: The longest error text kept from a response (bodies can echo a whole line).
MAX_ERROR_TEXT: Final = 2000
MAX_QUERY_BYTES: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class WriteResult:
    status: int
    error: str
    retry_after: float | None


async def read_capped(
    response: aiohttp.ClientResponse, limit: int, *, truncate: bool = False
) -> bytes | None:
    """The whole body, or None once it grows past ``limit`` bytes (``truncate``: its
    first ``limit`` bytes): a server cannot make us hold more."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit] if truncate else None
    return b"".join(chunks)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_text(body: bytes) -> str:
    """The server's message: ``{"error": ...}`` (1.x), ``{"message": ...}`` (2.x)."""
    text = body[:MAX_ERROR_TEXT * 2].decode("utf-8", "replace")
    try:
        document = json.loads(text)
    except ValueError:
        return text[:MAX_ERROR_TEXT].strip()
    if isinstance(document, dict):
        for key in ("error", "message"):
            if isinstance(document.get(key), str):
                return str(document[key])[:MAX_ERROR_TEXT]
    return text[:MAX_ERROR_TEXT].strip()


async def ssl_context(config: Mapping[str, Any]) -> ssl.SSLContext | bool:
    """aiohttp's ``ssl=``: True (system CAs), False (no checks) or a context with the
    configured CA (loading it reads a file: done in a thread)."""
    if not config[CONF_SSL]:
        return True  # unused for http
    if not config[CONF_VERIFY_SSL]:
        return False
    cafile = config.get(CONF_SSL_CA_CERT)
    if not cafile:
        return True
    return await anyio.to_thread.run_sync(lambda: ssl.create_default_context(cafile=cafile))


class InfluxClient:
    """One entry's connection settings and HTTP session."""

    def __init__(self, config: Mapping[str, Any], ssl_option: ssl.SSLContext | bool) -> None:
        self.config = config
        self.v2 = config[CONF_API_VERSION] == API_V2
        scheme = "https" if config[CONF_SSL] else "http"
        self.base = f"{scheme}://{config[CONF_HOST]}:{config[CONF_PORT]}{config.get(CONF_PATH, '')}"
        self._ssl = ssl_option
        self._headers: dict[str, str] = {"Content-Type": "text/plain; charset=utf-8"}
        if self.v2:
            self._headers["Authorization"] = f"Token {config[CONF_TOKEN]}"
            self.write_url = f"{self.base}/api/v2/write"
            self.write_params = {
                "org": config[CONF_ORG], "bucket": config[CONF_BUCKET],
                "precision": config[CONF_PRECISION],
            }
        else:
            if config.get(CONF_USERNAME):
                pair = f"{config[CONF_USERNAME]}:{config[CONF_PASSWORD]}".encode()
                self._headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
            self.write_url = f"{self.base}/write"
            self.write_params = {"db": config[CONF_DATABASE], "precision": config[CONF_PRECISION]}
            if config.get(CONF_RETENTION_POLICY):
                self.write_params["rp"] = config[CONF_RETENTION_POLICY]
        self._timeout = aiohttp.ClientTimeout(total=float(config[CONF_TIMEOUT]))
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @property
    def target(self) -> str:
        """Where points go, for logs and diagnostics (no credentials)."""
        where = (
            f"org {self.config[CONF_ORG]!r} bucket {self.config[CONF_BUCKET]!r}"
            if self.v2 else f"database {self.config[CONF_DATABASE]!r}"
        )
        return f"{self.base} {where}"

    def session(self) -> aiohttp.ClientSession:
        if self._closed:  # unloading: a late send or query must not open a new session
            raise aiohttp.ClientConnectionError("the entry is unloading")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers=self._headers,
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=4),
            )
        return self._session

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def write(self, body: bytes, *, gzipped: bool) -> WriteResult:
        """POST one write request; raises ``aiohttp.ClientError``/``TimeoutError`` when
        no answer came (the caller retries)."""
        headers = {"Content-Encoding": "gzip"} if gzipped else None
        async with self.session().post(
            self.write_url, params=self.write_params, data=body, headers=headers
        ) as response:
            if response.status in (200, 204):
                return WriteResult(response.status, "", None)
            content = await read_capped(response, MAX_ERROR_TEXT * 2, truncate=True) or b""
            return WriteResult(
                response.status, error_text(content),
                retry_after(response.headers.get("Retry-After")),
            )

    # -- queries -------------------------------------------------------------------

    async def query(self, text: str, *, database: str | None = None,
                    bucket: str | None = None, language: str | None = None) -> Any:
        """The value a query sensor shows: the last row's value column.

        InfluxQL: the first series' last row, its first column after ``time``. Flux:
        the last record's ``_value``. SQL (InfluxDB 3.x, ``/api/v3/query_sql`` on the
        entry's ``bucket`` as database): the last row's first column other than
        ``time``. None when the query returned nothing.
        """
        if self.v2:
            if language == "sql":
                return await self._sql(text, bucket or self.config[CONF_BUCKET])
            return await self._flux(text)
        return await self._influxql(text, database or self.config[CONF_DATABASE])

    async def _sql(self, text: str, database: str) -> Any:
        payload = json.dumps({"db": database, "q": text, "format": "json"})
        try:
            async with self.session().post(
                f"{self.base}/api/v3/query_sql", data=payload,
                headers={"Content-Type": "application/json"},
            ) as response:
                body = await self._read(response)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise InfluxQueryError(f"no answer: {err or type(err).__name__}") from err
        try:
            rows = json.loads(body)
        except ValueError as err:
            raise InfluxQueryError("unexpected answer (not JSON rows)") from err
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InfluxQueryError("unexpected answer (not JSON rows)")
        if not rows:
            return None
        values = [v for k, v in rows[-1].items() if k != "time"]
        return values[0] if values else None

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        body = await read_capped(response, MAX_QUERY_BYTES)
        if body is None:
            raise InfluxQueryError(f"answer longer than {MAX_QUERY_BYTES} bytes")
        if response.status >= 300:
            raise InfluxQueryError(f"HTTP {response.status}: {error_text(body)}")
        return body

    async def _influxql(self, text: str, database: str) -> Any:
        params = {"db": database, "q": text, "epoch": "ns"}
        try:
            async with self.session().get(f"{self.base}/query", params=params) as response:
                body = await self._read(response)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise InfluxQueryError(f"no answer: {err or type(err).__name__}") from err
        try:
            document = json.loads(body)
            result = document["results"][0]
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise InfluxQueryError("unexpected answer (not InfluxQL results)") from err
        if "error" in result:
            raise InfluxQueryError(str(result["error"]))
        series = result.get("series") or []
        if not series or not series[0].get("values"):
            return None
        columns: list[str] = series[0]["columns"]
        row = series[0]["values"][-1]
        index = 1 if len(columns) > 1 and columns[0] == "time" else 0
        return row[index]

    async def _flux(self, text: str) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/csv"}
        payload = json.dumps({"query": text, "type": "flux",
                              "dialect": {"annotations": [], "header": True}})
        try:
            async with self.session().post(
                f"{self.base}/api/v2/query", params={"org": self.config[CONF_ORG]},
                data=payload, headers=headers,
            ) as response:
                body = await self._read(response)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise InfluxQueryError(f"no answer: {err or type(err).__name__}") from err
        return flux_value(body.decode("utf-8", "replace"))


def flux_value(text: str) -> Any:
    """The last ``_value`` of a Flux CSV answer (tables separated by blank lines,
    annotation rows starting with ``#``); None when there is none."""
    value: Any = None
    header: list[str] | None = None
    for row in csv.reader(io.StringIO(text)):
        if not row or all(not cell for cell in row):
            header = None
            continue
        if row[0].startswith("#"):
            continue
        if header is None:
            header = row
            continue
        if "_value" in header:
            value = row[header.index("_value")]
        elif header and header[0] == "error":
            raise InfluxQueryError(row[0] if row else "query failed")
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value
