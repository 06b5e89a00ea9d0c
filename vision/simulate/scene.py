"""What one frame of the cell camera shows: the can, its label, the light, and any defect.

The camera looks down at the table at about 45°. At the *place* pose the can stands on the
painted target ring; at the *pick* pose it hangs in the gripper above the table. Normal frames
vary as a real cell does: the can sits a few millimetres off, its label and pull tab face
any direction (cans spin freely), the light and white balance drift, the sensor is noisy and
the focus is not always perfect. Every defect is a change of this description, so that the
renderer can also say exactly which pixels it changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

Pose = Literal["pick", "place"]
DEFECTS = ("dent", "scratch", "missing_label", "wrong_label", "foreign_object", "misplaced")

RED_LABEL = (0.78, 0.10, 0.12)
OTHER_LABELS = ((0.10, 0.25, 0.70), (0.12, 0.55, 0.20), (0.08, 0.08, 0.08), (0.95, 0.55, 0.08))


@dataclass(frozen=True)
class Label:
    color: tuple[float, float, float] = RED_LABEL
    logo: Literal["disc", "square", "diamond"] = "disc"
    band: float = 0.62  # where the white band sits, as a fraction of the can height


@dataclass(frozen=True)
class Dent:
    phi: float  # angle around the can axis, 0 = facing the camera
    t: float  # height on the can, 0 = base, 1 = lid
    width: float  # fraction of the can radius
    height: float  # fraction of the can height
    strength: float


@dataclass(frozen=True)
class Scratch:
    points: tuple[tuple[float, float], ...]  # a polyline in (phi, t) on the can surface
    width: float  # pixels at 384 px
    brightness: float


@dataclass(frozen=True)
class ForeignObject:
    kind: Literal["screw", "foam", "cable_tie"]
    x: float  # centre, fraction of the frame
    y: float
    size: float  # fraction of the frame
    angle: float
    color: tuple[float, float, float]
    shape_seed: int


@dataclass(frozen=True)
class Scene:
    size: int
    pose: Pose
    cx: float  # can axis in the image, fraction of the frame
    base_y: float  # image row of the base ellipse centre, fraction of the frame
    radius: float  # fraction of the frame
    spin: float  # label orientation around the axis (radians)
    tab: float  # pull-tab orientation on the lid (radians)
    light: float  # light direction around the can (radians)
    gain: float
    white: tuple[float, float, float]
    ambient: float
    noise: float
    blur: float  # Gaussian sigma in pixels at 384 px
    nominal_cx: float  # where the can belongs (the target ring / the gripper's centre)
    nominal_base_y: float
    label: Label | None = Label()
    dents: tuple[Dent, ...] = ()
    scratches: tuple[Scratch, ...] = ()
    objects: tuple[ForeignObject, ...] = ()
    defect: str = "good"

    @property
    def height(self) -> float:
        return 2.6 * self.radius  # a 330 ml can seen at 45°: height ≈ 2.6 × radius on screen


def normal_scene(rng: np.random.Generator, size: int, pose: Pose) -> Scene:
    nominal_cx, nominal_y = 0.5, (0.78 if pose == "place" else 0.72)
    return Scene(
        size=size,
        pose=pose,
        cx=nominal_cx + rng.uniform(-0.015, 0.015),
        base_y=nominal_y + rng.uniform(-0.01, 0.01),
        radius=0.2 * rng.uniform(0.97, 1.03),  # the camera is framed on the can
        spin=rng.uniform(0, 2 * math.pi),
        tab=rng.uniform(0, 2 * math.pi),
        light=rng.uniform(-0.6, 0.6),
        gain=rng.uniform(0.85, 1.15),
        white=tuple(rng.uniform(0.96, 1.04, size=3)),
        ambient=rng.uniform(0.30, 0.40),
        noise=rng.uniform(0.008, 0.02),
        blur=rng.uniform(0.0, 0.6),
        nominal_cx=nominal_cx,
        nominal_base_y=nominal_y,
    )


def _scratch(rng: np.random.Generator) -> Scratch:
    phi0, t0 = rng.uniform(-1.0, 1.0), rng.uniform(0.15, 0.85)
    direction = rng.uniform(0, 2 * math.pi)
    length = rng.uniform(0.5, 0.9)
    bend = rng.uniform(-0.4, 0.4)
    points = []
    for s in np.linspace(0, 1, 8):
        a = direction + bend * s
        points.append((phi0 + length * s * math.cos(a), t0 + 0.5 * length * s * math.sin(a)))
    return Scratch(tuple(points), width=rng.uniform(2.5, 4.5), brightness=rng.choice([0.95, 0.15]))


def _foreign_object(rng: np.random.Generator, scene: Scene) -> ForeignObject:
    kind = rng.choice(["screw", "foam", "cable_tie"])
    color = {
        "screw": (0.62, 0.62, 0.64),
        "foam": tuple(rng.choice([(0.95, 0.55, 0.15), (0.25, 0.45, 0.85)], axis=0)),
        "cable_tie": tuple(rng.choice([(0.92, 0.92, 0.9), (0.1, 0.1, 0.1)], axis=0)),
    }[kind]
    side = rng.choice([-1.0, 1.0])
    if scene.pose == "place" and rng.random() < 0.3:  # dropped on the lid
        x, y = scene.cx + rng.uniform(-0.3, 0.3) * scene.radius, scene.base_y - scene.height
    else:  # on the table beside or in front of the can
        x = scene.cx + side * scene.radius * rng.uniform(1.2, 2.2)
        y = scene.base_y + rng.uniform(-0.05, 0.15)
    return ForeignObject(
        kind=kind,
        x=float(np.clip(x, 0.08, 0.92)),
        y=float(np.clip(y, 0.1, 0.92)),
        size=rng.uniform(0.08, 0.14),
        angle=rng.uniform(0, math.pi),
        color=(float(color[0]), float(color[1]), float(color[2])),
        shape_seed=int(rng.integers(1 << 30)),
    )


def with_defect(scene: Scene, defect: str, rng: np.random.Generator) -> Scene:
    """The same frame with one defect of the given type."""
    if defect == "dent":
        dent = Dent(
            phi=rng.uniform(-1.0, 1.0),
            t=rng.uniform(0.12, 0.88),
            width=rng.uniform(0.35, 0.6),
            height=rng.uniform(0.12, 0.2),
            strength=rng.uniform(0.45, 0.75),
        )
        return replace(scene, dents=(dent,), defect=defect)
    if defect == "scratch":
        return replace(
            scene, scratches=tuple(_scratch(rng) for _ in range(rng.integers(1, 3))), defect=defect
        )
    if defect == "missing_label":
        return replace(scene, label=None, defect=defect)
    if defect == "wrong_label":
        colors = OTHER_LABELS[rng.integers(len(OTHER_LABELS))]
        label = Label(
            color=colors, logo=rng.choice(["disc", "square", "diamond"]), band=rng.uniform(0.3, 0.7)
        )
        return replace(scene, label=label, defect=defect)
    if defect == "foreign_object":
        return replace(scene, objects=(_foreign_object(rng, scene),), defect=defect)
    if defect == "misplaced":
        if scene.pose == "pick":  # slipped down in the gripper
            return replace(scene, base_y=scene.base_y + rng.uniform(0.06, 0.12), defect=defect)
        angle = rng.uniform(0, 2 * math.pi)
        shift = rng.uniform(0.08, 0.16)
        return replace(
            scene,
            cx=scene.cx + shift * math.cos(angle),
            base_y=scene.base_y + 0.5 * shift * math.sin(angle),
            defect=defect,
        )
    raise ValueError(f"unknown defect {defect!r}; known: {', '.join(DEFECTS)}")
