"""Operability of `serve`: Prometheus metrics and a health document on a small HTTP endpoint."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


@dataclass
class ServiceMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.frames = Counter("robotwatch_frames", "Signal frames consumed", registry=r)
        self.camera_frames = Counter("robotwatch_camera_frames", "Camera frames consumed", registry=r)
        self.cycles = Counter("robotwatch_cycles", "Cycles closed and scored", ["result"], registry=r)
        self.dead_letters = Counter(
            "robotwatch_dead_letters", "Messages sent to the dead-letter topic", ["reason"], registry=r
        )
        self.latency = Histogram(
            "robotwatch_verdict_latency_seconds",
            "Cycle end (or frame receipt) to verdict acknowledged",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0),
            registry=r,
        )
        self.lag = Gauge(
            "robotwatch_consumer_lag",
            "Messages behind the partition's end",
            ["topic", "partition"],
            registry=r,
        )
        self.robots = Gauge("robotwatch_robots", "Robots with state in this process", registry=r)
        self.in_flight = Gauge(
            "robotwatch_in_flight", "Cycles and messages awaiting the broker's ack", registry=r
        )
        self.broker_up = Gauge("robotwatch_broker_up", "1 when the last broker call succeeded", registry=r)
        self.broker_errors = Counter(
            "robotwatch_broker_errors", "Broker calls that failed or timed out", ["call"], registry=r
        )
        self.commits = Counter("robotwatch_commits", "Offset commits", registry=r)

    def total(self, name: str) -> int:
        """A counter's value summed over its labels, as the registry reports it."""
        return int(
            sum(
                s.value
                for m in self.registry.collect()
                if m.name == name
                for s in m.samples
                if s.name == f"{name}_total"
            )
        )

    def totals(self) -> tuple[int, int, int]:
        """Frames, cycles and dead letters so far."""
        return (
            self.total("robotwatch_frames"),
            self.total("robotwatch_cycles"),
            self.total("robotwatch_dead_letters"),
        )


@dataclass
class Health:
    started: float = field(default_factory=time.monotonic)
    broker_ok: bool = False
    last_broker_ok: float = 0.0
    last_error: str | None = None
    assigned: list[str] = field(default_factory=list)
    _rate: dict[str, tuple[float, int]] = field(default_factory=dict)

    def broker(self, ok: bool, error: str | None = None) -> None:
        self.broker_ok = ok
        if ok:
            self.last_broker_ok = time.monotonic()
        else:
            self.last_error = error

    def rate(self, name: str, count: int) -> float:
        """Events per second since the previous call for `name`."""
        now = time.monotonic()
        then, before = self._rate.get(name, (self.started, 0))
        self._rate[name] = (now, count)
        return (count - before) / max(now - then, 1e-9)

    def document(self, metrics: ServiceMetrics, lag: int, in_flight: int, robots: int) -> dict[str, object]:
        frames, cycles, dead_letters = metrics.totals()
        return {
            "status": "ok" if self.broker_ok else "degraded",
            "broker_connected": self.broker_ok,
            "seconds_since_broker_ok": round(time.monotonic() - self.last_broker_ok, 1)
            if self.last_broker_ok
            else None,
            "last_error": self.last_error,
            "frames": frames,
            "cycles": cycles,
            "dead_letters": dead_letters,
            "frames_per_s": round(self.rate("frames", frames), 2),
            "cycles_per_s": round(self.rate("cycles", cycles), 3),
            "consumer_lag": lag,
            "in_flight": in_flight,
            "robots": robots,
            "assigned_partitions": self.assigned,
            "uptime_s": round(time.monotonic() - self.started, 1),
        }


async def serve_http(host: str, port: int, metrics: ServiceMetrics, health_document) -> asyncio.Server:
    """GET /metrics (Prometheus text) and GET /health (JSON; 503 while the broker is unreachable)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            path = request.split(b" ")[1].decode() if request.count(b" ") >= 2 else "/"
            if path.startswith("/metrics"):
                status, ctype, body = 200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry)
            elif path.startswith("/health"):
                doc = health_document()
                status, ctype = (200 if doc["broker_connected"] else 503), "application/json"
                body = json.dumps(doc).encode()
            else:
                status, ctype, body = 404, "text/plain", b"not found: try /metrics or /health\n"
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
