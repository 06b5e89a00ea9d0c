"""Signal frame decoding speed: binary (numpy views) next to JSON, on one core."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from robotwatch.stream.signal_frame import (
    DEFAULT_SIGNAL_LIST_ID,
    SignalFrame,
    decode,
    decode_json,
    encode,
    encode_json,
)


@dataclass(frozen=True)
class FrameFigures:
    steps: int
    signals: int
    frame_bytes: int
    decode_frames_per_s: float
    decode_json_frames_per_s: float
    encode_frames_per_s: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _rate(fn, n: int, rounds: int = 5) -> float:
    """Calls per second in the fastest of `rounds` rounds: as timeit, the least disturbed
    round is the one that tells the code's speed on a machine shared with other work."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(max(n // rounds, 1)):
            fn()
        best = min(best, time.perf_counter() - start)
    return max(n // rounds, 1) / best


def bench_frames(steps: int = 25, signals: int = 130, n: int = 50_000) -> FrameFigures:
    rng = np.random.default_rng(0)
    frame = SignalFrame(
        DEFAULT_SIGNAL_LIST_ID,
        500.0,
        1,
        0,
        3,
        False,
        rng.integers(0, 15, steps).astype(np.uint8),
        rng.integers(0, 2, steps).astype(np.uint8),
        rng.normal(size=(steps, signals)).astype(np.float32),
    )
    data, text = encode(frame), encode_json(frame)
    return FrameFigures(
        steps=steps,
        signals=signals,
        frame_bytes=len(data),
        decode_frames_per_s=_rate(lambda: decode(data), n),
        decode_json_frames_per_s=_rate(lambda: decode_json(text), max(n // 100, 50)),
        encode_frames_per_s=_rate(lambda: encode(frame), n // 5),
    )
