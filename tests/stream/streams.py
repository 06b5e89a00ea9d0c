"""Synthetic controller streams for the stream tests: cycles of steps, cut into frames."""

from __future__ import annotations

import itertools

import numpy as np

from robotwatch.stream.signal_frame import DEFAULT_SIGNAL_LIST_ID, SignalFrame


def controller_steps(lengths: list[int], n_signals: int = 6, seed: int = 0, first_seq: int = 1000):
    """Per step: seq, action (0..14 rising through each cycle), cycle counter, signals."""
    rng = np.random.default_rng(seed)
    total = sum(lengths)
    action = np.concatenate([np.minimum(np.arange(n) * 15 // n, 14) for n in lengths]).astype(np.uint8)
    counter = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.zeros(total, bool)
    starts[np.cumsum([0, *lengths[:-1]])] = True
    return {
        "seq": first_seq + np.arange(total),
        "action": action,
        "counter": counter,
        "start": starts,
        "signals": rng.normal(size=(total, n_signals)).astype(np.float32),
    }


def frames_of(
    steps: dict, cuts: list[int], with_counter: bool, flag_starts: bool = True
) -> list[SignalFrame]:
    """Cut the steps at the given indices; with a counter, cuts are added at cycle starts
    (a frame never spans two cycles when it carries a counter)."""
    bounds = set(cuts) | {0, len(steps["seq"])}
    if with_counter:
        bounds |= set(np.flatnonzero(steps["start"]).tolist())
    bounds = sorted(b for b in bounds if 0 <= b <= len(steps["seq"]))
    frames = []
    for lo, hi in itertools.pairwise(bounds):
        frames.append(
            SignalFrame(
                signal_list_id=DEFAULT_SIGNAL_LIST_ID,
                sample_rate_hz=500.0,
                seq=int(steps["seq"][lo]),
                time_ns=int(steps["seq"][lo]) * 2_000_000,
                cycle=int(steps["counter"][lo]) if with_counter else None,
                cycle_start=bool(flag_starts and steps["start"][lo]),
                action=steps["action"][lo:hi],
                active=(steps["action"][lo:hi] % 2).astype(np.uint8),
                signals=steps["signals"][lo:hi],
            )
        )
    return frames
