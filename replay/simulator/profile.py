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
    links: Annotated[list[Link], Field(min_length=6, max_length=6)]


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


class FrictionSection(_Section):
    coulomb: NonNegVec6 = Field(description="link side, N·m")
    viscous: NonNegVec6 = Field(description="link side, N·m·s/rad")
    load: NonNegVec6 = Field(description="Coulomb friction added per N·m of transmitted torque")


class ControllerSection(_Section):
    rate_hz: PositiveFloat
    bandwidth_hz: PosVec6
    damping: PositiveFloat
    integral_hz: NonNegativeFloat = Field(description="corner of the integral action")
    friction_compensation: float = Field(ge=0, le=1, description="share of the nominal friction fed forward")
    payload_switching: bool = Field(description="the model carries the normal can while the vacuum is on")
    action_delay_s: NonNegativeFloat = Field(description="the action label lags the motion it names")


class MotionSection(_Section):
    joint_velocity: PosVec6
    joint_acceleration: PosVec6
    joint_jerk: PosVec6
    lin_velocity: PositiveFloat
    lin_acceleration: PositiveFloat
    lin_jerk: PositiveFloat


class CellSection(_Section):
    scan_joints: Vec6
    seed_joints: Vec6
    can_position: Vec3 = Field(description="top of the can at the centre of the pick area, base frame, m")
    can_spread: Annotated[list[NonNegativeFloat], Field(min_length=2, max_length=2)]
    place_position: Vec3
    approach_height: PositiveFloat
    tool_yaw: float
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
    current_per_speed: NonNegativeFloat = Field(
        description="extra d-current ripple per rad/s of link speed, A"
    )
    voltage: NonNegativeFloat
    torque_sensor: NonNegVec6
    torque_sensor_lsb: PosVec6
    torque_sensor_offset: Vec6 = Field(description="sensor a reads +offset/2, sensor b -offset/2, N·m")
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


class VariationSection(_Section):
    friction: NonNegativeFloat = Field(description="relative std of the friction of a cycle")
    noise: NonNegativeFloat = Field(description="relative std of the noise level of a cycle")
    sensor_offset: NonNegativeFloat = Field(description="std of the torque sensor zero of a cycle, N·m")
    supply: NonNegativeFloat = Field(description="std of the supply voltage of a cycle, V")


class Collision(_Section):
    force: PositiveFloat = Field(description="peak contact force, N")
    duration: PositiveFloat = Field(description="s")
    link: int = Field(ge=1, le=6)
    point: Vec3 = Field(description="contact point in the link frame, m")
    standing: float = Field(ge=0, le=1, description="share of the events that hit the arm while it stands")


class Cable(_Section):
    stiffness: PositiveFloat = Field(description="N/m")
    damping: NonNegativeFloat = Field(description="N·s/m")
    length: PositiveFloat = Field(description="unstretched, from anchor to the arm, m")
    anchor: Vec3 = Field(description="base frame, m")
    link: int = Field(ge=1, le=6)
    point: Vec3


class Platform(_Section):
    mass: PositiveFloat = Field(description="moving mass of the stand without the arm, kg")
    frequency_hz: PositiveFloat = Field(description="a firm stand (every cycle)")
    damping: PositiveFloat
    wobbling_frequency_hz: PositiveFloat = Field(description="the stand of WOBBLING_STATION")
    wobbling_damping: dict[str, PositiveFloat]


class InvalidPosition(_Section):
    offset: Annotated[list[float], Field(min_length=2, max_length=2)]
    yaw: float
    delay_s: NonNegativeFloat
    delay_jitter_s: NonNegativeFloat


class AnomalySection(_Section):
    friction_increase: dict[str, PositiveFloat]
    weight_point: Annotated[list[Vec3], Field(min_length=6, max_length=6)]
    commutation_deg: dict[str, PositiveFloat]
    collisions: dict[str, Collision]
    cable: Cable
    can_mass: dict[str, PositiveFloat]
    invalid_position: InvalidPosition
    platform: Platform


class CellProfile(_Section):
    name: str
    description: str
    arm: ArmSection
    tool: ToolSection
    drives: DriveSection
    friction: FrictionSection
    controller: ControllerSection
    motion: MotionSection
    cell: CellSection
    electrical: ElectricalSection
    noise: NoiseSection
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

    def arm_model(self) -> Arm:
        """The arm with the tool (gripper and camera) fixed to its flange, without a can."""
        arm = Arm(
            np.array(self.arm.dh_d),
            np.array(self.arm.dh_a),
            np.array(self.arm.dh_alpha),
            tuple(link.body() for link in self.arm.links),
        )
        return arm.with_body(6, Body.from_six(self.tool.mass, self.tool.com, self.tool.inertia))


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
