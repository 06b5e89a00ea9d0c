"""`robotwatch replay --to-kafka`: publish a file as signal frames of N robots, paced."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from os import PathLike
from typing import Any

from replay.reader import Part
from robotwatch.playback.file_stream import file_frames
from robotwatch.stream.clients import frame_producer


@dataclass
class PublishStats:
    frames: int = 0
    bytes: int = 0
    seconds: float = 0.0
    late_s: float = 0.0  # how far behind its schedule the publisher fell at worst


async def publish_file(
    path: str | PathLike[str],
    signals: list[str],
    topic: str,
    client_options: dict[str, Any],
    *,
    robots: int = 1,
    speed: float | None = 1.0,
    part: Part = "test",
    timeout_s: float = 30.0,
) -> PublishStats:
    """Send the file's frames keyed by robot id; speed None = as fast as possible."""
    producer = frame_producer(client_options, timeout_s)
    await asyncio.wait_for(producer.start(), timeout_s)
    stats = PublishStats()
    started = time.monotonic()
    pending: list[asyncio.Future] = []
    try:
        for chunk, data in file_frames(path, signals, robots, part):
            if speed is not None:
                delay = started + chunk.due_s / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    stats.late_s = max(stats.late_s, -delay)
            pending.append(
                await asyncio.wait_for(producer.send(topic, value=data, key=chunk.robot.encode()), timeout_s)
            )
            stats.frames += 1
            stats.bytes += len(data)
            if len(pending) >= 1000:
                await asyncio.wait_for(asyncio.gather(*pending), timeout_s)
                pending.clear()
        await asyncio.wait_for(asyncio.gather(*pending), timeout_s)
    finally:
        await producer.stop()
    stats.seconds = time.monotonic() - started
    return stats
