"""Signal frames: consecutive time steps of one robot, as they travel on `robot.signals`.

Binary layout, version 1, all little-endian (docs/signal-frames.md has the table for
gateway authors):

    offset size type     field
    0      4    bytes    magic b"RWSF"
    4      2    u16      version (1)
    6      2    u16      header size in bytes (48; readers skip what they do not know)
    8      4    u32      n_steps
    12     2    u16      n_signals
    14     2    u16      flags: bit 0 = `cycle` is valid, bit 1 = step 0 starts a new cycle
    16     4    u32      signal list id (CRC-32 of the signal names joined by "\\n")
    20     4    f32      sample rate, Hz
    24     8    u64      seq: the controller's step counter of step 0
    32     8    i64      controller time of step 0, ns
    40     8    i64      cycle counter (when flag bit 0)
    48     n    u8[n]    action per step (a code of the robot's program)
    48+n   n    u8[n]    active per step (0/1)
    ...    0-3           zero padding to a multiple of 4
    A      4*n*s f32     signals, step-major: n_steps rows of n_signals values

Decoding is a few numpy views over the message bytes: no per-value Python work.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from replay.schema import SIGNALS
from robotwatch.stream.rejects import Rejected, RejectKind

MAGIC = b"RWSF"
VERSION = 1
HEADER = struct.Struct("<4sHHIHHIfQqq")
assert HEADER.size == 48
FLAG_CYCLE = 1
FLAG_CYCLE_START = 2
MAX_STEPS = 100_000
MAX_SIGNALS = 4_096
MAX_SEQ = 2**63


def signal_list_id(signals: Sequence[str]) -> int:
    """The id a frame carries for its ordered signal list."""
    return zlib.crc32("\n".join(signals).encode())


DEFAULT_SIGNAL_LIST_ID = signal_list_id(SIGNALS)
_DEFAULT_LISTS = {DEFAULT_SIGNAL_LIST_ID: len(SIGNALS)}


class SignalFrameError(Rejected):
    """A message that is not a valid signal frame: its kind, and the reason in words."""


@dataclass(slots=True)
class SignalFrame:
    """One decoded frame. `signals` is (n_steps, n_signals) float32, a view when decoded."""

    signal_list_id: int
    sample_rate_hz: float
    seq: int
    time_ns: int
    cycle: int | None
    cycle_start: bool
    action: np.ndarray
    active: np.ndarray
    signals: np.ndarray

    @property
    def n_steps(self) -> int:
        return len(self.action)


def _matrix_offset(n_steps: int) -> int:
    return (HEADER.size + 2 * n_steps + 3) & ~3


def encode(frame: SignalFrame) -> bytes:
    n, s = frame.signals.shape
    flags = (FLAG_CYCLE if frame.cycle is not None else 0) | (FLAG_CYCLE_START if frame.cycle_start else 0)
    header = HEADER.pack(
        MAGIC,
        VERSION,
        HEADER.size,
        n,
        s,
        flags,
        frame.signal_list_id,
        frame.sample_rate_hz,
        frame.seq,
        frame.time_ns,
        frame.cycle if frame.cycle is not None else 0,
    )
    body = np.asarray(frame.action, np.uint8).tobytes() + np.asarray(frame.active, np.uint8).tobytes()
    pad = b"\0" * (_matrix_offset(n) - HEADER.size - 2 * n)
    return header + body + pad + np.ascontiguousarray(frame.signals, dtype="<f4").tobytes()


def decode(data: bytes | bytearray | memoryview, known_lists: dict[int, int] | None = None) -> SignalFrame:
    """Parse and validate one binary frame; raises SignalFrameError with the reason.

    `known_lists` maps accepted signal list ids to their number of signals (default: the
    130 voraus-AD signals).
    """
    known = known_lists if known_lists is not None else _DEFAULT_LISTS
    if len(data) < HEADER.size:
        raise SignalFrameError(
            RejectKind.TRUNCATED, f"truncated: {len(data)} bytes, a header alone has {HEADER.size}"
        )
    magic, version, header_size, n, s, flags, list_id, rate, seq, time_ns, cycle = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SignalFrameError(RejectKind.BAD_MAGIC, f"bad magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise SignalFrameError(
            RejectKind.BAD_VERSION, f"unsupported version {version}, this reader knows {VERSION}"
        )
    if header_size != HEADER.size:
        raise SignalFrameError(
            RejectKind.BAD_HEADER,
            f"header size {header_size} does not match version {version} ({HEADER.size})",
        )
    if not 1 <= n <= MAX_STEPS:
        raise SignalFrameError(RejectKind.BAD_HEADER, f"absurd number of steps {n} (1..{MAX_STEPS})")
    if not 1 <= s <= MAX_SIGNALS:
        raise SignalFrameError(RejectKind.BAD_HEADER, f"absurd number of signals {s} (1..{MAX_SIGNALS})")
    if list_id not in known:
        raise SignalFrameError(RejectKind.UNKNOWN_SIGNAL_LIST, f"unknown signal list id {list_id:#010x}")
    if known[list_id] != s:
        raise SignalFrameError(
            RejectKind.UNKNOWN_SIGNAL_LIST,
            f"signal list {list_id:#010x} has {known[list_id]} signals, the frame says {s}",
        )
    if not (math.isfinite(rate) and 0 < rate <= 1e5):
        raise SignalFrameError(RejectKind.BAD_HEADER, f"absurd sample rate {rate} Hz")
    if seq + n >= MAX_SEQ:  # 2**63 steps at 500 Hz are 584 million years: a broken counter
        raise SignalFrameError(RejectKind.BAD_HEADER, f"absurd seq {seq}: a step counter stays below 2**63")
    start = _matrix_offset(n)
    expected = start + 4 * n * s
    if len(data) != expected:
        raise SignalFrameError(
            RejectKind.BAD_HEADER,
            f"length {len(data)} bytes does not add up: {n} steps x {s} signals need {expected}",
        )
    steps = bytes(data[HEADER.size : HEADER.size + 2 * n])  # action, then active
    if max(steps[n:]) > 1:
        raise SignalFrameError(RejectKind.BAD_STEPS, "active must be 0 or 1")
    signals = np.frombuffer(data, "<f4", n * s, start).reshape(n, s)
    # x.x is finite exactly when every value is, unless finite values overflow it: only
    # then pay for the elementwise check. (vdot, unlike dot and @, does not warn on
    # overflow; this keeps decoding at a few microseconds.)
    if not math.isfinite(float(np.vdot(signals, signals))) and not np.isfinite(signals).all():
        bad = np.argwhere(~np.isfinite(signals))[0]
        raise SignalFrameError(RejectKind.NON_FINITE, f"non-finite value at step {bad[0]}, signal {bad[1]}")
    meta = np.frombuffer(steps, np.uint8)
    return SignalFrame(
        list_id,
        float(rate),
        seq,
        time_ns,
        cycle if flags & FLAG_CYCLE else None,
        bool(flags & FLAG_CYCLE_START),
        meta[:n],
        meta[n:],
        signals,
    )


def encode_json(frame: SignalFrame) -> bytes:
    """The same content as JSON, for low-rate integration and debugging (~100x slower)."""
    return json.dumps(
        {
            "version": VERSION,
            "signal_list_id": frame.signal_list_id,
            "sample_rate_hz": frame.sample_rate_hz,
            "seq": frame.seq,
            "time_ns": frame.time_ns,
            "cycle": frame.cycle,
            "cycle_start": frame.cycle_start,
            "action": np.asarray(frame.action).tolist(),
            "active": np.asarray(frame.active).tolist(),
            "signals": np.asarray(frame.signals, np.float64).tolist(),
        }
    ).encode()


def decode_json(
    data: bytes | bytearray | memoryview, known_lists: dict[int, int] | None = None
) -> SignalFrame:
    """Parse a JSON frame and validate it like a binary one (by re-encoding it)."""
    try:
        doc = json.loads(bytes(data))
        signals = np.asarray(doc["signals"], dtype=np.float64)
        if signals.ndim != 2:
            raise SignalFrameError(
                RejectKind.BAD_JSON, "signals must be a list of steps, each a list of values"
            )
        frame = SignalFrame(
            signal_list_id=int(doc.get("signal_list_id", DEFAULT_SIGNAL_LIST_ID)),
            sample_rate_hz=float(doc["sample_rate_hz"]),
            seq=int(doc["seq"]),
            time_ns=int(doc.get("time_ns", 0)),
            cycle=None if doc.get("cycle") is None else int(doc["cycle"]),
            cycle_start=bool(doc.get("cycle_start", False)),
            action=np.asarray(doc["action"], dtype=np.int64),
            active=np.asarray(doc["active"], dtype=np.int64),
            signals=signals.astype(np.float32),
        )
        if int(doc.get("version", VERSION)) != VERSION:
            raise SignalFrameError(
                RejectKind.BAD_VERSION, f"unsupported version {doc['version']}, this reader knows {VERSION}"
            )
        if not (len(frame.action) == len(frame.active) == len(signals)):
            raise SignalFrameError(
                RejectKind.BAD_JSON, "action, active and signals must have one entry per step"
            )
        for name, values in (("action", frame.action), ("active", frame.active)):
            if len(values) and (values.min() < 0 or values.max() > 255):
                raise SignalFrameError(
                    RejectKind.BAD_STEPS, f"{name} values must be small non-negative integers"
                )
        if not np.isfinite(signals).all() or np.abs(signals).max(initial=0) > np.finfo(np.float32).max:
            raise SignalFrameError(RejectKind.NON_FINITE, "non-finite value in signals")
        return decode(encode(frame), known_lists)
    except SignalFrameError:
        raise
    except (ValueError, KeyError, TypeError, OverflowError, struct.error) as exc:
        raise SignalFrameError(
            RejectKind.BAD_JSON, f"not a valid JSON frame ({type(exc).__name__}: {exc})"
        ) from None


def decode_any(
    data: bytes | bytearray | memoryview, known_lists: dict[int, int] | None = None
) -> SignalFrame:
    """Binary frames start with the magic, JSON frames with '{'."""
    if bytes(data[:1]) == b"{":
        return decode_json(data, known_lists)
    return decode(data, known_lists)
