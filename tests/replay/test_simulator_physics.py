"""The simulator's mechanics: inertial parameters, rigid-body dynamics, motion profiles, kinematics."""

from __future__ import annotations

import numpy as np
import pytest

from replay.simulator.arm import GRAVITY, Body, inertia_problems
from replay.simulator.dynamics import arm_terms
from replay.simulator.kinematics import body_point, forward, inverse, motion
from replay.simulator.profile import load_profile
from replay.simulator.program import tool_down
from replay.simulator.trajectory import Limits, double_s, ptp_profile, ptp_targets


@pytest.fixture(scope="module")
def arm():
    return load_profile("default").arm_model()


def test_the_published_ur5_urdf_wrist_inertia_is_rejected_and_the_corrected_one_accepted() -> None:
    # ros-industrial ur5.urdf.xacro: a 1.219 kg wrist link as a cylinder of radius 0.6 m
    urdf = Body.from_six(1.219, [0, 0, 0], [0.111172755531, 0.111172755531, 0.21942, 0, 0, 0])
    problems = inertia_problems(urdf, radius=0.1, name="wrist_1")
    assert problems and "exceeds" in problems[0]
    fixed = Body.from_six(1.219, [0, 0, 0], [0.00256, 0.00256, 0.0021942, 0, 0, 0])
    assert inertia_problems(fixed, radius=0.1, name="wrist_1") == []
    # UR's own tensor for the UR10 flange has principal moments no body can have
    flange = Body.from_six(0.365, [0, 0, 0], [0.0, 0.0004, 0.0003, 0, 0, 0])
    assert "triangle" in inertia_problems(flange, radius=0.06, name="flange")[0]


def _terms(arm, q, qd=None):
    q = np.atleast_2d(q)
    qd = np.zeros_like(q) if qd is None else np.atleast_2d(qd)
    frames = forward(arm, q)
    return arm_terms(frames, motion(frames, qd, np.zeros_like(q)), arm)


def _potential(arm, q):
    frames = forward(arm, np.atleast_2d(q))
    return sum(-b.mass * GRAVITY @ body_point(frames, i + 1, b.com)[0] for i, b in enumerate(arm.links))


def test_mass_matrix_is_symmetric_positive_definite_and_gravity_is_the_potential_gradient(arm) -> None:
    rng = np.random.default_rng(0)
    for q in rng.uniform(-np.pi, np.pi, (5, 6)):
        terms = _terms(arm, q)
        m = terms.mass_matrix[0]
        np.testing.assert_allclose(m, m.T, atol=1e-12)
        assert np.linalg.eigvalsh(m).min() > 0
        # at rest the bias torque is gravity: the gradient of the potential energy
        h = 1e-6
        grad = [(_potential(arm, q + h * e) - _potential(arm, q - h * e)) / (2 * h) for e in np.eye(6)]
        np.testing.assert_allclose(terms.bias[0], grad, atol=1e-6)


def test_joint_power_equals_the_rate_of_change_of_energy(arm) -> None:
    """q_d' tau = d/dt (kinetic + potential energy) along any motion: Newton-Euler is right."""
    t = np.linspace(0, 1, 2001)
    dt = t[1] - t[0]
    q = np.stack([0.5 * np.sin(2 * t + i) + 0.3 * i for i in range(6)], axis=1)
    qd = np.gradient(q, dt, axis=0)
    qdd = np.gradient(qd, dt, axis=0)
    frames = forward(arm, q)
    terms = arm_terms(frames, motion(frames, qd, np.zeros_like(q)), arm)
    tau = terms.torque(qdd)
    kinetic = 0.5 * np.einsum("ti,tij,tj->t", qd, terms.mass_matrix, qd)
    potential = np.array([_potential(arm, qi) for qi in q])
    energy_rate = np.gradient(kinetic + potential, dt)
    power = np.einsum("ti,ti->t", qd, tau)
    inner = slice(10, -10)
    assert np.max(np.abs(power[inner] - energy_rate[inner])) < 1e-3 * np.max(np.abs(power))


def test_coriolis_and_centrifugal_torques_follow_from_the_mass_matrix(arm) -> None:
    """Lagrange: tau = M q_dd + (dM/dt) q_d - 1/2 q_d' (dM/dq) q_d + g, with dM/dq by differences."""
    rng = np.random.default_rng(1)
    h = 1e-6
    for _ in range(3):
        q, qd, qdd = rng.uniform(-2, 2, 6), rng.uniform(-1.5, 1.5, 6), rng.uniform(-3, 3, 6)
        dm = np.stack(
            [
                (_terms(arm, q + h * e).mass_matrix[0] - _terms(arm, q - h * e).mass_matrix[0]) / (2 * h)
                for e in np.eye(6)
            ]
        )
        m_dot = np.einsum("kij,k->ij", dm, qd)
        expected = (
            _terms(arm, q).torque(qdd[None])[0] + m_dot @ qd - 0.5 * np.einsum("i,kij,j->k", qd, dm, qd)
        )
        np.testing.assert_allclose(_terms(arm, q, qd).torque(qdd[None])[0], expected, atol=1e-5)


def test_double_s_profile_respects_its_limits_and_ends_at_rest_on_the_target() -> None:
    limits = Limits(velocity=1.5, acceleration=4.0, jerk=40.0)
    for distance in (0.05, 1.0, 3.0):  # short moves never reach top speed, long ones do
        shape = double_s(
            Limits(limits.velocity / distance, limits.acceleration / distance, limits.jerk / distance)
        )
        t = np.linspace(0, shape.duration, 20001)
        s, ds, dds = shape.sample(t)
        assert s[0] == 0 and s[-1] == pytest.approx(1.0, abs=1e-12) and ds[-1] == pytest.approx(0, abs=1e-9)
        assert np.all(np.diff(s) >= -1e-12)
        assert np.max(ds) * distance <= limits.velocity * (1 + 1e-9)
        assert np.max(np.abs(dds)) * distance <= limits.acceleration * (1 + 1e-9)
        jerk = np.diff(dds) / np.diff(t)
        assert np.max(np.abs(jerk)) * distance <= limits.jerk * 1.01


def test_ptp_move_keeps_every_axis_within_its_limits_and_all_axes_arrive_together() -> None:
    start, end = np.zeros(6), np.array([1.5, -0.3, 0.8, 0.0, 2.5, -1.0])
    vmax, amax, jmax = np.full(6, 1.3), np.full(6, 3.0), np.full(6, 40.0)
    shape = ptp_profile(start, end, vmax, amax, jmax).on_grid(0.002)
    t = np.arange(round(shape.duration / 0.002) + 1) * 0.002
    q, qd, qdd = ptp_targets(start, end, shape, t)
    np.testing.assert_allclose(q[-1], end, atol=1e-12)
    assert np.all(np.abs(qd) <= vmax + 1e-9) and np.all(np.abs(qdd) <= amax + 1e-9)
    # the slowest axis sets the pace: it reaches its speed limit, the others do not
    assert np.abs(qd[:, 4]).max() == pytest.approx(1.3, rel=0.02)
    moving = np.abs(qd) > 1e-9
    assert np.all(moving[:, [0, 1, 2, 4, 5]].any(axis=1) == moving[:, 4])


def test_inverse_kinematics_reaches_poses_within_the_workspace(arm) -> None:
    tcp = np.array([0.0, 0.0, 0.16])
    seed = np.array([0.2, -1.3, 1.9, -2.17, -1.57, 0.0])
    targets = np.array([[-0.6, -0.3, 0.05], [-0.5, 0.2, 0.3], [-0.7, -0.1, 0.15]])
    q = inverse(arm, tcp, targets, tool_down(0.3), seed)
    frames = forward(arm, q)
    np.testing.assert_allclose(body_point(frames, 6, tcp), targets, atol=1e-9)
    np.testing.assert_allclose(frames.rot[:, 6], np.broadcast_to(tool_down(0.3), (3, 3, 3)), atol=1e-9)
    with pytest.raises(ValueError, match="out of the arm's reach"):
        inverse(arm, tcp, np.array([[3.0, 0.0, 0.0]]), tool_down(0.0), seed)
