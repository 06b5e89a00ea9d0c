"""The binary signal frame: round trip, speed-relevant zero-copy decoding, and refusal of
malformed messages with a reason (thousands of them, generated)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robotwatch.stream.signal_frame import (
    DEFAULT_SIGNAL_LIST_ID,
    HEADER,
    SignalFrame,
    SignalFrameError,
    decode,
    decode_any,
    decode_json,
    encode,
    encode_json,
    signal_list_id,
)


def _frame(n: int = 25, s: int = 130, cycle: int | None = 7) -> SignalFrame:
    rng = np.random.default_rng(n)
    return SignalFrame(
        DEFAULT_SIGNAL_LIST_ID,
        500.0,
        123_456_789_012,
        5_000_000_000,
        cycle,
        True,
        rng.integers(0, 15, n).astype(np.uint8),
        rng.integers(0, 2, n).astype(np.uint8),
        rng.normal(size=(n, s)).astype(np.float32),
    )


def _same(a: SignalFrame, b: SignalFrame) -> None:
    assert (a.signal_list_id, a.sample_rate_hz, a.seq, a.time_ns, a.cycle, a.cycle_start) == (
        b.signal_list_id,
        b.sample_rate_hz,
        b.seq,
        b.time_ns,
        b.cycle,
        b.cycle_start,
    )
    np.testing.assert_array_equal(a.action, b.action)
    np.testing.assert_array_equal(a.active, b.active)
    np.testing.assert_array_equal(a.signals, b.signals)


@pytest.mark.parametrize("cycle", [7, None])
def test_binary_round_trip(cycle: int | None) -> None:
    frame = _frame(cycle=cycle)
    data = encode(frame)
    assert len(data) == 48 + 2 * 25 + 2 + 4 * 25 * 130  # header, actions, padding to 4, matrix
    _same(decode(data), frame)


def test_decoding_views_the_message_bytes_without_copying() -> None:
    data = encode(_frame())
    frame = decode(data)
    assert not frame.signals.flags.owndata and frame.signals.base is not None


def test_json_round_trip_and_autodetection() -> None:
    frame = _frame()
    _same(decode_json(encode_json(frame)), frame)
    _same(decode_any(encode_json(frame)), frame)
    _same(decode_any(encode(frame)), frame)


def test_other_signal_lists_are_accepted_when_known() -> None:
    names = ["motor_torque_1", "motor_torque_2"]
    frame = SignalFrame(
        signal_list_id(names),
        100.0,
        0,
        0,
        None,
        False,
        np.zeros(3, np.uint8),
        np.zeros(3, np.uint8),
        np.ones((3, 2), np.float32),
    )
    with pytest.raises(SignalFrameError, match="unknown signal list id"):
        decode(encode(frame))
    _same(decode(encode(frame), {signal_list_id(names): 2}), frame)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: b"JUNK" + d[4:], "bad magic"),
        (lambda d: d[:4] + struct.pack("<H", 9) + d[6:], "unsupported version 9"),
        (lambda d: d[:20], "truncated"),
        (lambda d: d[:-4], "does not add up"),
        (lambda d: d + b"\0" * 4, "does not add up"),
        (lambda d: d[:8] + struct.pack("<I", 0) + d[12:], "absurd number of steps 0"),
        (lambda d: d[:8] + struct.pack("<I", 10**9) + d[12:], "absurd number of steps"),
        (lambda d: d[:12] + struct.pack("<H", 131) + d[14:], "has 130 signals, the frame says 131"),
        (lambda d: d[:16] + struct.pack("<I", 1234) + d[20:], "unknown signal list id"),
        (lambda d: d[:20] + struct.pack("<f", float("nan")) + d[24:], "absurd sample rate"),
        (lambda d: d[:73] + b"\x05" + d[74:], "active must be 0 or 1"),
        (lambda d: d[:-4] + struct.pack("<f", float("inf")), "non-finite value at step 24, signal 129"),
    ],
)
def test_malformed_frames_are_refused_with_the_reason(change, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SignalFrameError, match=reason):
        decode(change(encode(_frame())))


@pytest.mark.parametrize(
    "doc",
    [
        b"{",
        b'{"signals": [[1.0]]}',
        b'{"sample_rate_hz": 1, "seq": 0, "action": [0], "active": [0], "signals": [[NaN]]}',
        b"[1, 2]",
        b'{"seq": -1}',
    ],
)
def test_malformed_json_is_refused(doc: bytes) -> None:
    with pytest.raises(SignalFrameError):
        decode_json(doc)


VALID = encode(_frame(n=5, s=130))


@settings(max_examples=2000, deadline=None)
@given(
    st.binary(max_size=3000)
    | st.builds(
        lambda i, b: VALID[:i] + b + VALID[i + len(b) :],
        st.integers(0, len(VALID)),
        st.binary(min_size=1, max_size=8),
    )
)
def test_arbitrary_bytes_either_decode_or_raise_frame_error(data: bytes) -> None:
    try:
        frame = decode_any(data)
    except SignalFrameError:
        return
    # any action code is a byte; whether it is a step of the program is the pipeline's question
    assert np.isfinite(frame.signals).all() and frame.active.max() <= 1


def test_header_is_48_bytes() -> None:
    assert HEADER.size == 48
