"""FrameWriter: a gateway's steps as signal frames on Kafka, keyed by robot, acks=all."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import numpy as np
from aiokafka import AIOKafkaProducer

from robotwatch.gateway.frame_cutter import FrameCutter
from robotwatch.program import VORAUS_AD, Program
from robotwatch.stream.clients import frame_producer
from robotwatch.stream.signal_frame import SignalFrame, encode


class FrameWriter:
    """Frames of one robot to `topic`. Give it a producer to share one among many robots
    (it is then neither started nor stopped here), or Kafka client options
    (`bootstrap_servers=...`, as robotwatch.stream.settings.KafkaSettings.client_options()).

    `add` returns once the frames it completed are handed to the producer; `flush` (and
    leaving the `async with`) waits until the broker has acknowledged every frame sent, and
    raises the broker's error if one was not (the gateway should then send again from the
    step it last saw acknowledged: robotwatch drops repeated steps).
    """

    def __init__(
        self,
        robot_id: str,
        signals: Sequence[str],
        rate_hz: float,
        program: Program = VORAUS_AD,
        *,
        topic: str = "robot.signals",
        frame_steps: int = 25,
        producer: AIOKafkaProducer | None = None,
        timeout_s: float = 30.0,
        **client_options: Any,
    ) -> None:
        if not robot_id or len(robot_id.encode()) > 256:
            raise ValueError("robot_id must be 1..256 bytes of UTF-8 (the message key)")
        self.robot_id = robot_id
        self.topic = topic
        self.cutter = FrameCutter(signals, rate_hz, program, frame_steps)
        self.timeout_s = timeout_s
        self._own = producer is None
        self.producer = producer or frame_producer(client_options, timeout_s)
        self._key = robot_id.encode()
        self._sent: list[asyncio.Future] = []
        self.frames_sent = 0

    async def start(self) -> None:
        if self._own:
            await asyncio.wait_for(self.producer.start(), self.timeout_s)

    async def add(
        self,
        seq: int,
        time_ns: int,
        action: int | Sequence[int] | np.ndarray,
        active: int | bool | Sequence[int] | np.ndarray,
        values: Sequence[float] | np.ndarray,
        cycle: int | None = None,
        cycle_start: bool = False,
    ) -> None:
        """One controller step or a block of them (see FrameCutter.add)."""
        await self._send(self.cutter.add(seq, time_ns, action, active, values, cycle, cycle_start))

    async def flush(self) -> None:
        """Send what is buffered and wait for the broker to acknowledge everything sent."""
        await self._send(self.cutter.flush())
        sent, self._sent = self._sent, []
        await asyncio.wait_for(asyncio.gather(*sent), self.timeout_s)

    async def close(self) -> None:
        try:
            await self.flush()
        finally:
            if self._own:
                await self.producer.stop()

    async def _send(self, frames: list[SignalFrame]) -> None:
        for frame in frames:
            self._sent.append(await self.producer.send(self.topic, encode(frame), key=self._key))
            self.frames_sent += 1
        if len(self._sent) >= 1000:  # bound what waits for its acknowledgement
            sent, self._sent = self._sent, []
            await asyncio.wait_for(asyncio.gather(*sent), self.timeout_s)

    async def __aenter__(self) -> FrameWriter:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
