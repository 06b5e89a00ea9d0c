"""A reference gateway: robots on an OPC UA server, bridged to `robot.signals` (docs/gateways.md).

Sampling scalar variables one by one cannot keep up with 500 Hz, so the server (the robot
controller's OPC UA interface, or a PLC beside it) publishes each robot's process data in
blocks: one Variable of type Double[] per robot, rewritten with every block of steps. A block
is n steps of 5 + n_signals values each, step-major:

    seq, time_s, action, active, cycle, value_1, ..., value_S

`seq` is the controller's step counter, `time_s` its clock in seconds (Unix time), `cycle`
its cycle counter or -1 without one. Every block change is queued on the server (the
monitored item's queue), so no block is lost between two publishes; a lost one shows as a
jump in `seq` and robotwatch flags the cycle. The gateway reconnects, with a growing pause,
whenever the server goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from asyncua import Client, Node, ua

from robotwatch.gateway.frame_writer import FrameWriter
from robotwatch.program import VORAUS_AD, Program
from robotwatch.stream.clients import frame_producer

log = logging.getLogger("robotwatch.gateway")
HEAD = 5  # seq, time_s, action, active, cycle


def block_values(
    seq: np.ndarray,
    time_s: np.ndarray,
    action: np.ndarray,
    active: np.ndarray,
    cycle: np.ndarray | None,
    values: np.ndarray,
) -> list[float]:
    """A block as the server publishes it (for servers written in Python, and the tests)."""
    n = len(seq)
    head = np.stack([seq, time_s, action, active, cycle if cycle is not None else np.full(n, -1)], axis=1)
    return np.concatenate([head.astype(np.float64), np.asarray(values, np.float64)], axis=1).ravel().tolist()


@dataclass(frozen=True)
class Block:
    seq: int
    time_ns: int
    action: np.ndarray
    active: np.ndarray
    cycle: int | None
    values: np.ndarray


def parse_block(data: Sequence[float], n_signals: int) -> Block:
    """One published block; ValueError names what does not fit."""
    flat = np.asarray(data, np.float64)
    width = HEAD + n_signals
    if flat.ndim != 1 or len(flat) == 0 or len(flat) % width:
        raise ValueError(f"a block of {len(flat)} values is no whole number of steps of {width} values")
    rows = flat.reshape(-1, width)
    seq = rows[:, 0].astype(np.int64)
    if np.any(np.diff(seq) != 1):
        raise ValueError(f"steps of a block must count up by one (seq {seq[0]}..{seq[-1]})")
    cycle = int(rows[0, 4])
    return Block(
        int(seq[0]),
        round(rows[0, 1] * 1e9),
        rows[:, 2].astype(np.int64),
        rows[:, 3].astype(np.int64),
        None if cycle < 0 else cycle,
        rows[:, HEAD:].astype(np.float32),
    )


@dataclass(frozen=True)
class BridgedRobot:
    robot_id: str
    node_id: str  # e.g. "ns=2;s=cell7.robot1.Block"


class _Queue:
    """asyncua calls this for every change; the block goes to the bridge's queue."""

    def __init__(self, queue: asyncio.Queue[tuple[str, Any]], robots: dict[str, str]) -> None:
        self.queue = queue
        self.robots = robots  # node id -> robot id

    def datachange_notification(self, node: Node, value: Any, data: Any) -> None:
        self.queue.put_nowait((self.robots[node.nodeid.to_string()], value))


async def bridge(
    endpoint: str,
    robots: Sequence[BridgedRobot],
    signals: Sequence[str],
    rate_hz: float,
    client_options: dict[str, Any],
    *,
    program: Program = VORAUS_AD,
    topic: str = "robot.signals",
    frame_steps: int = 25,
    stop: asyncio.Event | None = None,
    publish_ms: float = 20.0,
) -> dict[str, int]:
    """Bridge until `stop` is set; returns the frames sent per robot."""
    stop = stop or asyncio.Event()
    producer = frame_producer(client_options)
    await producer.start()
    writers = {
        r.robot_id: FrameWriter(
            r.robot_id, signals, rate_hz, program, topic=topic, frame_steps=frame_steps, producer=producer
        )
        for r in robots
    }
    pause = 1.0
    try:
        while not stop.is_set():
            try:
                await _session(endpoint, robots, writers, len(signals), stop, publish_ms)
                pause = 1.0
            except (OSError, TimeoutError, ua.UaError, ConnectionError) as exc:
                log.warning("OPC UA server %s: %s; connecting again in %.0f s", endpoint, exc, pause)
                for writer in writers.values():
                    await writer.flush()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
                pause = min(pause * 2, 30.0)
        for writer in writers.values():
            await writer.flush()
    finally:
        await producer.stop()
    return {robot: writer.frames_sent for robot, writer in writers.items()}


async def _session(
    endpoint: str,
    robots: Sequence[BridgedRobot],
    writers: dict[str, FrameWriter],
    n_signals: int,
    stop: asyncio.Event,
    publish_ms: float,
) -> None:
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    async with Client(endpoint, timeout=10) as client:
        nodes = [client.get_node(r.node_id) for r in robots]
        handler = _Queue(
            queue, {n.nodeid.to_string(): r.robot_id for n, r in zip(nodes, robots, strict=True)}
        )
        subscription = await client.create_subscription(publish_ms, handler)
        # A queue on the server keeps every change between two publishes (none is coalesced).
        await subscription.subscribe_data_change(nodes, queuesize=1000, sampling_interval=ua.Double(0.0))
        log.info("bridging %d robots from %s", len(robots), endpoint)
        while not stop.is_set():
            try:
                robot, value = await asyncio.wait_for(queue.get(), 1.0)
            except TimeoutError:
                await client.check_connection()  # raises when the server is gone
                continue
            if value is None or len(value) == 0:
                continue  # the node before its first block
            try:
                block = parse_block(value, n_signals)
                await writers[robot].add(
                    block.seq, block.time_ns, block.action, block.active, block.values, cycle=block.cycle
                )
            except ValueError as exc:  # GatewayError too: one bad block never stops the bridge
                log.error("robot %s: block refused: %s", robot, exc)
