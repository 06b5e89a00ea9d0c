"""Rigid bodies and the arm they make up: DH kinematics plus one body per link.

Inertial parameters are checked for physical consistency when an arm is built, because
published robot descriptions carry wrong values: the ROS-Industrial UR5 URDF (and every
copy of it, e.g. the Modern Robotics UR5 example) gives the 1.219 kg wrist links an inertia
of 0.111 kg·m², which a body of that mass only has if it is 1.2 m wide (the xacro used a
cylinder radius of 0.6 m instead of 0.06 m).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GRAVITY = np.array([0.0, 0.0, -9.81])


@dataclass(frozen=True)
class Body:
    """A rigid body on one link: mass (kg), centre of mass (m) and inertia about it (kg·m²),
    both in the link's DH frame."""

    mass: float
    com: np.ndarray
    inertia: np.ndarray

    @staticmethod
    def point(mass: float, position: np.ndarray | list[float]) -> Body:
        return Body(float(mass), np.asarray(position, dtype=float), np.zeros((3, 3)))

    @staticmethod
    def from_six(mass: float, com: list[float], six: list[float]) -> Body:
        """From (ixx, iyy, izz, ixy, ixz, iyz), the order URDF files and UR's tables use."""
        ixx, iyy, izz, ixy, ixz, iyz = six
        inertia = np.array([[ixx, ixy, ixz], [ixy, iyy, iyz], [ixz, iyz, izz]], dtype=float)
        return Body(float(mass), np.asarray(com, dtype=float), inertia)


def combine(a: Body, b: Body) -> Body:
    """One body with the mass, centre of mass and inertia of two bodies fixed together."""
    mass = a.mass + b.mass
    if mass == 0.0:
        return a
    com = (a.mass * a.com + b.mass * b.com) / mass

    def shifted(body: Body) -> np.ndarray:  # parallel-axis theorem to the joint centre of mass
        d = body.com - com
        return body.inertia + body.mass * (d @ d * np.eye(3) - np.outer(d, d))

    return Body(mass, com, shifted(a) + shifted(b))


def inertia_problems(body: Body, radius: float, name: str) -> list[str]:
    """Why a body's inertial parameters cannot be physical, if they cannot.

    A real body has a symmetric positive semi-definite inertia whose principal moments obey
    the triangle inequality, and, if all its mass lies within `radius` of its centre of mass,
    no moment above mass·radius².
    """
    problems: list[str] = []
    inertia = body.inertia
    if body.mass < 0:
        problems.append(f"{name}: negative mass {body.mass} kg")
    if not np.allclose(inertia, inertia.T):
        problems.append(f"{name}: inertia matrix is not symmetric")
        return problems
    moments = np.linalg.eigvalsh(inertia)
    if moments[0] < -1e-12:
        problems.append(f"{name}: inertia has a negative principal moment {moments[0]:.3g} kg·m²")
    a, b, c = moments
    if a + b < c * (1 - 1e-6):
        problems.append(
            f"{name}: principal moments {a:.4g}, {b:.4g}, {c:.4g} kg·m² break the triangle "
            f"inequality (no real body has them)"
        )
    bound = body.mass * radius**2
    if c > bound * (1 + 1e-9):
        problems.append(
            f"{name}: moment of inertia {c:.4g} kg·m² exceeds mass·radius² = {bound:.4g} kg·m² "
            f"for {body.mass:g} kg within {radius:g} m of its centre of mass"
        )
    return problems


@dataclass(frozen=True)
class Arm:
    """A 6-axis serial arm in standard Denavit-Hartenberg convention.

    Frame i is attached to link i; joint i turns about the z axis of frame i-1. `links[i]`
    is the body of link i+1 in frame i+1 (the tool flange is frame 6).

    Joint angles are the robot's own (those its controller logs): the DH angle of joint i is
    sign[i] * q[i] + offset[i]. A robot maker counts its joints as it likes (the voraus-AD
    arm turns joint 2 against the DH direction of a UR-type arm), and every torque, speed and
    Jacobian here is then in the robot's convention too.
    """

    d: np.ndarray
    a: np.ndarray
    alpha: np.ndarray
    links: tuple[Body, ...]
    sign: np.ndarray = field(default_factory=lambda: np.ones(6))
    offset: np.ndarray = field(default_factory=lambda: np.zeros(6))

    def with_body(self, link: int, body: Body) -> Arm:
        """The arm with `body` fixed to link `link` (1..6)."""
        links = list(self.links)
        links[link - 1] = combine(links[link - 1], body)
        return Arm(self.d, self.a, self.alpha, tuple(links), self.sign, self.offset)

    def with_links(self, links: tuple[Body, ...]) -> Arm:
        return Arm(self.d, self.a, self.alpha, links, self.sign, self.offset)
