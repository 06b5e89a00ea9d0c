"""The small HTTP endpoint of `serve`: GET /metrics (Prometheus text), /livez and /readyz
(JSON; 200 or 503), /health (the readiness document, for people), /models (what is loaded)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

Probe = Callable[[], tuple[bool, dict[str, object]]]
_REASONS = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}


async def serve_http(
    host: str,
    port: int,
    registry: CollectorRegistry,
    livez: Probe,
    readyz: Probe,
    models: Callable[[], list[dict[str, object]]] = list,
) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            path = request.split(b" ")[1].decode() if request.count(b" ") >= 2 else "/"
            ctype = "application/json"
            if path.startswith("/metrics"):
                status, ctype, body = 200, CONTENT_TYPE_LATEST, generate_latest(registry)
            elif path.startswith("/models"):
                status, body = 200, json.dumps(models()).encode()
            elif path.startswith(("/livez", "/readyz", "/health")):
                ok, doc = livez() if path.startswith("/livez") else readyz()
                status, body = (200 if ok else 503), json.dumps(doc).encode()
            else:
                status, ctype, body = (
                    404,
                    "text/plain",
                    b"not found: try /metrics, /livez, /readyz, /models\n",
                )
            head = f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {ctype}\r\n"
            writer.write(f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
