"""Forces from outside the arm: collisions, a cable tied along it, and the stand it sits on.

Each returns joint torques (T, 6) that act on the arm; they enter the closed loop, so the
controller has to fight them and the joints really deflect. They are evaluated along the
commanded path: the arm stays within millimetres of it, and a contact force, a cable
tension or a base acceleration hardly changes over such a distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import signal

from replay.simulator.arm import Body
from replay.simulator.dynamics import lerp
from replay.simulator.kinematics import Frames, body_point, matvec, point_jacobian
from replay.simulator.profile import Cable, Collision, Platform


@dataclass(frozen=True)
class Event:
    """When a disturbance acts (s since the cycle start)."""

    start_s: float
    end_s: float


def collision(
    frames: Frames,
    coarse: np.ndarray,
    qd: np.ndarray,
    moving: np.ndarray,
    first: int,
    dt: float,
    spec: Collision,
    rng: np.random.Generator,
) -> tuple[np.ndarray, Event]:
    """A soft obstacle pressed against the arm: a half-sine force pulse.

    It starts at a random time, while the robot stands with probability `spec.standing`
    (a hanging object swinging into it) and else while it moves; a moving arm is pushed
    against its direction of travel, a standing arm from a random horizontal side.
    `frames` are at steps `coarse`; `qd` and `moving` at every step; no earlier than `first`.
    """
    n = len(qd)
    length = max(1, round(spec.duration / dt))
    standing = rng.random() < spec.standing
    candidates = np.flatnonzero((~moving if standing else moving)[first : max(first + 1, n - length)]) + first
    if len(candidates) == 0:
        candidates = np.arange(first, max(first + 1, n - length))
    start = int(rng.choice(candidates))
    point = body_point(frames, spec.link, np.array(spec.point))
    jv = lerp(point_jacobian(frames, spec.link, point)[0], np.arange(n), coarse)
    velocity = jv[start] @ qd[start]
    speed = np.linalg.norm(velocity)
    if speed > 1e-3:
        direction = -velocity / speed
    else:
        angle = rng.uniform(0, 2 * np.pi)
        direction = np.array([np.cos(angle), np.sin(angle), 0.0])
    pulse = np.zeros(n)
    stop = min(n, start + length)
    pulse[start:stop] = np.sin(np.pi * (np.arange(stop - start) + 0.5) / length)
    torque = matvec(np.swapaxes(jv, 1, 2), spec.force * pulse[:, None] * direction)
    return torque, Event(start * dt, stop * dt)


def cable_bodies(spec: Cable) -> list[tuple[int, Body]]:
    """The cable's weight: each straight run a thin rod on the link it is tied to."""
    bodies = []
    for run in spec.runs:
        start, end = np.array(run.start), np.array(run.end)
        length = float(np.linalg.norm(end - start))
        mass = spec.mass_per_m * length
        axis = (end - start) / length
        inertia = mass * length**2 / 12 * (np.eye(3) - np.outer(axis, axis))
        bodies.append((run.link, Body(mass, (start + end) / 2, inertia)))
    return bodies


def cable_bending(q: np.ndarray, qd: np.ndarray, rest: np.ndarray, spec: Cable) -> np.ndarray:
    """Joint torques (T, 6) of a cable that spans joints and was tied on in pose `rest`:
    bent away from its shape there, it pushes back like a spring, with internal damping."""
    torque = np.zeros_like(q)
    joints = np.array(spec.joints) - 1
    torque[:, joints] = -spec.bending_stiffness * (q[:, joints] - rest[joints]) - spec.damping * qd[:, joints]
    return torque


@lru_cache(maxsize=16)
def _stand_filter(
    mass: float, frequency_hz: float, damping: float, dt: float
) -> tuple[np.ndarray, np.ndarray]:
    """Acceleration of the stand per force on it: s² / (m s² + c s + k), discretized (Tustin)."""
    stiffness = mass * (2 * np.pi * frequency_hz) ** 2
    viscous = 2 * damping * np.sqrt(stiffness * mass)
    return signal.bilinear([1.0, 0.0, 0.0], [mass, viscous, stiffness], fs=1.0 / dt)


def platform(
    base_force: np.ndarray,
    momentum_jacobian: np.ndarray,
    arm_mass: float,
    spec: Platform,
    frequency_hz: float,
    damping: float,
    dt: float,
) -> np.ndarray:
    """Joint torques from the horizontal sway of the stand under the robot.

    The stand (its mass plus the arm's, on a spring and damper) is pushed by the horizontal
    reaction of the arm to `base_force` (T, 3), the force the arm takes from its base; the
    stand's acceleration then acts on every body of the arm as an inertial force -m a,
    i.e. on the joints as -(sum of m Jv)' a.
    """
    b, a = _stand_filter(spec.mass + arm_mass, frequency_hz, damping, dt)
    accel = np.zeros_like(base_force)
    accel[:, :2] = signal.lfilter(b, a, -base_force[:, :2], axis=0)
    return -matvec(np.swapaxes(momentum_jacobian, 1, 2), accel)
