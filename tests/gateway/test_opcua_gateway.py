"""The reference OPC UA gateway against a real OPC UA server (asyncua) started by the test,
and a real broker: a simulated cell's two robots publish their steps in blocks, the gateway
bridges them, and serve's assembler rebuilds exactly the cycles the robots ran."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from asyncua import Server, ua

from replay.schema import SIGNAL_GROUPS
from replay.simulator import load_profile, write_dataset
from robotwatch.bench.broker import create_topics, free_port
from robotwatch.gateway.opcua import BridgedRobot, block_values, bridge, parse_block
from robotwatch.stream.assembly import AssemblyLimits, RobotAssembler
from robotwatch.stream.signal_frame import decode, signal_list_id
from tests.gateway.controller import controller_blocks, cycle_values
from tests.stream.broker import Broker, read_all, unique

SIGNALS = list(SIGNAL_GROUPS["electrical"])
ROBOTS = ["cell-1-r1", "cell-1-r2"]


def test_a_block_round_trips_and_a_bad_one_is_named() -> None:
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    flat = block_values(
        np.array([7, 8]), np.array([1.5, 1.502]), np.array([3, 3]), np.array([1, 1]), None, values
    )
    block = parse_block(flat, 3)
    assert (block.seq, block.time_ns, block.cycle) == (7, 1_500_000_000, None)
    np.testing.assert_array_equal(block.values, values)
    with pytest.raises(ValueError, match="no whole number of steps of 8 values"):
        parse_block(flat[:-1], 3)
    with pytest.raises(ValueError, match="count up by one"):
        parse_block(block_values(np.array([7, 9]), np.zeros(2), np.zeros(2), np.zeros(2), None, values), 3)


async def _serve_blocks(server: Server, nodes: dict[str, object], cell: Path, done: asyncio.Event) -> int:
    """Both robots run the cell's cycles, a block of 10 steps at a time. Returns blocks written."""
    blocks = list(controller_blocks(cell, SIGNALS, rate_hz=100, block=10))
    for i, b in enumerate(blocks):
        for node in nodes.values():
            value = block_values(
                np.arange(b.seq, b.seq + len(b.action)),
                b.time_ns / 1e9 + np.arange(len(b.action)) / 100,
                b.action,
                b.active,
                np.full(len(b.action), b.cycle),
                b.values,
            )
            await node.write_value(ua.Variant(value, ua.VariantType.Double))  # type: ignore[attr-defined]
        if i % 5 == 0:
            await asyncio.sleep(0.005)
    done.set()
    return len(blocks)


def test_opcua_robots_reach_the_signals_topic_as_their_cycles(tmp_path: Path) -> None:
    cell = tmp_path / "cell.parquet"
    write_dataset(cell, load_profile("default"), n_cycles=12, rate=100, seed=8)
    broker = Broker(tmp_path)
    try:
        asyncio.run(_bridge_cell(cell, broker))
    finally:
        broker.stop()


async def _bridge_cell(cell: Path, broker: Broker) -> None:
    topic = unique("signals")
    await create_topics(broker.bootstrap, [topic])
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/robotwatch/"
    server = Server()
    await server.init()
    server.set_endpoint(endpoint)
    ns = await server.register_namespace("urn:robotwatch:test-cell")
    cell_object = await server.nodes.objects.add_object(ns, "cell-1")
    nodes = {}
    for robot in ROBOTS:
        nodes[robot] = await cell_object.add_variable(
            ua.NodeId(f"{robot}.Block", ns), f"{robot}.Block", ua.Variant([], ua.VariantType.Double)
        )
    async with server:
        stop, written = asyncio.Event(), asyncio.Event()
        bridged = [BridgedRobot(r, nodes[r].nodeid.to_string()) for r in ROBOTS]
        gateway = asyncio.create_task(
            bridge(
                endpoint,
                bridged,
                SIGNALS,
                100.0,
                {"bootstrap_servers": broker.bootstrap},
                topic=topic,
                stop=stop,
            )
        )
        await asyncio.sleep(1.5)  # the gateway connects and subscribes before the robots start
        n_blocks = await _serve_blocks(server, nodes, cell, written)
        await asyncio.sleep(1.5)
        stop.set()
        sent = await asyncio.wait_for(gateway, 30)
    assert n_blocks > 50
    records = await read_all(broker.bootstrap, topic, expect=sum(sent.values()), idle_s=0.5)
    assert len(records) == sum(sent.values()) and set(sent) == set(ROBOTS)

    source = cycle_values(cell, SIGNALS)
    limits = AssemblyLimits(divider=1, max_kept=2000)
    assemblers = {r: RobotAssembler(r, len(SIGNALS), limits) for r in ROBOTS}
    closed: dict[str, list] = {r: [] for r in ROBOTS}
    for record in records:
        robot = record.key.decode()
        frame = decode(record.value, {signal_list_id(SIGNALS): len(SIGNALS)})
        closed[robot] += assemblers[robot].feed(frame, record.offset)
    for robot in ROBOTS:
        cycles = closed[robot]
        # The first cycle's start came before any counter change was seen; the last is still open.
        assert len(cycles) == len(source) - 2, robot
        for cycle, sample in zip(cycles, list(source)[1:-1], strict=True):
            assert not (cycle.gap_steps or cycle.incomplete), (robot, sample)
            np.testing.assert_array_equal(cycle.signals, source[sample])
