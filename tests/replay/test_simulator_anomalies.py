"""Each anomaly moves the signals its physics moves and leaves the others.

Every anomalous cycle is compared with its normal twin: the same sample id and seed give
the same normal variation (can position, timing, friction drift) and the same noise, so
the difference between the two is the anomaly's physics alone. The twin is a normal test
cycle (PRE_B): like the anomalies it was recorded after the training cycles, so it shares
their place in the recording and with it the drift of the gears' friction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from replay.cycle import Cycle
from replay.schema import SIGNALS, Action, Variant
from replay.simulator.arm import Body
from replay.simulator.disturbances import cable_bending, cable_bodies
from replay.simulator.dynamics import body_terms
from replay.simulator.kinematics import forward, motion
from replay.simulator.profile import load_profile
from replay.simulator.simulate import Simulator, Truth

COLUMN = {name: i for i, name in enumerate(SIGNALS)}
SAMPLE = 3
VARIANTS = (
    Variant.A2_B,
    Variant.A3_500G,
    Variant.LARGE_FULL,
    Variant.CONVEYOR,
    Variant.NO_VACUUM,
    Variant.DROP_200MS,
    Variant.INCREASE_407G,
    Variant.CABLE,
    Variant.PICK,
    Variant.A2_MEDIUM,
    Variant.LOW_DAMPING,
)


@pytest.fixture(scope="module")
def profile():
    return load_profile("default")


@pytest.fixture(scope="module")
def runs(profile) -> dict[Variant, tuple[Cycle, Truth]]:
    simulator = Simulator(profile, seed=21, rate=100)
    results = simulator.simulate([(SAMPLE, v) for v in (Variant.PRE_B, *VARIANTS)])
    return dict(zip((Variant.PRE_B, *VARIANTS), results, strict=True))


def sig(cycle: Cycle, name: str) -> np.ndarray:
    return cycle.signals[:, COLUMN[name]]


def delta(runs, variant: Variant, name: str) -> np.ndarray:
    """Anomalous minus normal twin (same length unless the anomaly changes timing)."""
    a, b = runs[variant][0], runs[Variant.PRE_B][0]
    n = min(a.n_steps, b.n_steps)
    return sig(a, name)[:n] - sig(b, name)[:n]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def span(cycle: Cycle, first: Action, last: Action) -> np.ndarray:
    return (cycle.action >= first) & (cycle.action <= last)


def test_the_normal_variation_is_shared_by_twins(runs) -> None:
    normal, _ = runs[Variant.PRE_B]
    for variant in (Variant.A2_B, Variant.CABLE, Variant.A2_MEDIUM):
        cycle, truth = runs[variant]
        assert cycle.n_steps == normal.n_steps and truth.can_x == runs[Variant.PRE_B][1].can_x
        np.testing.assert_array_equal(cycle.action, normal.action)
        np.testing.assert_array_equal(sig(cycle, "target_position_1"), sig(normal, "target_position_1"))


def test_extra_friction_loads_the_motor_but_not_the_link_side_torque_sensors(runs) -> None:
    motor = rms(delta(runs, Variant.A2_B, "motor_torque_2"))
    assert motor > 2.0  # N·m: the drive pushes through the added friction
    assert rms(delta(runs, Variant.A2_B, "motor_iq_2")) > 0.1
    assert rms(delta(runs, Variant.A2_B, "torque_sensor_a_2")) < 0.3 * motor
    for axis in (1, 5, 6):
        assert rms(delta(runs, Variant.A2_B, f"motor_torque_{axis}")) < 0.15 * motor
    # axis 4 turns parallel to axis 2: the slower axis 2 changes its inertial load, and
    # where a standing axis ends up held by stiction depends on how it came to rest
    assert rms(delta(runs, Variant.A2_B, "motor_torque_4")) < 0.3 * motor
    assert runs[Variant.A2_B][1].axis == 2


def test_extra_weight_on_an_axis_shows_its_gravity_in_sensors_but_not_in_the_model(profile, runs) -> None:
    cycle, truth = runs[Variant.A3_500G]
    assert truth.axis == 3 and truth.intensity == pytest.approx(0.5)
    # the weight's gravity torque at the scan pose, from the dynamics of a point mass
    arm = profile.arm_model()
    q = np.array(profile.cell.scan_joints)[None]
    frames = forward(arm, q)
    weight = Body.point(0.5, profile.anomalies.weight_point[2])
    gravity = body_terms(frames, motion(frames, np.zeros_like(q), np.zeros_like(q)), 3, weight).bias[0]
    scan = np.flatnonzero(cycle.action == Action.VOID_2)[20:-15]
    for axis in (2, 3):
        change = delta(runs, Variant.A3_500G, f"torque_sensor_a_{axis}")[scan].mean()
        assert change == pytest.approx(gravity[axis - 1], rel=0.1, abs=0.05)
        assert abs(gravity[axis - 1]) > 0.5
    np.testing.assert_array_equal(delta(runs, Variant.A3_500G, "computed_torque_2"), 0.0)


def test_a_collision_deflects_the_arm_only_from_the_moment_it_happens(runs) -> None:
    cycle, truth = runs[Variant.LARGE_FULL]
    normal, _ = runs[Variant.PRE_B]
    before = cycle.time < truth.event_start_s - 0.02
    np.testing.assert_array_equal(cycle.signals[before], normal.signals[before])
    during = (cycle.time >= truth.event_start_s) & (cycle.time <= truth.event_end_s)
    assert during.sum() >= 0.3 * 100 - 2
    deflection = max(
        np.abs(sig(cycle, f"joint_position_{a}") - sig(cycle, f"target_position_{a}"))[during].max()
        - np.abs(sig(normal, f"joint_position_{a}") - sig(normal, f"target_position_{a}"))[during].max()
        for a in range(1, 7)
    )
    assert deflection > 1e-3  # rad: a 40 N push moves the joints visibly off their path
    assert (
        max(np.abs(delta(runs, Variant.LARGE_FULL, f"torque_sensor_a_{a}"))[during].max() for a in (1, 2, 3))
        > 3.0
    )


def test_a_collision_can_hit_the_standing_arm(tmp_path: Path) -> None:
    custom = tmp_path / "hanging.toml"
    custom.write_text('base = "default"\n[anomalies.collisions.LARGE_HANGING_FULL]\nstanding = 1.0\n')
    profile = load_profile(custom)
    (cycle, truth), (normal, _) = Simulator(profile, seed=5).simulate(
        [(0, Variant.LARGE_HANGING_FULL), (0, Variant.PRE_B)]
    )
    during = (cycle.time >= truth.event_start_s) & (cycle.time <= truth.event_end_s + 0.05)
    start = np.flatnonzero(during)[0]
    assert all(sig(cycle, f"target_velocity_{a}")[start] == 0 for a in range(1, 7))  # the program stands
    # the link side carries the push; stiction holds a standing joint unless the push
    # exceeds what it can hold, so the joints move little or not at all
    pushed = max(
        np.abs(sig(cycle, f"torque_sensor_a_{a}") - sig(normal, f"torque_sensor_a_{a}"))[during].max()
        for a in (1, 2, 3)
    )
    assert pushed > 3.0
    moved = max(
        np.abs(sig(cycle, f"joint_position_{a}") - sig(normal, f"joint_position_{a}"))[during].max()
        for a in (1, 2, 3)
    )
    assert moved < 0.01


def test_a_missed_can_is_never_carried(profile, runs) -> None:
    normal, _ = runs[Variant.PRE_B]
    carrying = span(normal, Action.VOID_5, Action.VOID_6)
    for variant in (Variant.CONVEYOR, Variant.NO_VACUUM):
        cycle, truth = runs[variant]
        assert truth.event_start_s < truth.event_end_s
        before = cycle.time < truth.event_start_s
        np.testing.assert_array_equal(cycle.signals[before], normal.signals[before])
        # without the can the sensed load of axes 2 and 3 is lighter while carrying
        assert np.abs(delta(runs, variant, "torque_sensor_a_2")[carrying]).mean() > 0.5
    vacuum = span(normal, Action.VOID_4, Action.VOID_6)
    idle = profile.electrical.io_current_idle
    assert sig(runs[Variant.CONVEYOR][0], "io_current")[vacuum].mean() > idle + 0.08  # the valve works
    assert sig(runs[Variant.NO_VACUUM][0], "io_current")[vacuum].mean() < idle + 0.02  # it never opens


def test_losing_the_can_drops_its_load_and_the_valve_current_when_the_gripper_opens(runs) -> None:
    cycle, truth = runs[Variant.DROP_200MS]
    normal, _ = runs[Variant.PRE_B]
    move = np.flatnonzero(normal.action == Action.TO_PLACE_PTP)
    # the action label lags 0.15 s behind the move; the gripper opens 0.2 s into the move
    assert truth.event_start_s == pytest.approx(normal.time[move[0]] - 0.15 + 0.2, abs=0.02)
    after = (cycle.time > truth.event_end_s + 0.3) & (cycle.action <= Action.VOID_6)
    lost = np.abs(delta(runs, Variant.DROP_200MS, "torque_sensor_a_2")[after]).mean()
    never = np.abs(delta(runs, Variant.CONVEYOR, "torque_sensor_a_2")[after]).mean()
    assert lost == pytest.approx(never, rel=0.25)  # after the drop: as if there was no can
    assert sig(cycle, "io_current")[after].mean() < sig(normal, "io_current")[after].mean() - 0.08
    carried = (cycle.time > 0) & (cycle.time < truth.event_start_s - 0.02)
    np.testing.assert_array_equal(cycle.signals[carried], normal.signals[carried])


def test_a_heavier_can_weighs_only_while_it_is_carried(runs) -> None:
    cycle, _ = runs[Variant.INCREASE_407G]
    normal, _ = runs[Variant.PRE_B]
    up = np.flatnonzero(normal.action == Action.UP_PICK_LIN)[0] - 15  # label lag
    np.testing.assert_array_equal(cycle.signals[:up], normal.signals[:up])
    carrying = span(normal, Action.VOID_5, Action.VOID_6)
    assert np.abs(delta(runs, Variant.INCREASE_407G, "torque_sensor_a_2")[carrying]).mean() > 0.5
    assert runs[Variant.INCREASE_407G][1].intensity == pytest.approx(0.448)


def test_a_cable_tied_along_the_arm_weighs_on_it_and_resists_bending_the_whole_cycle(profile, runs) -> None:
    truth = runs[Variant.CABLE][1]
    normal, _ = runs[Variant.PRE_B]
    assert np.isnan(truth.event_start_s)  # not an event: it is there the whole cycle
    assert truth.intensity == pytest.approx(0.3 * (0.4 + 0.4047), rel=1e-6)  # kg of cable
    np.testing.assert_array_equal(delta(runs, Variant.CABLE, "target_position_2"), 0.0)
    np.testing.assert_array_equal(
        delta(runs, Variant.CABLE, "computed_torque_2"), 0.0
    )  # unknown to the model
    # the sensed load changes by the cable's weight and by its bending back towards the pose
    # in which it was tied on (where every cycle starts): there only its weight shows
    arm, spec = profile.arm_model(), profile.anomalies.cable
    tied = np.array(profile.cell.over_place_joints)
    for pose, rows in (
        (np.array(profile.cell.scan_joints), np.flatnonzero(normal.action == Action.VOID_2)[20:-15]),
        (tied, np.flatnonzero(normal.time < 0.4)),
    ):
        q = pose[None]
        frames = forward(arm, q)
        still = motion(frames, np.zeros_like(q), np.zeros_like(q))
        weight = sum(body_terms(frames, still, link, body).bias[0] for link, body in cable_bodies(spec))
        bend = cable_bending(q, np.zeros_like(q), tied, spec)[0]
        assert np.abs(weight[1:3]).max() > 0.15
        for axis in (2, 3):
            change = delta(runs, Variant.CABLE, f"torque_sensor_a_{axis}")[rows].mean()
            assert change == pytest.approx(weight[axis - 1] - bend[axis - 1], abs=0.15), (pose, axis)
    assert np.abs(delta(runs, Variant.CABLE, "torque_sensor_a_6")).max() < 0.2  # it spans no wrist joint


def test_an_invalid_position_changes_the_pick_pose_and_delays_the_cycle(runs) -> None:
    cycle, truth = runs[Variant.PICK]
    normal, twin = runs[Variant.PRE_B]
    assert truth.duration_s > twin.duration_s + 0.4 and cycle.n_steps > normal.n_steps + 40
    pick = lambda c: sig(c, "target_position_6")[np.flatnonzero(c.action == Action.VOID_4)[0]]  # noqa: E731
    assert abs(pick(cycle) - pick(normal)) > 0.5  # the tool turns to grip a displaced can
    assert truth.event_start_s < truth.event_end_s


def test_miscommutation_wastes_current_on_the_d_axis_without_changing_the_load(profile, runs) -> None:
    cycle, truth = runs[Variant.A2_MEDIUM]
    normal, _ = runs[Variant.PRE_B]
    assert truth.axis == 2 and truth.intensity == pytest.approx(25.0)
    assert np.abs(sig(cycle, "motor_id_2")).mean() > 0.5 > 4 * np.abs(sig(normal, "motor_id_2")).mean()
    assert np.abs(sig(cycle, "motor_id_3")).mean() == pytest.approx(
        np.abs(sig(normal, "motor_id_3")).mean(), abs=0.02
    )
    # the drive's torque per torque-forming current rises by 1 / cos(25°)
    kt = profile.drives.torque_constant[1] * profile.drives.gear_ratio[1]
    iq, torque = sig(cycle, "motor_iq_2"), sig(cycle, "motor_torque_2")
    slope = np.polyfit(iq, torque, 1)[0]
    assert slope == pytest.approx(kt / np.cos(np.deg2rad(25)), rel=0.03)
    assert np.polyfit(sig(normal, "motor_iq_2"), sig(normal, "motor_torque_2"), 1)[0] == pytest.approx(
        kt, rel=0.03
    )
    power = sig(cycle, "power_motor_el_2").mean() - sig(normal, "power_motor_el_2").mean()
    assert power > 1.0  # W of extra copper loss
    assert rms(delta(runs, Variant.A2_MEDIUM, "torque_sensor_a_2")) < 0.5 * rms(
        delta(runs, Variant.A2_MEDIUM, "motor_torque_2")
    )


def test_a_wobbling_station_rings_at_the_stands_natural_frequency(profile, runs) -> None:
    change = delta(runs, Variant.LOW_DAMPING, "torque_sensor_a_2")
    spectrum = np.abs(np.fft.rfft(change - change.mean()))
    freqs = np.fft.rfftfreq(len(change), d=np.diff(runs[Variant.PRE_B][0].time).mean())
    # below the arm's own bending modes (10 Hz and up), which the swaying stand excites too
    band = (freqs > 0.5) & (freqs < 8.0)
    peak = freqs[band][np.argmax(spectrum[band])]
    assert peak == pytest.approx(profile.anomalies.platform.wobbling_frequency_hz, rel=0.2)
    assert rms(change) > 0.1
