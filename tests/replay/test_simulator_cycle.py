"""One simulated normal cycle: the program, what each signal means, rest behaviour, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from replay.cycle import Cycle
from replay.schema import SIGNALS, Action, Variant
from replay.simulator.profile import load_profile
from replay.simulator.simulate import Simulator

COLUMN = {name: i for i, name in enumerate(SIGNALS)}


def sig(cycle: Cycle, name: str) -> np.ndarray:
    return cycle.signals[:, COLUMN[name]]


@pytest.fixture(scope="module")
def profile():
    return load_profile("default")


@pytest.fixture(scope="module")
def batch(profile) -> list[Cycle]:
    """Three normal cycles of seed 11, simulated together."""
    return [
        c for c, _ in Simulator(profile, seed=11, rate=100).simulate([(s, Variant.PRE_A) for s in range(3)])
    ]


@pytest.fixture(scope="module")
def cycle(batch) -> Cycle:
    return batch[1]


def rows(cycle: Cycle, action: Action) -> np.ndarray:
    return np.flatnonzero(cycle.action == action)


def standing(cycle: Cycle, action: Action) -> np.ndarray:
    """Rows of a standing action without its last 0.15 s: the action label lags the motion
    by that much, as in the real recording, so they already belong to the next move."""
    return rows(cycle, action)[:-15]


def test_a_cycle_runs_the_pick_and_place_program_in_order(batch) -> None:
    for cycle in batch:
        changes = np.flatnonzero(np.diff(cycle.action.astype(int))) + 1
        assert cycle.action[0] == 0 and list(cycle.action[np.r_[0, changes]]) == list(range(15))
        np.testing.assert_array_equal(cycle.active, cycle.action % 2)
        assert 1000 <= cycle.n_steps <= 1250  # 10-12.5 s, like the real 100 Hz cycles
        assert cycle.signals.shape == (cycle.n_steps, 130) and np.isfinite(cycle.signals).all()
        # every value is a float32, as in the real recording
        np.testing.assert_array_equal(cycle.signals.astype(np.float32), cycle.signals)


def test_time_restarts_each_cycle_and_ticks_like_the_real_controller(batch) -> None:
    for cycle in batch:
        assert 0.0 <= cycle.time[0] < 0.01
        step = np.diff(cycle.time)
        assert step.mean() == pytest.approx(0.010067, abs=2e-5) and step.min() > 0.0099


def test_the_robot_stands_still_during_camera_detection_and_gripping(cycle) -> None:
    for action in (Action.VOID_2, Action.VOID_4):
        r = standing(cycle, action)[15:]  # the slow axes still settle the first rows
        assert np.all(sig(cycle, "target_velocity_1")[r] == 0)
        for axis in range(1, 7):
            assert np.ptp(sig(cycle, f"target_position_{axis}")[r]) == 0
            # stiction holds the arm; at most the integral pulls it back the last bit
            assert np.max(np.abs(sig(cycle, f"motor_velocity_{axis}")[r])) < 0.05
            # stiction stops an axis within breakaway torque / kp of its target (a few mrad)
            error = sig(cycle, f"joint_position_{axis}")[r] - sig(cycle, f"target_position_{axis}")[r]
            assert np.max(np.abs(error)) < 8e-3


def test_a_settled_standing_arm_does_not_move_at_all(cycle) -> None:
    """The motor encoder stands still (zero speed) once the arm has settled, as in the real
    recording's first second; only the link encoder's noise remains. The camera's long
    standing time is settled at its end (the integral may pull an axis back against
    stiction early in it)."""
    r = standing(cycle, Action.VOID_2)[-60:]
    for axis in range(1, 7):
        assert np.all(sig(cycle, f"motor_velocity_{axis}")[r] == 0)
        assert 0.0005 < np.std(sig(cycle, f"joint_velocity_{axis}")[r]) < 0.005


def test_signals_mean_what_their_names_say(profile, cycle) -> None:
    d = profile.drives
    for axis in range(1, 7):
        kt = d.torque_constant[axis - 1] * d.gear_ratio[axis - 1]
        iq, torque = sig(cycle, f"motor_iq_{axis}"), sig(cycle, f"motor_torque_{axis}")
        id_ = sig(cycle, f"motor_id_{axis}")
        # the drive's torque estimate: kt times its current, through its angle-dependent
        # torque map and cogging map, plus its offset (here: no commutation error)
        bound = d.torque_constant_ripple[axis - 1] * kt * np.abs(iq) + d.torque_cogging[axis - 1] + 1e-3
        assert np.all(np.abs(torque - kt * iq - d.torque_offset[axis - 1]) <= bound + 1e-5 * np.abs(torque))
        np.testing.assert_allclose(
            sig(cycle, f"power_motor_mech_{axis}"),
            torque * sig(cycle, f"motor_velocity_{axis}"),
            rtol=1e-5,
            atol=1e-5,
        )
        load = 0.5 * (sig(cycle, f"torque_sensor_a_{axis}") + sig(cycle, f"torque_sensor_b_{axis}"))
        np.testing.assert_allclose(
            sig(cycle, f"power_load_mech_{axis}"),
            load * sig(cycle, f"joint_velocity_{axis}"),
            rtol=1e-5,
            atol=1e-5,
        )
        # electrical power = sqrt(3/2) (uq iq + ud id), the ratio the real drives show
        electrical, volt_amps = sig(cycle, f"power_motor_el_{axis}"), sig(cycle, f"motor_voltage_{axis}") * iq
        ratio = np.sum(electrical * volt_amps) / np.sum(volt_amps**2)
        assert ratio == pytest.approx(np.sqrt(1.5), rel=0.05)
        # no commutation error: the d current only ripples with the q current
        assert np.abs(id_).mean() < 0.05 + 0.1 * np.abs(iq).mean()
        # the joint follows its target (the encoders' latency makes it trail by ~10 ms)
        assert (
            np.max(np.abs(sig(cycle, f"joint_position_{axis}") - sig(cycle, f"target_position_{axis}")))
            < 0.05
        )
    # the motor draws electrical power for mechanical work: more while moving than at rest
    moving, still = cycle.active == 1, cycle.action == Action.VOID_2
    assert sig(cycle, "robot_current")[moving].mean() > sig(cycle, "robot_current")[still].mean()
    # the vacuum valve draws io current from gripping until release
    vacuum = (cycle.action >= Action.VOID_4) & (cycle.action < Action.VOID_7)
    assert sig(cycle, "io_current")[vacuum].mean() > sig(cycle, "io_current")[~vacuum].mean() + 0.05


def test_the_controllers_model_is_off_by_a_share_that_changes_with_the_pose(cycle) -> None:
    """computed_torque is the controller's model, 5-30 % off the sensed torque at rest, by
    a share that differs from pose to pose (the links' errors weigh differently)."""
    shares = []
    for action in (Action.VOID_1, Action.VOID_2, Action.VOID_4):
        r = standing(cycle, action)[5:]
        share = []
        for axis in (2, 3):
            sensed = 0.5 * (sig(cycle, f"torque_sensor_a_{axis}") + sig(cycle, f"torque_sensor_b_{axis}"))[r]
            share.append(sig(cycle, f"computed_torque_{axis}")[r].mean() / sensed.mean() - 1.0)
        shares.append(share)
    shares_a = np.array(shares)
    assert np.all((np.abs(shares_a) > 0.05) & (np.abs(shares_a) < 0.3)), shares_a
    assert np.ptp(shares_a[:, 1]) > 0.02  # pose-dependent


def test_a_seed_gives_the_same_cycles_and_a_cycle_does_not_depend_on_its_batch(profile, batch) -> None:
    alone = Simulator(profile, seed=11, rate=100).simulate([(1, Variant.PRE_A)])[0][0]
    np.testing.assert_array_equal(alone.signals, batch[1].signals)
    np.testing.assert_array_equal(alone.time, batch[1].time)
    other = Simulator(profile, seed=12, rate=100).simulate([(1, Variant.PRE_A)])[0][0]
    assert other.n_steps != alone.n_steps or not np.array_equal(other.signals, alone.signals)


def test_the_100_hz_table_keeps_every_5th_step_of_the_500_hz_one(profile, cycle) -> None:
    fast = Simulator(profile, seed=11, rate=500).simulate([(1, Variant.PRE_A)])[0][0]
    phase = round(cycle.time[0] * profile.controller.rate_hz)
    np.testing.assert_array_equal(fast.signals[phase::5], cycle.signals)
    np.testing.assert_array_equal(fast.action[phase::5], cycle.action)
