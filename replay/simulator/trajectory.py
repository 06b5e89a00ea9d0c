"""Jerk-limited motion profiles and the joint targets of PTP and LIN moves.

Both kinds of move follow a normalized double-S profile s(t) from 0 to 1 (seven phases of
constant jerk, Biagiotti & Melchiorri, "Trajectory Planning for Automatic Machines and
Robots", 2008, §3.4): a PTP move scales it by the joint distance, so that all axes start
and stop together (as the real controller does: in the voraus-AD excerpt all axes reach
their constant acceleration at the same sample); a LIN move scales it along a straight
tool path and maps every point through the inverse kinematics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay.simulator.arm import Arm
from replay.simulator.kinematics import body_point, cross, forward, inverse, motion, point_jacobian


@dataclass(frozen=True)
class Limits:
    velocity: float
    acceleration: float
    jerk: float


@dataclass(frozen=True)
class Profile:
    """A rest-to-rest double-S profile: seven phase durations (s) with their jerks."""

    durations: np.ndarray
    jerks: np.ndarray

    @property
    def duration(self) -> float:
        return float(self.durations.sum())

    def on_grid(self, dt: float) -> Profile:
        """The same profile slowed down to last a whole number of steps `dt`, so that the
        move ends exactly on a sample and its time reverse lies on the same samples."""
        if self.duration == 0.0:
            return self
        k = np.ceil(self.duration / dt - 1e-9) * dt / self.duration
        return Profile(self.durations * k, self.jerks / k**3)

    def sample(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """s, ds/dt, d2s/dt2 at times t (s since the start); held at the end afterwards."""
        t = np.clip(t, 0.0, self.duration)
        if self.duration == 0.0:  # nothing to move: already at the end
            return np.ones_like(t), np.zeros_like(t), np.zeros_like(t)
        starts = np.concatenate([[0.0], np.cumsum(self.durations)[:-1]])
        # state at the start of every phase, by exact integration of the constant jerks
        p0, v0, a0 = np.zeros(7), np.zeros(7), np.zeros(7)
        p, v, a = 0.0, 0.0, 0.0
        for i, (dt, j) in enumerate(zip(self.durations, self.jerks, strict=True)):
            p0[i], v0[i], a0[i] = p, v, a
            p, v, a = p + v * dt + a * dt**2 / 2 + j * dt**3 / 6, v + a * dt + j * dt**2 / 2, a + j * dt
        phase = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, 6)
        tau = t - starts[phase]
        j = self.jerks[phase]
        s = p0[phase] + v0[phase] * tau + a0[phase] * tau**2 / 2 + j * tau**3 / 6
        ds = v0[phase] + a0[phase] * tau + j * tau**2 / 2
        dds = a0[phase] + j * tau
        # normalize away the rounding of the phase sums so that the move ends exactly at 1
        return s / p, ds / p, dds / p


def double_s(limits: Limits) -> Profile:
    """The fastest rest-to-rest profile over a unit distance within `limits`."""
    vmax, amax, jmax = limits.velocity, limits.acceleration, limits.jerk
    if min(vmax, amax, jmax) <= 0:
        raise ValueError(f"motion limits must be positive, got {limits}")
    if vmax * jmax >= amax**2:
        tj, ta = amax / jmax, amax / jmax + vmax / amax
    else:
        tj = np.sqrt(vmax / jmax)
        ta = 2 * tj
    tv = 1.0 / vmax - ta
    if tv < 0:  # the top speed is not reached on this distance
        tv = 0.0
        if 2 * amax**3 / jmax**2 <= 1.0:
            tj = amax / jmax
            ta = tj / 2 + np.sqrt((tj / 2) ** 2 + 1.0 / amax)
        else:
            tj = (1.0 / (2 * jmax)) ** (1 / 3)
            ta = 2 * tj
    durations = np.array([tj, ta - 2 * tj, tj, tv, tj, ta - 2 * tj, tj])
    jerks = np.array([jmax, 0.0, -jmax, 0.0, -jmax, 0.0, jmax])
    return Profile(np.maximum(durations, 0.0), jerks)


def ptp_profile(
    start: np.ndarray, end: np.ndarray, vmax: np.ndarray, amax: np.ndarray, jmax: np.ndarray
) -> Profile:
    """Synchronized joint move: the axis that needs longest sets the pace of all."""
    dist = np.abs(end - start)
    moving = dist > 1e-9
    if not moving.any():
        return Profile(np.zeros(7), np.zeros(7))
    d = dist[moving]
    return double_s(
        Limits(
            float(np.min(vmax[moving] / d)), float(np.min(amax[moving] / d)), float(np.min(jmax[moving] / d))
        )
    )


def ptp_targets(
    start: np.ndarray, end: np.ndarray, profile: Profile, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Joint position, velocity and acceleration (T, 6) of a PTP move at times t."""
    s, ds, dds = profile.sample(t)
    delta = end - start
    return start + s[:, None] * delta, ds[:, None] * delta, dds[:, None] * delta


def lin_targets(
    arm: Arm,
    tcp: np.ndarray,
    start_q: np.ndarray,
    end_position: np.ndarray,
    profile: Profile,
    t: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Joint targets (T, 6) of a straight tool move at constant orientation from `start_q`.

    Velocities and accelerations are exact, not differenced: q_d = J^-1 x_d and
    q_dd = J^-1 (x_dd - J_d q_d), with J_d q_d from the link motion at zero joint acceleration.
    """
    frames0 = forward(arm, start_q[None])
    p0 = body_point(frames0, 6, tcp)[0]
    rot = frames0.rot[0, 6]
    s, ds, dds = profile.sample(t)
    delta = end_position - p0
    # seeded on the straight joint-space line to the end pose, a few Newton steps suffice
    end_q = inverse(arm, tcp, end_position[None], rot, start_q)[0]
    q = inverse(arm, tcp, p0 + s[:, None] * delta, rot, start_q + s[:, None] * (end_q - start_q))
    frames = forward(arm, q)
    tip = body_point(frames, 6, tcp)
    jv, jw = point_jacobian(frames, 6, tip)
    jac = np.concatenate([jv, jw], axis=1)
    twist = np.concatenate([ds[:, None] * delta, np.zeros((len(t), 3))], axis=-1)
    qd = np.linalg.solve(jac, twist[..., None])[..., 0]
    mot = motion(frames, qd, np.zeros_like(qd))
    r = tip - frames.pos[:, 6]
    w, wd = mot.omega[:, 5], mot.omega_dot[:, 5]
    bias = np.concatenate([mot.accel[:, 5] + cross(wd, r) + cross(w, cross(w, r)), wd], axis=-1)
    accel = np.concatenate([dds[:, None] * delta, np.zeros((len(t), 3))], axis=-1)
    qdd = np.linalg.solve(jac, (accel - bias)[..., None])[..., 0]
    return q, qd, qdd
