"""The closed loop: feed-forward plus PID at the controller rate, driving the arm with friction.

Every controller step (~2 ms) and axis, the controller reads the link encoder (quantized,
with its interpolation error) and the velocity. The encoders' readings are a few steps old
when they arrive (serial encoder protocol and filtering); the controller knows that and
compares each reading with the target of its own time, so it does not fight the latency,
but it logs its position-error torque against the newest target (target_torque): in the
real recording target_torque ~ kp (target_position - joint_position) while the joint trails
its target by one 100 Hz row on every axis and the motor torque follows the targets without
delay. It adds the PD correction to its feed-forward (model torque, rotor inertia, most of
the nominal friction) and a slow integral term (internal state, not in the table: it
removes the standstill error that stiction leaves; the real recording shows joint = target
at rest while motor and model torque differ). The integral acts only while the axis's
target stands still, as industrial controllers keep it from winding up in motion, and
rests once the error is within a few encoder counts: integral action against stiction
would otherwise hunt (stick, wind up, break loose, overshoot) for ever. The drive delivers
that torque (less what a wrong commutation loses) and the arm moves:

    (M(q) + J_rotor) q_dd = tau_motor - tau_friction - bias(q, q_d) + tau_external

Viscous friction is explicit; Coulomb friction is resolved at the velocity level (an axis
sticks when one step of friction can stop it, with the coupling of the axes taken into
account). A standing axis breaks loose only above its breakaway torque (stiction, higher
than the sliding friction), so it holds its load, and whatever torque the controller had
built up when it stopped, as a harmonic drive does: the holding current at rest depends on
how the axis came to rest. Several cycles are integrated together, padded to the longest:
the per-step Python overhead dominates, so a batch costs about what one cycle does. A
cycle's result does not depend on its batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay.simulator.dynamics import lerp
from replay.simulator.plant import Plant

SWEEPS = 2  # Jacobi sweeps for the Coulomb impulses; the axes' coupling is weak
DEADBAND_COUNTS = 3  # link encoder counts of standstill error the integral accepts


@dataclass(frozen=True)
class Gains:
    kp: np.ndarray  # (6,) N·m/rad
    kd: np.ndarray  # (6,) N·m·s/rad
    ki: np.ndarray  # (6,) N·m/(rad·s)
    torque_limit: np.ndarray  # (6,) N·m
    viscous: np.ndarray  # (6,) N·m·s/rad, the cycle's viscous friction
    efficiency: np.ndarray  # (6,) share of the commanded torque the motor delivers
    stiction: np.ndarray  # (6,) breakaway over sliding friction


@dataclass(frozen=True)
class Noise:
    """Measurement noise the controller sees: link encoder (before quantization) and velocity."""

    position: np.ndarray  # (T, 6)
    velocity: np.ndarray  # (T, 6)
    resolution: float  # rad per link encoder count
    periods: int  # sine periods per turn of the link encoder
    interpolation: float  # rad, amplitude of the interpolation error within a period


@dataclass(frozen=True)
class Response:
    """What happened, per step (T, 6): the state at the start of the step, the acceleration
    during it, the commands, and what the controller measured."""

    q: np.ndarray
    qd: np.ndarray
    qdd: np.ndarray
    command: np.ndarray
    feedback: np.ndarray  # what the controller logs as target_torque
    measured_q: np.ndarray  # the encoder's reading of the state at this step (not yet delayed)
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


def run(
    plants: list[Plant], gains: list[Gains], noises: list[Noise], latency: int, dt: float
) -> list[Response]:
    """Integrate a batch of cycles from rest at their first commanded pose; the encoders'
    readings reach the controller `latency` steps after they were taken."""
    lengths = [len(p.q_ref) for p in plants]
    n = max(lengths)
    q_ref = _stack([p.q_ref for p in plants], n)
    qd_ref = _stack([p.qd_ref for p in plants], n)
    ff = _stack([p.feed_forward for p in plants], n)
    # everything that does not depend on the state, summed before the loop
    drive_free = _stack([p.external - p.bias for p in plants], n)
    inv = _stack([p.inverse_inertia for p in plants], n, [p.coarse for p in plants])
    diag = np.diagonal(inv, axis1=2, axis2=3)
    sliding = _stack([p.coulomb for p in plants], n) * dt  # largest Coulomb impulse of one step
    # a standing axis needs this much more to break loose
    extra = sliding * (np.stack([g.stiction for g in gains]) - 1.0)
    nq = _stack([z.position for z in noises], n)
    nv = _stack([z.velocity for z in noises], n)
    res = np.array([z.resolution for z in noises])[:, None]  # link encoder count, rad
    periods = np.array([float(z.periods) for z in noises])[:, None]
    wobble = np.array([z.interpolation for z in noises])[:, None]
    slope = wobble * periods  # of the interpolation error, per rad
    kp, kd = np.stack([g.kp for g in gains]), np.stack([g.kd for g in gains])
    ki_dt = np.stack([g.ki for g in gains]) * dt
    standing = ki_dt * (np.abs(qd_ref) < 1e-9)  # the integral's gain per step, where it acts
    limit, eff = np.stack([g.torque_limit for g in gains]), np.stack([g.efficiency for g in gains])
    fv = np.stack([g.viscous for g in gains])

    q, qd = q_ref[0].copy(), np.zeros_like(q_ref[0])
    integral = np.zeros_like(q)
    integral_limit = 0.25 * limit
    stuck = np.ones(q.shape, dtype=bool)
    out_q, out_qd = np.empty_like(q_ref), np.empty_like(q_ref)
    out_cmd = np.empty_like(q_ref)
    out_mq, out_mqd = np.empty_like(q_ref), np.empty_like(q_ref)
    inv_res = 1.0 / res
    deadband = DEADBAND_COUNTS * res
    inv_diag = 1.0 / diag
    for k in range(n):
        # the link encoder's reading: its interpolation error repeats every signal period
        phase = periods * q
        out_mq[k] = np.rint((q + wobble * np.sin(phase) + nq[k]) * inv_res) * res
        out_mqd[k] = qd * (1.0 + slope * np.cos(phase)) + nv[k]
        seen = max(k - latency, 0)
        mq, mqd = out_mq[seen], out_mqd[seen]
        error = q_ref[seen] - mq
        fb = kp * error + kd * (qd_ref[seen] - mqd)
        pushing = standing[seen] * error * (np.abs(error) > deadband)
        integral = np.minimum(np.maximum(integral + pushing, -integral_limit), integral_limit)
        cmd = np.minimum(np.maximum(ff[k] + fb + integral, -limit), limit)
        out_cmd[k] = cmd
        torque = cmd * eff
        inv_k, scale_k = inv[k], inv_diag[k]
        bound_k = sliding[k] + stuck * extra[k]
        free = qd + (inv_k @ ((torque + drive_free[k] - fv * qd) * dt)[:, :, None])[:, :, 0]
        # Coulomb impulses: each axis takes what stops it, up to its bound (projected Jacobi
        # on the coupled velocity equation new = free - inv impulse; the coupling of the
        # axes is weak, so a few sweeps settle it)
        impulse = np.minimum(np.maximum(free * scale_k, -bound_k), bound_k)
        for _ in range(SWEEPS):
            rest = free - (inv_k @ impulse[:, :, None])[:, :, 0]
            impulse = np.minimum(np.maximum(impulse + rest * scale_k, -bound_k), bound_k)
        new = free - (inv_k @ impulse[:, :, None])[:, :, 0]
        moving = np.abs(impulse) >= bound_k
        new *= moving  # where friction stopped the axis, it stands exactly still
        stuck = ~moving
        out_q[k], out_qd[k] = q, qd
        q = q + new * dt
        qd = new

    # what the controller logs: its position-error torque against the newest target
    seen_q = np.concatenate([np.repeat(out_mq[:1], latency, axis=0), out_mq[: n - latency]])
    seen_qd = np.concatenate([np.repeat(out_mqd[:1], latency, axis=0), out_mqd[: n - latency]])
    out_fb = kp * (q_ref - seen_q) + kd * (qd_ref - seen_qd)
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
