"""The closed loop: feed-forward plus PD at the controller rate, driving the arm with friction.

Every controller step (~2 ms) and axis, the controller reads the link encoder (quantized)
and the velocity, adds a PD correction (logged as target_torque) to its feed-forward
(model torque, rotor inertia, most of the nominal friction) and a slow integral term
(internal state, not in the table: it removes the standstill error that stiction leaves;
the real recording shows joint = target at rest while motor and model torque differ).
The drive delivers that torque (less what a wrong commutation loses) and the arm moves:

    (M(q) + J_rotor) q_dd = tau_motor - tau_friction - bias(q, q_d) + tau_external

Viscous friction is explicit; Coulomb friction is resolved at the velocity level (an axis
sticks when one step of Coulomb friction can stop it, with the coupling of the axes taken
into account), so a standing axis really stands still and holds its load by stiction, as
a harmonic drive does. Several cycles are integrated together, padded to the longest: the
per-step Python overhead dominates, so a batch costs about what one cycle does. A cycle's
result does not depend on its batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay.simulator.dynamics import lerp
from replay.simulator.plant import Plant

SWEEPS = 2  # Jacobi sweeps for the Coulomb impulses; the axes' coupling is weak


@dataclass(frozen=True)
class Gains:
    kp: np.ndarray  # (6,) N·m/rad
    kd: np.ndarray  # (6,) N·m·s/rad
    ki: np.ndarray  # (6,) N·m/(rad·s)
    torque_limit: np.ndarray  # (6,) N·m
    viscous: np.ndarray  # (6,) N·m·s/rad, the cycle's viscous friction
    efficiency: np.ndarray  # (6,) share of the commanded torque the motor delivers


@dataclass(frozen=True)
class Noise:
    """Measurement noise the controller sees: link encoder (before quantization) and velocity."""

    position: np.ndarray  # (T, 6)
    velocity: np.ndarray  # (T, 6)
    resolution: float  # rad per link encoder count


@dataclass(frozen=True)
class Response:
    """What happened, per step (T, 6): the state at the start of the step, the acceleration
    during it, the commands, and what the controller measured."""

    q: np.ndarray
    qd: np.ndarray
    qdd: np.ndarray
    command: np.ndarray
    feedback: np.ndarray
    measured_q: np.ndarray
    measured_qd: np.ndarray


def _stack(arrays: list[np.ndarray], length: int, coarse: list[np.ndarray] | None = None) -> np.ndarray:
    """(length, B, ...), time first so that one step is one contiguous block; every cycle
    is padded by repeating its last step (the robot at rest). Arrays given at the steps
    `coarse` are interpolated to every step."""
    out = np.empty((length, len(arrays), *arrays[0].shape[1:]))
    for i, a in enumerate(arrays):
        n = len(a) if coarse is None else coarse[i][-1] + 1
        out[:n, i] = a if coarse is None else lerp(a, np.arange(n), coarse[i])
        out[n:, i] = a[-1]
    return out


def run(plants: list[Plant], gains: list[Gains], noises: list[Noise], dt: float) -> list[Response]:
    """Integrate a batch of cycles from rest at their first commanded pose."""
    lengths = [len(p.q_ref) for p in plants]
    n = max(lengths)
    q_ref = _stack([p.q_ref for p in plants], n)
    qd_ref = _stack([p.qd_ref for p in plants], n)
    ff = _stack([p.feed_forward for p in plants], n)
    # everything that does not depend on the state, summed before the loop
    drive_free = _stack([p.external - p.bias for p in plants], n)
    inv = _stack([p.inverse_inertia for p in plants], n, [p.coarse for p in plants])
    diag = np.diagonal(inv, axis1=2, axis2=3)
    bound = _stack([p.coulomb for p in plants], n) * dt  # largest Coulomb impulse of one step
    nq = _stack([z.position for z in noises], n)
    nv = _stack([z.velocity for z in noises], n)
    res = np.array([z.resolution for z in noises])[:, None]  # link encoder count, rad
    kp, kd = np.stack([g.kp for g in gains]), np.stack([g.kd for g in gains])
    ki_dt = np.stack([g.ki for g in gains]) * dt
    limit, eff = np.stack([g.torque_limit for g in gains]), np.stack([g.efficiency for g in gains])
    fv = np.stack([g.viscous for g in gains])

    q, qd = q_ref[0].copy(), np.zeros_like(q_ref[0])
    integral = np.zeros_like(q)
    integral_limit = 0.25 * limit
    out_q, out_qd = np.empty_like(q_ref), np.empty_like(q_ref)
    out_cmd, out_fb = np.empty_like(q_ref), np.empty_like(q_ref)
    out_mq, out_mqd = np.empty_like(q_ref), np.empty_like(q_ref)
    inv_res = 1.0 / res
    inv_diag = 1.0 / diag
    for k in range(n):
        mq = np.rint((q + nq[k]) * inv_res) * res
        mqd = qd + nv[k]
        error = q_ref[k] - mq
        fb = kp * error + kd * (qd_ref[k] - mqd)
        integral = np.minimum(np.maximum(integral + ki_dt * error, -integral_limit), integral_limit)
        cmd = np.minimum(np.maximum(ff[k] + fb + integral, -limit), limit)
        inv_k, scale_k, bound_k = inv[k], inv_diag[k], bound[k]
        free = qd + (inv_k @ ((cmd * eff + drive_free[k] - fv * qd) * dt)[:, :, None])[:, :, 0]
        # Coulomb impulses: each axis takes what stops it, up to its bound (projected Jacobi
        # on the coupled velocity equation new = free - inv impulse; the coupling of the
        # axes is weak, so a few sweeps settle it)
        impulse = np.minimum(np.maximum(free * scale_k, -bound_k), bound_k)
        for _ in range(SWEEPS):
            rest = free - (inv_k @ impulse[:, :, None])[:, :, 0]
            impulse = np.minimum(np.maximum(impulse + rest * scale_k, -bound_k), bound_k)
        new = free - (inv_k @ impulse[:, :, None])[:, :, 0]
        new *= np.abs(impulse) >= bound_k  # stiction holds: the axis stands exactly still
        out_q[k], out_qd[k], out_cmd[k], out_fb[k] = q, qd, cmd, fb
        out_mq[k], out_mqd[k] = mq, mqd
        q = q + new * dt
        qd = new

    responses = []
    for i, length in enumerate(lengths):
        qd_i = out_qd[:length, i]
        qdd = np.zeros_like(qd_i)
        qdd[:-1] = np.diff(qd_i, axis=0) / dt
        responses.append(
            Response(
                q=out_q[:length, i],
                qd=qd_i,
                qdd=qdd,
                command=out_cmd[:length, i],
                feedback=out_fb[:length, i],
                measured_q=out_mq[:length, i],
                measured_qd=out_mqd[:length, i],
            )
        )
    return responses
