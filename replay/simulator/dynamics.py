"""Rigid-body dynamics of the arm, vectorized over time steps.

Each body fixed to a link contributes, through the Jacobians Jv, Jw of its centre of mass,
to the joint-space equation of motion tau = M(q) q_dd + b(q, q_d) (Newton-Euler):

    M_b = m Jv'Jv + Jw' I Jw        b_b = Jv' m (Jv_d q_d - g) + Jw' (Jw_d q_d + w x I w)

Summed over the bodies this is exactly what recursive Newton-Euler gives. Splitting by
body keeps the dynamics linear in each body's mass, so a payload whose mass changes during
a cycle (a can picked up or dropped) is a unit-mass body scaled by its mass over time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay.simulator.arm import GRAVITY, Arm, Body
from replay.simulator.kinematics import Frames, Motion, body_point, cross, matvec, point_jacobian


@dataclass(frozen=True)
class Terms:
    """The equation of motion of some bodies, per time step:

    mass_matrix (T, 6, 6) and bias (T, 6): joint torque = mass_matrix q_dd + bias;
    momentum_jacobian m Jv (T, 3, 6) and force_bias (T, 3): the force the bodies take from
    the structure (which the base finally carries) = momentum_jacobian q_dd + force_bias.
    """

    mass_matrix: np.ndarray
    bias: np.ndarray
    momentum_jacobian: np.ndarray
    force_bias: np.ndarray

    def torque(self, qdd: np.ndarray) -> np.ndarray:
        return matvec(self.mass_matrix, qdd) + self.bias

    def force(self, qdd: np.ndarray) -> np.ndarray:
        return matvec(self.momentum_jacobian, qdd) + self.force_bias

    def scaled(self, factor: np.ndarray | float) -> Terms:
        """The same bodies with their mass multiplied by `factor` (scalar or (T,))."""
        f = np.asarray(factor, dtype=float)
        return Terms(
            self.mass_matrix * f[..., None, None],
            self.bias * f[..., None],
            self.momentum_jacobian * f[..., None, None],
            self.force_bias * f[..., None],
        )

    def __add__(self, other: Terms) -> Terms:
        return Terms(
            self.mass_matrix + other.mass_matrix,
            self.bias + other.bias,
            self.momentum_jacobian + other.momentum_jacobian,
            self.force_bias + other.force_bias,
        )

    def resampled(self, fine: np.ndarray, coarse: np.ndarray) -> Terms:
        """Linear interpolation from steps `coarse` to steps `fine`."""
        return Terms(
            *(
                lerp(a, fine, coarse)
                for a in (self.mass_matrix, self.bias, self.momentum_jacobian, self.force_bias)
            )
        )


def lerp(values: np.ndarray, fine: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """Linear interpolation along the first axis from sorted steps `coarse` to `fine`."""
    if _regular(fine, coarse):
        return _lerp_regular(values, len(fine), int(coarse[1] - coarse[0]))
    upper = np.clip(np.searchsorted(coarse, fine), 1, len(coarse) - 1)
    lower = upper - 1
    w = ((fine - coarse[lower]) / (coarse[upper] - coarse[lower])).reshape((-1,) + (1,) * (values.ndim - 1))
    return values[lower] * (1 - w) + values[upper] * w


def _regular(fine: np.ndarray, coarse: np.ndarray) -> bool:
    """Whether `coarse` is every stride-th of the steps `fine` = 0..n-1, plus the last one."""
    n = len(fine)
    if len(coarse) < 3 or fine[0] != 0 or fine[-1] != n - 1 or coarse[-1] != n - 1 or coarse[0] != 0:
        return False
    stride = coarse[1] - coarse[0]
    head = coarse[:-1] if coarse[-2] != n - 1 else coarse
    return bool(np.all(np.diff(head) == stride)) and (n - 1 - head[-1]) <= stride


def _lerp_regular(values: np.ndarray, n: int, stride: int) -> np.ndarray:
    """`lerp` for coarse steps 0, s, 2s, ... and n-1: blocks of s steps by broadcasting,
    which is several times faster than gathering every step."""
    full = (n - 1) // stride  # whole blocks between regular coarse steps
    tail = values.shape[1:]
    w = (np.arange(stride) / stride).reshape((1, stride) + (1,) * len(tail))
    out = np.empty((n, *tail))
    out[: full * stride] = (values[:full, None] * (1 - w) + values[1 : full + 1, None] * w).reshape(-1, *tail)
    rest = n - full * stride  # the steps from the last regular coarse step to n-1
    if rest == 1:
        out[-1] = values[-1]
    else:
        wr = (np.arange(rest) / (rest - 1)).reshape((-1,) + (1,) * len(tail))
        out[full * stride :] = values[full] * (1 - wr) + values[-1] * wr
    return out


def body_terms(frames: Frames, motion: Motion, link: int, body: Body, gravity: np.ndarray = GRAVITY) -> Terms:
    """The terms of `body` fixed to link `link` (1..6); `motion` at zero joint acceleration."""
    rot = frames.rot[:, link]
    com = body_point(frames, link, body.com)
    r = com - frames.pos[:, link]
    w, wd = motion.omega[:, link - 1], motion.omega_dot[:, link - 1]
    a_com = motion.accel[:, link - 1] + cross(wd, r) + cross(w, cross(w, r))
    inertia = rot @ body.inertia @ np.swapaxes(rot, 1, 2)
    jv, jw = point_jacobian(frames, link, com)
    jvt, jwt = np.swapaxes(jv, 1, 2), np.swapaxes(jw, 1, 2)
    force_bias = body.mass * (a_com - gravity)
    moment = matvec(inertia, wd) + cross(w, matvec(inertia, w))
    return Terms(
        mass_matrix=body.mass * (jvt @ jv) + jwt @ inertia @ jw,
        bias=matvec(jvt, force_bias) + matvec(jwt, moment),
        momentum_jacobian=body.mass * jv,
        force_bias=force_bias,
    )


def arm_terms(frames: Frames, motion: Motion, arm: Arm) -> Terms:
    """The terms of all six links of the arm."""
    total = body_terms(frames, motion, 1, arm.links[0])
    for link in range(2, 7):
        total = total + body_terms(frames, motion, link, arm.links[link - 1])
    return total


def _ratio(body: Body, other: Body) -> float | None:
    """k if `other` is `body` with mass and inertia multiplied by k (same centre of mass)."""
    k = other.mass / body.mass
    if np.allclose(other.com, body.com, rtol=0, atol=1e-12) and np.allclose(other.inertia, body.inertia * k):
        return k
    return None


def arm_terms_pair(frames: Frames, motion: Motion, arm: Arm, model: Arm) -> tuple[Terms, Terms]:
    """The terms of `arm` and of `model`, an arm of the same kinematics: as the terms are
    linear in a body's mass and inertia, a model link that only scales the real one scales
    its terms, and only links that differ otherwise are evaluated again."""
    true_total = model_total = None
    for link in range(1, 7):
        body, other = arm.links[link - 1], model.links[link - 1]
        terms = body_terms(frames, motion, link, body)
        k = _ratio(body, other)
        modelled = terms.scaled(k) if k is not None else body_terms(frames, motion, link, other)
        true_total = terms if true_total is None else true_total + terms
        model_total = modelled if model_total is None else model_total + modelled
    assert true_total is not None and model_total is not None
    return true_total, model_total
