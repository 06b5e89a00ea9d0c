"""A voraus-AD file as the encoded signal frames of N robots, in the order they would arrive."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from os import PathLike

from replay import VorausFile
from replay.reader import Part
from replay.replayer import StepChunk, replay_chunks, robot_ids
from robotwatch.mtsflow.data import file_rate
from robotwatch.stream.signal_frame import SignalFrame, encode, signal_list_id


def chunk_frame(chunk: StepChunk, list_id: int) -> SignalFrame:
    return SignalFrame(
        signal_list_id=list_id,
        sample_rate_hz=chunk.sample_rate_hz,
        seq=chunk.seq,
        time_ns=chunk.time_ns,
        cycle=chunk.cycle,
        cycle_start=chunk.cycle_start,
        action=chunk.action,
        active=chunk.active,
        signals=chunk.signals,
    )


def file_frames(
    path: str | PathLike[str],
    signals: Sequence[str],
    robots: int,
    part: Part = "test",
    steps_per_frame: int = 25,
) -> Iterator[tuple[StepChunk, bytes]]:
    """The file's cycles as the encoded frames of `robots` robots, in due-time order."""
    rate = file_rate(path)
    list_id = signal_list_id(signals)
    cycles = VorausFile(path, signals=signals).cycles(part)
    for chunk in replay_chunks(cycles, rate, robot_ids(robots), steps_per_frame):
        yield chunk, encode(chunk_frame(chunk, list_id))
