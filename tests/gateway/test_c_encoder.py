"""The header-only C encoder (robotwatch/gateway/c/rwsf.h): its example program, compiled with
the system's C compiler, writes frames that robotwatch decodes to the same values."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import robotwatch.gateway
from replay.schema import SIGNAL_GROUPS
from robotwatch.stream.signal_frame import decode, signal_list_id

C_DIR = Path(robotwatch.gateway.__file__).parent / "c"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.skip("no C compiler on this machine")
    binary = tmp_path_factory.mktemp("c") / "example"
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic"]
    subprocess.run(
        [compiler, *flags, "-I", str(C_DIR), str(C_DIR / "example.c"), "-o", str(binary)],
        check=True,
        capture_output=True,
    )
    return binary


def frames_written(binary: Path, n_frames: int, steps: int, names: list[str]) -> list[bytes]:
    data = subprocess.run(
        [str(binary), str(n_frames), str(steps), *names], check=True, capture_output=True
    ).stdout
    frames, at = [], 0
    while at < len(data):
        (size,) = struct.unpack_from("<I", data, at)
        frames.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    return frames


@pytest.mark.parametrize("steps", [1, 25, 7])  # 7: the matrix needs padding after the step bytes
def test_c_frames_decode_to_the_values_written(example: Path, steps: int) -> None:
    names = list(SIGNAL_GROUPS["machine"])
    frames = frames_written(example, 8, steps, names)
    assert len(frames) == 8
    known = {signal_list_id(names): len(names)}  # the C program computed the same list id
    for f, data in enumerate(frames):
        frame = decode(data, known)
        seq = 1000 + f * steps
        assert (frame.seq, frame.n_steps, frame.sample_rate_hz) == (seq, steps, 500.0)
        assert frame.time_ns == 1_764_331_200_000_000_000 + seq * 2_000_000
        assert (frame.cycle, frame.cycle_start) == (f // 4, f % 4 == 0)
        i = np.arange(steps)
        np.testing.assert_array_equal(frame.action, (f % 4) * 3 + i * 3 // steps)
        np.testing.assert_array_equal(frame.active, frame.action % 2)
        step = (seq + i)[:, None]
        j = np.arange(len(names))[None, :]
        expected = (((step * 131 + j * 7) % 1000) / 7.0).astype(np.float32)
        np.testing.assert_array_equal(frame.signals, expected)


def test_a_short_list_has_its_own_id(example: Path) -> None:
    names = ["robot_voltage", "motor_iq_1", "motor_iq_2"]
    (data,) = frames_written(example, 1, 5, names)
    assert decode(data, {signal_list_id(names): 3}).signals.shape == (5, 3)
