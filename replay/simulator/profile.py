"""The cell profile: every parameter of the simulated cell, loaded from a TOML file.

A profile describes one cell (arm, drives, controller, sensors, noise, layout, normal
variation and anomaly intensities), so that a user can describe their own cell and test a
detector on cells it was not tuned on. Built-in profiles live in `replay/profiles/`; a
profile may start from another with `base = "<name or path>"` and override any table or
value of it.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    ValidationError,
    model_validator,
)

from replay.simulator.arm import Arm, Body, inertia_problems
from replay.simulator.profile_anomalies import AnomalySection, Cable, Collision, Platform

__all__ = [
    "Cable",
    "CellProfile",
    "Collision",
    "Platform",
    "ProfileError",
    "builtin_profiles",
    "load_profile",
]

Vec3 = Annotated[list[float], Field(min_length=3, max_length=3)]
Vec6 = Annotated[list[float], Field(min_length=6, max_length=6)]
PosVec6 = Annotated[list[PositiveFloat], Field(min_length=6, max_length=6)]
NonNegVec6 = Annotated[list[NonNegativeFloat], Field(min_length=6, max_length=6)]
Inertia = Annotated[
    list[float], Field(min_length=6, max_length=6, description="ixx iyy izz ixy ixz iyz, kg·m²")
]
Dwell = Annotated[list[NonNegativeFloat], Field(min_length=8, max_length=8)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Link(_Section):
    mass: PositiveFloat
    com: Vec3
    inertia: Inertia
    radius: PositiveFloat = Field(description="all of the link's mass lies within this distance of its com")

    def body(self) -> Body:
        return Body.from_six(self.mass, self.com, self.inertia)


class ArmSection(_Section):
    model: str
    dh_d: Vec6
    dh_a: Vec6
    dh_alpha: Vec6
    joint_sign: Vec6 = Field(description="+1 or -1: the robot's joint angle against the DH angle")
    joint_offset: Vec6 = Field(description="DH angle at the robot's zero of each joint, rad")
    links: Annotated[list[Link], Field(min_length=6, max_length=6)]

    @model_validator(mode="after")
    def _signs(self) -> ArmSection:
        if any(s not in (-1.0, 1.0) for s in self.joint_sign):
            raise ValueError(f"joint_sign must hold +1 or -1 for each joint, got {self.joint_sign}")
        return self


class ModelSection(_Section):
    """The controller's dynamic model (computed_torque, computed_inertia, the feed-forward):
    the arm's links and the tool, each with its mass scaled and its centre of mass moved,
    as a model identified once from CAD data differs from the arm it drives."""

    mass_scale: Annotated[list[PositiveFloat], Field(min_length=7, max_length=7)] = Field(
        description="links 1..6 and the tool"
    )
    com_shift: Annotated[list[Vec3], Field(min_length=7, max_length=7)] = Field(description="m, own frame")


class ToolSection(_Section):
    mass: PositiveFloat
    com: Vec3
    inertia: Inertia
    radius: PositiveFloat
    tcp: Vec3 = Field(description="suction cup tip in the flange frame, m")
    can_mass: PositiveFloat = Field(description="the normal can, kg")
    can_height: PositiveFloat = Field(description="m; a gripped can hangs below the tcp")
    can_radius: PositiveFloat = Field(description="m")
    vacuum_build_s: PositiveFloat = Field(description="from valve on until the cup holds the can")
    release_s: PositiveFloat = Field(description="from valve off until the can has left the cup")


class DriveSection(_Section):
    gear_ratio: PosVec6
    torque_constant: PosVec6 = Field(description="motor side, N·m/A")
    resistance: PosVec6 = Field(description="winding, per axis of the dq frame, Ω")
    inductance: PosVec6 = Field(description="H")
    pole_pairs: PosVec6
    rotor_inertia: PosVec6 = Field(description="motor side, kg·m²")
    max_current: PosVec6 = Field(description="A")
    gear_stiffness: PosVec6 = Field(description="torsional, link side, N·m/rad")
    torque_offset: Vec6 = Field(description="the drive's torque estimate minus kt·iq, link side, N·m")
    torque_constant_ripple: NonNegVec6 = Field(
        description="relative ripple of the torque constant the drive's estimate uses, with the rotor angle"
    )
    torque_cogging: NonNegVec6 = Field(
        description="cogging map in the drive's torque estimate, link side, N·m"
    )
    current_bandwidth_hz: PositiveFloat = Field(description="of the drives' current loops")
    decoupling: float = Field(ge=0, le=1, description="share of the dq cross-coupling the drive cancels")


class FrictionSection(_Section):
    coulomb: NonNegVec6 = Field(description="link side, N·m")
    viscous: NonNegVec6 = Field(description="link side, N·m·s/rad")
    load: NonNegVec6 = Field(description="Coulomb friction added per N·m of transmitted torque")
    stiction: float = Field(ge=1, description="breakaway torque of a standing axis over its Coulomb friction")


class ControllerSection(_Section):
    rate_hz: PositiveFloat
    bandwidth_hz: PosVec6
    damping: PosVec6
    integral_hz: NonNegativeFloat = Field(description="corner of the integral action")
    friction_compensation: float = Field(
        ge=0, le=1.5, description="share of the nominal friction fed forward"
    )
    payload_switching: bool = Field(description="the model carries the normal can while the vacuum is on")
    action_delay_s: NonNegativeFloat = Field(description="the action label lags the motion it names")
    encoder_latency_steps: int = Field(
        ge=0, le=20, description="age of encoder and torque sensor readings when they arrive, steps"
    )


class MotionSection(_Section):
    joint_velocity: PosVec6
    joint_acceleration: PosVec6
    joint_jerk: PosVec6
    lin_velocity: PositiveFloat
    lin_acceleration: PositiveFloat
    lin_jerk: PositiveFloat


class CellSection(_Section):
    over_place_joints: Vec6 = Field(description="taught pose above the place position; cycles start there")
    scan_joints: Vec6 = Field(description="taught pose where the camera looks for the can")
    can_position: Vec3 = Field(description="top of the can at the centre of the pick area, base frame, m")
    can_spread: Annotated[list[NonNegativeFloat], Field(min_length=2, max_length=2)]
    approach_height: PositiveFloat
    dwell_s: Dwell = Field(description="mean standing time of VOID_1..VOID_8")
    dwell_jitter_s: Dwell


class ElectricalSection(_Section):
    psu_voltage: PositiveFloat
    psu_resistance: NonNegativeFloat
    line_resistance: NonNegativeFloat
    supply_offset: Vec6
    brake_voltage: PosVec6
    input_per_motor_power: PositiveFloat = Field(description="W drawn from the supply per W of motor power")
    logic_power: NonNegativeFloat = Field(description="W")
    system_current: NonNegativeFloat = Field(description="A")
    io_current_idle: NonNegativeFloat
    io_current_vacuum: NonNegativeFloat


class NoiseSection(_Section):
    joint_encoder_bits: int = Field(ge=8, le=32)
    motor_encoder_bits: int = Field(ge=8, le=32)
    joint_position: NonNegativeFloat
    joint_velocity: NonNegativeFloat
    current: NonNegativeFloat
    current_per_rate: NonNegativeFloat = Field(description="current noise per A/s of the current's change, A")
    current_ripple: NonNegVec6 = Field(description="ripple of the measured dq currents per A of iq, moving")
    current_ripple_speed: NonNegVec6 = Field(
        description="ripple of the dq currents per rad/s of link speed, A"
    )
    voltage: NonNegativeFloat
    encoder_periods: int = Field(ge=1, description="signal periods per turn of the link encoder")
    encoder_interpolation: NonNegativeFloat = Field(description="amplitude of its interpolation error, rad")
    torque_ripple_speed: NonNegVec6 = Field(description="gear and motor torque ripple per rad/s, N·m")
    torque_ripple_load: NonNegVec6 = Field(description="the same per N·m of transmitted torque, moving")
    torque_sensor: NonNegVec6
    torque_sensor_lsb: PosVec6
    torque_sensor_offset: Vec6 = Field(description="sensor a reads +offset/2, sensor b -offset/2, N·m")
    torque_sensor_zero: Vec6 = Field(description="both sensors read this much at no load, N·m")
    robot_voltage: NonNegativeFloat
    robot_voltage_lsb: PositiveFloat
    supply_voltage: NonNegativeFloat
    supply_voltage_lsb: PositiveFloat
    brake_voltage: NonNegativeFloat
    robot_current: NonNegativeFloat
    system_current: NonNegativeFloat
    io_current: NonNegativeFloat
    current_lsb: PositiveFloat
    time_jitter_s: NonNegativeFloat


class StructureSection(_Section):
    """The first bending mode of the arm seen from each joint: excited by the jerk of the
    commanded motion, it rings in the link-side torques and the link encoders."""

    frequency_hz: PosVec6
    damping: PositiveFloat
    share: Annotated[list[float], Field(min_length=6, max_length=6)] = Field(
        description="share (0..1) of the joint's inertia that swings with the mode"
    )


class VariationSection(_Section):
    friction: NonNegativeFloat = Field(description="relative std of the friction of a cycle")
    friction_drift: float = Field(
        description="relative change of friction from the first to the last recorded cycle (gears warm up)"
    )
    noise: NonNegativeFloat = Field(description="relative std of the noise level of a cycle")
    sensor_offset: NonNegativeFloat = Field(description="std of the torque sensor zero of a cycle, N·m")
    supply: NonNegativeFloat = Field(description="std of the supply voltage of a cycle, V")


class CellProfile(_Section):
    name: str
    description: str
    arm: ArmSection
    tool: ToolSection
    drives: DriveSection
    friction: FrictionSection
    controller: ControllerSection
    motion: MotionSection
    model: ModelSection
    cell: CellSection
    electrical: ElectricalSection
    noise: NoiseSection
    structure: StructureSection
    variation: VariationSection
    anomalies: AnomalySection

    @model_validator(mode="after")
    def _physical(self) -> CellProfile:
        problems: list[str] = []
        for i, link in enumerate(self.arm.links, start=1):
            problems += inertia_problems(link.body(), link.radius, f"arm.links[{i}]")
        problems += inertia_problems(
            Body.from_six(self.tool.mass, self.tool.com, self.tool.inertia), self.tool.radius, "tool"
        )
        if problems:
            raise ValueError("inertial parameters that no real body has: " + "; ".join(problems))
        return self

    def _arm(self, mass_scale: list[float], com_shift: list[list[float]]) -> Arm:
        bodies = [link.body() for link in self.arm.links]
        bodies.append(Body.from_six(self.tool.mass, self.tool.com, self.tool.inertia))
        bodies = [
            Body(b.mass * k, b.com + np.array(shift), b.inertia * k)
            for b, k, shift in zip(bodies, mass_scale, com_shift, strict=True)
        ]
        arm = Arm(
            np.array(self.arm.dh_d),
            np.array(self.arm.dh_a),
            np.array(self.arm.dh_alpha),
            tuple(bodies[:6]),
            np.array(self.arm.joint_sign),
            np.array(self.arm.joint_offset),
        )
        return arm.with_body(6, bodies[6])

    def arm_model(self) -> Arm:
        """The arm with the tool (gripper and camera) fixed to its flange, without a can."""
        return self._arm([1.0] * 7, [[0.0, 0.0, 0.0]] * 7)

    def controller_arm(self) -> Arm:
        """The arm as the controller's dynamic model has it."""
        return self._arm(self.model.mass_scale, self.model.com_shift)


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the problem."""


PROFILE_DIR = "profiles"


def builtin_profiles() -> list[str]:
    folder = resources.files("replay") / PROFILE_DIR
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def _read(source: str | Path, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    path = Path(source)
    if path.suffix != ".toml" and str(source) in builtin_profiles():
        text = (resources.files("replay") / PROFILE_DIR / f"{source}.toml").read_text()
        where, folder = f"built-in profile {source!r}", None
    elif path.is_file():
        text, where, folder = path.read_text(), str(path), path.parent
    else:
        raise ProfileError(
            f"no profile {str(source)!r}: not a file, and not one of the built-in profiles "
            f"({', '.join(builtin_profiles())})"
        )
    if where in seen:
        raise ProfileError(f"{where}: `base` chain loops back to itself ({' -> '.join((*seen, where))})")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}: not valid TOML ({exc})") from exc
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ProfileError(f"{where}: `base` must be a profile name or path, got {base!r}")
    base_path = Path(base)
    if folder is not None and base_path.suffix == ".toml" and not base_path.is_absolute():
        base = str(folder / base_path)
    try:
        return _merge(_read(base, (*seen, where)), data)
    except ProfileError as exc:
        raise ProfileError(f"{where}: base: {exc}") from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value replaces the base's."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_profile(source: str | Path = "default") -> CellProfile:
    """A built-in profile by name, or a TOML file by path."""
    data = _read(source)
    try:
        return CellProfile.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        ]
        raise ProfileError(f"{source}: invalid cell profile:\n  " + "\n  ".join(lines)) from None
