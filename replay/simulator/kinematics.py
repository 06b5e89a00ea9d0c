"""Forward kinematics, link motion and Jacobians of the arm, vectorized over time steps.

All arrays carry time first: q is (T, 6); frame quantities are (T, 7, ...) for the base
frame 0 and the six link frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay.simulator.arm import Arm


@dataclass(frozen=True)
class Frames:
    """World poses of frames 0..6: rotations (T, 7, 3, 3) and origins (T, 7, 3), and the
    sign of each joint's angle against its DH angle."""

    rot: np.ndarray
    pos: np.ndarray
    sign: np.ndarray

    @property
    def z(self) -> np.ndarray:
        """Joint axes (T, 6, 3), each pointing the way its joint angle grows: z of frames
        0..5 is the DH axis of joints 1..6."""
        return self.rot[:, :6, :, 2] * self.sign[None, :, None]


def forward(arm: Arm, q: np.ndarray) -> Frames:
    q = np.atleast_2d(q)
    n = len(q)
    rot = np.empty((n, 7, 3, 3))
    pos = np.empty((n, 7, 3))
    rot[:, 0] = np.eye(3)
    pos[:, 0] = 0.0
    local = np.zeros((n, 3, 3))
    offset = np.empty((n, 3, 1))
    theta = q * arm.sign + arm.offset
    for i in range(6):
        c, s = np.cos(theta[:, i]), np.sin(theta[:, i])
        ca, sa = np.cos(arm.alpha[i]), np.sin(arm.alpha[i])
        local[:, 0, 0], local[:, 0, 1], local[:, 0, 2] = c, -s * ca, s * sa
        local[:, 1, 0], local[:, 1, 1], local[:, 1, 2] = s, c * ca, -c * sa
        local[:, 2, 1], local[:, 2, 2] = sa, ca
        offset[:, 0, 0], offset[:, 1, 0], offset[:, 2, 0] = arm.a[i] * c, arm.a[i] * s, arm.d[i]
        np.matmul(rot[:, i], local, out=rot[:, i + 1])
        pos[:, i + 1] = pos[:, i] + (rot[:, i] @ offset)[:, :, 0]
    return Frames(rot, pos, np.asarray(arm.sign, dtype=float))


def matvec(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Batched matrix times vector: (..., m, n) @ (..., n) -> (..., m)."""
    return (a @ x[..., None])[..., 0]


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (np.cross is several times slower on small arrays)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def point_jacobian(frames: Frames, link: int, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear and angular Jacobians (T, 3, 6) of a world point (T, 3) fixed to link 1..6."""
    n = len(frames.pos)
    jv = np.zeros((n, 3, 6))
    jw = np.zeros((n, 3, 6))
    z = frames.z
    for j in range(link):
        jv[:, :, j] = cross(z[:, j], point - frames.pos[:, j])
        jw[:, :, j] = z[:, j]
    return jv, jw


def body_point(frames: Frames, link: int, local: np.ndarray) -> np.ndarray:
    """World position (T, 3) of a point given in the frame of link 1..6."""
    return frames.pos[:, link] + frames.rot[:, link] @ np.asarray(local, dtype=float)


@dataclass(frozen=True)
class Motion:
    """Angular velocity and acceleration of links 1..6 and the linear acceleration of their
    frame origins, all in world coordinates, (T, 6, 3) each."""

    omega: np.ndarray
    omega_dot: np.ndarray
    accel: np.ndarray


def motion(frames: Frames, qd: np.ndarray, qdd: np.ndarray) -> Motion:
    """Forward Newton-Euler recursion for the link motion (without gravity)."""
    n = len(qd)
    z = frames.z
    omega = np.zeros((n, 6, 3))
    omega_dot = np.zeros((n, 6, 3))
    accel = np.zeros((n, 6, 3))
    w = np.zeros((n, 3))
    wd = np.zeros((n, 3))
    a = np.zeros((n, 3))
    for i in range(6):
        wd = wd + qdd[:, i, None] * z[:, i] + qd[:, i, None] * cross(w, z[:, i])
        w = w + qd[:, i, None] * z[:, i]
        r = frames.pos[:, i + 1] - frames.pos[:, i]
        a = a + cross(wd, r) + cross(w, cross(w, r))
        omega[:, i], omega_dot[:, i], accel[:, i] = w, wd, a
    return Motion(omega, omega_dot, accel)


def _rotation_error(target: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Small-angle rotation vector (T, 3) that turns `actual` into `target`."""
    r = target @ np.swapaxes(actual, -1, -2)
    return 0.5 * np.stack(
        [r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]], axis=-1
    )


def inverse(
    arm: Arm,
    tcp: np.ndarray,
    position: np.ndarray,
    rotation: np.ndarray,
    seed: np.ndarray,
    iterations: int = 50,
    tol: float = 1e-10,
) -> np.ndarray:
    """Joint positions (T, 6) that put the tool at `position` (T, 3) with `rotation` (T, 3, 3).

    Damped Newton steps on all T poses at once, started from `seed` (6,) or (T, 6): the
    solution is the one of the seed's configuration (elbow, wrist, shoulder branch).
    Raises ValueError when a pose is out of reach.
    """
    position = np.atleast_2d(position)
    rotation = rotation if rotation.ndim == 3 else np.broadcast_to(rotation, (len(position), 3, 3))
    q = np.array(np.broadcast_to(seed, (len(position), 6)), dtype=float)
    damping = 1e-6
    for _ in range(iterations):
        frames = forward(arm, q)
        tip = body_point(frames, 6, tcp)
        err = np.concatenate([position - tip, _rotation_error(rotation, frames.rot[:, 6])], axis=-1)
        if np.max(np.abs(err)) < tol:
            return q
        jv, jw = point_jacobian(frames, 6, tip)
        jac = np.concatenate([jv, jw], axis=1)
        jjt = jac @ np.swapaxes(jac, 1, 2) + damping * np.eye(6)
        q = q + matvec(np.swapaxes(jac, 1, 2), np.linalg.solve(jjt, err[..., None])[..., 0])
    raise ValueError(
        f"inverse kinematics did not converge (largest residual {np.max(np.abs(err)):.2e}): "
        f"a waypoint of the cell is out of the arm's reach or at a singularity"
    )
