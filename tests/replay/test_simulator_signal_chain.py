"""What a real joint adds to the ideal arm: each effect moves the signals its physics moves, and only those.

Gear and motor torque ripple, the drives' current ripple and noise, the d current's own
dynamics, the drive's torque estimate, the link encoder's interpolation error, the arm's
bending mode, the encoders' latency, and stiction holding a history-dependent current.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from replay.cycle import Cycle
from replay.schema import SIGNALS, Variant
from replay.simulator.drive import MOVING_SPEED, electrical
from replay.simulator.profile import load_profile
from replay.simulator.sensors import bending_mode, delayed, gear_ripple
from replay.simulator.simulate import Simulator

COLUMN = {name: i for i, name in enumerate(SIGNALS)}
DT = 1 / 496.7


def sig(cycle: Cycle, name: str) -> np.ndarray:
    return cycle.signals[:, COLUMN[name]]


@pytest.fixture(scope="module")
def profile():
    return load_profile("default")


def test_gear_ripple_grows_with_speed_and_load_and_is_gone_at_rest(profile) -> None:
    n = 20000
    q = np.cumsum(np.full((n, 6), 0.5 * DT), axis=0)  # every axis at 0.5 rad/s
    load = np.full((n, 6), 10.0)

    def size(speed: float, torque: float) -> np.ndarray:
        return np.std(
            gear_ripple(profile, q * speed / 0.5, np.full((n, 6), speed), load * torque / 10), axis=0
        )

    np.testing.assert_array_equal(gear_ripple(profile, q, np.zeros((n, 6)), load), 0.0)
    assert np.all(size(1.0, 10.0) > 1.3 * size(0.5, 10.0))
    assert np.all(size(0.5, 30.0) > 1.2 * size(0.5, 10.0))


def test_current_ripple_and_noise_grow_with_speed_and_with_the_currents_rate_of_change(profile) -> None:
    n, rng = 5000, np.random.default_rng(0)
    kt = np.array(profile.drives.torque_constant) * np.array(profile.drives.gear_ratio)

    def measured_iq_error(command: np.ndarray, speed: float) -> np.ndarray:
        position = np.cumsum(np.full((n, 6), speed * DT), axis=0)
        drive = electrical(profile, command, position, np.full((n, 6), speed), np.zeros(6), DT, 1.0, rng)
        return np.std(drive.iq - command / kt, axis=0)

    steady = np.full((n, 6), 5.0)
    ramp = steady + np.linspace(0.0, 50.0, n)[:, None]  # 25 N·m/s
    at_rest = measured_iq_error(steady, 0.0)
    np.testing.assert_allclose(at_rest, profile.noise.current, rtol=0.1)  # the ADC noise alone
    assert np.all(measured_iq_error(steady, 1.0) > 2 * at_rest)  # ripple with the rotor's angle
    fast = np.full((n, 6), 5.0) + 30.0 * np.sin(np.linspace(0, 200 * np.pi, n))[:, None]
    assert np.all(measured_iq_error(fast, 0.0) > 1.5 * measured_iq_error(ramp, 0.0))


def test_the_d_current_follows_changes_of_the_cross_coupling_only(tmp_path: Path, profile) -> None:
    n = 4000
    speed = np.concatenate([np.zeros(n // 2), np.full(n // 2, 1.0)])[:, None] * np.ones(6)
    position = np.cumsum(speed * DT, axis=0)
    command = np.full((n, 6), 20.0)
    quiet = tmp_path / "quiet.toml"
    quiet.write_text(
        'base = "default"\n[noise]\ncurrent = 0.0\ncurrent_ripple = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]\n'
        "current_ripple_speed = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]\n"
    )
    quiet_profile = load_profile(quiet)
    drive = electrical(
        quiet_profile, command, position, speed, np.zeros(6), DT, 1.0, np.random.default_rng(1)
    )
    jump = n // 2
    assert np.all(np.abs(drive.id[jump - 2 : jump + 2]).max(axis=0) > 1e-3)  # w iq changes: id moves
    np.testing.assert_allclose(drive.id[100 : jump - 5], 0.0, atol=1e-9)  # standing
    np.testing.assert_allclose(drive.id[jump + 5 :], 0.0, atol=1e-9)  # steady speed: the loop cancels it


def test_the_drives_torque_estimate_is_affine_in_its_current_and_ripples_only_in_motion(profile) -> None:
    n, rng = 3000, np.random.default_rng(2)
    kt = np.array(profile.drives.torque_constant) * np.array(profile.drives.gear_ratio)
    command = np.linspace(-20, 20, n)[:, None] * np.ones(6)
    still = electrical(profile, command, np.zeros((n, 6)), np.zeros((n, 6)), np.zeros(6), DT, 1.0, rng)
    for axis in range(6):
        slope, offset = np.polyfit(still.iq[:, axis], still.motor_torque[:, axis], 1)
        assert slope == pytest.approx(kt[axis], rel=0.1)  # one torque-map value at a standing rotor
        residual = still.motor_torque[:, axis] - (slope * still.iq[:, axis] + offset)
        assert np.abs(residual).max() < 1e-6 * kt[axis] * 20 + 1e-9
    speed = np.full((n, 6), 1.0)
    moving = electrical(profile, command, np.cumsum(speed * DT, axis=0), speed, np.zeros(6), DT, 1.0, rng)
    for axis in range(6):
        slope, offset = np.polyfit(moving.iq[:, axis], moving.motor_torque[:, axis], 1)
        residual = moving.motor_torque[:, axis] - (slope * moving.iq[:, axis] + offset)
        assert np.std(residual) > 0.1  # the torque map and the cogging map as the rotor turns


def test_the_bending_mode_rings_after_a_change_of_acceleration_and_not_under_a_steady_one(profile) -> None:
    n = 2000
    qdd = np.zeros((n, 6))
    qdd[200:] = 3.0  # a step of acceleration: a jerk
    x, v = bending_mode(profile, qdd, DT)
    st = profile.structure
    late = slice(1500, None)
    np.testing.assert_allclose(v[late], 0.0, atol=1e-6)  # steady acceleration: bent, not ringing
    bent = -np.array(st.share) * 3.0 / (2 * np.pi * np.array(st.frequency_hz)) ** 2
    np.testing.assert_allclose(x[late], np.broadcast_to(bent, x[late].shape), rtol=1e-3)
    np.testing.assert_array_equal(x[:200], 0.0)
    for axis in range(6):  # it rings at the mode's frequency
        crossings = np.flatnonzero(np.diff(np.sign(v[205:700, axis])) != 0)
        period = 2 * np.mean(np.diff(crossings)) * DT
        damped = st.frequency_hz[axis] * np.sqrt(1 - st.damping**2)
        assert 1 / period == pytest.approx(damped, rel=0.05)


def test_encoders_and_torque_sensors_trail_the_targets_while_the_motor_current_does_not(profile) -> None:
    ((cycle, _),) = Simulator(profile, seed=4, rate=500).simulate([(0, Variant.PRE_B)])
    lag = profile.controller.encoder_latency_steps
    start = int(np.flatnonzero(sig(cycle, "target_acceleration_1") != 0)[0])
    iq = sig(cycle, "motor_iq_1")
    rest = iq[start - 50 : start - 5]
    assert np.abs(iq[start + 2] - rest.mean()) > 5 * rest.std()  # the current rises with the target
    # the joint starts moving; its encoder shows it `lag` steps later
    joint = sig(cycle, "joint_position_1") - sig(cycle, "joint_position_1")[start - 20]
    assert np.all(np.abs(joint[start : start + lag - 1]) < 1e-4)
    np.testing.assert_array_equal(delayed(np.arange(5.0)[:, None], 2)[:, 0], [0, 0, 0, 1, 2])


def test_stiction_holds_a_current_at_rest_by_how_the_axis_came_to_rest(profile) -> None:
    """After each move the axis overshoots by a hair (the friction model feeds forward a
    little more than the warm gears need), the integral pulls it back and stiction holds it:
    the motor presses against its last move. With more friction it stops short and presses
    on in the direction of the move: the sign of the excerpt's normal and friction cycles."""
    results = Simulator(profile, seed=9, rate=100).simulate(
        [(s, Variant.PRE_B) for s in range(6)] + [(s, Variant.A1_B) for s in range(6)]
    )
    rest = [float(np.mean(sig(c, "motor_iq_1")[(c.time > 0.05) & (c.time < 0.45)])) for c, _ in results]
    normal, friction = np.array(rest[:6]), np.array(rest[6:])
    assert np.all(normal > 0.1) and np.all(friction < -0.1)  # axis 1 last moved towards -
    fc = profile.friction.coulomb[0] * profile.friction.stiction
    kt = profile.drives.torque_constant[0] * profile.drives.gear_ratio[0]
    assert np.all(np.abs(normal) * kt < 1.2 * fc) and np.all(np.abs(friction) * kt < 1.2 * 1.6 * fc)
    # the load needs none of it: axis 1 turns about the vertical, the link side carries ~0
    cycle = results[0][0]
    still = (cycle.time > 0.05) & (cycle.time < 0.45)
    assert (
        abs(np.mean(sig(cycle, "torque_sensor_a_1")[still] + sig(cycle, "torque_sensor_b_1")[still]) / 2)
        < 0.6
    )


def test_the_moving_share_fades_ripples_in_from_standstill() -> None:
    from replay.simulator.drive import moving_share

    np.testing.assert_allclose(
        moving_share(np.array([0.0, MOVING_SPEED / 2, -MOVING_SPEED, 3.0])), [0, 0.5, 1, 1]
    )
