"""The voraus-AD table: columns, dtypes, enums and signal groups.

Kept exactly as the public dataset stores it (Brockmann et al., IEEE T-RO 2023, and the
official loader in vorausrobotik/voraus-ad-dataset), so that a user can point robotwatch
at the real `voraus-ad-dataset-100hz.parquet` or `-500hz.parquet`.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Category(IntEnum):
    """Anomaly category of a cycle (`category` column)."""

    AXIS_FRICTION = 0
    AXIS_WEIGHT = 1
    COLLISION_FOAM = 2
    COLLISION_CABLE = 3
    COLLISION_CARTON = 4
    MISS_CAN = 5
    LOSE_CAN = 6
    CAN_WEIGHT = 7
    ENTANGLED = 8
    INVALID_POSITION = 9
    MOTOR_COMMUTATION = 10
    WOBBLING_STATION = 11
    NORMAL_OPERATION = 12


ANOMALY_CATEGORIES: tuple[Category, ...] = tuple(c for c in Category if c != Category.NORMAL_OPERATION)


class Variant(IntEnum):
    """Variant of a category (`setting` column): which axis, weight, level or recording."""

    A1_A = 0
    A1_B = 1
    A2_A = 2
    A2_B = 3
    A3_A = 4
    A3_B = 5
    A3_C = 6
    A4_A = 7
    A4_B = 8
    A4_C = 9
    A5_A = 10
    A5_B = 11
    A6_A = 12
    A6_B = 13
    A1_115G = 14
    A1_231G = 15
    A1_500G = 16
    A2_500G = 17
    A2_231G = 18
    A2_115G = 19
    A3_115G = 20
    A3_231G = 21
    A3_500G = 22
    A4_500G = 23
    A4_231G = 24
    A4_115G = 25
    A5_115G = 26
    A5_231G = 27
    A5_500G = 28
    A6_500G = 29
    A6_231G = 30
    A6_115G = 31
    LARGE_FULL = 32
    SMALL_FULL = 33
    SMALL_STRIPE = 34
    SMALL_HANGING_FULL = 35
    LARGE_HANGING_FULL = 36
    SMALL_HANGING_STRIPE = 37
    CONNECTOR_TOP = 38
    CONNECTOR_SIDE = 39
    LAN = 40
    STRIPE = 41
    FULL_A = 42
    FULL_B = 43
    CONVEYOR = 44
    NO_VACUUM = 45
    DEFECT_GRIPPER_DROP_CAN = 46
    DROP_1400MS = 47
    DROP_1100MS = 48
    DROP_100MS = 49
    DROP_200MS = 50
    LOSE_200MS = 51
    LOSE_300MS = 52
    LOSE_PLACE_100MS = 53
    DECREASE_95G = 54
    DECREASE_165G = 55
    EMPTY = 56
    INCREASE_242G = 57
    INCREASE_373G = 58
    INCREASE_407G = 59
    CABLE = 60
    PICK = 61
    A1_HIGH = 62
    A1_MEDIUM = 63
    A2_MEDIUM = 64
    A3_MEDIUM = 65
    A4_MEDIUM = 66
    A5_MEDIUM = 67
    A6_MEDIUM = 68
    LOW_DAMPING = 69
    MEDIUM_DAMPING = 70
    HIGH_DAMPING = 71
    PRE_A = 72
    PRE_B = 73
    BETWEEN_A = 74
    BETWEEN_B = 75
    BETWEEN_C = 76


TRAIN_SETTING = Variant.PRE_A
NORMAL_TEST_SETTINGS: frozenset[int] = frozenset(
    {Variant.PRE_B, Variant.BETWEEN_A, Variant.BETWEEN_B, Variant.BETWEEN_C}
)


class Action(IntEnum):
    """Step of the pick-and-place program (`action` column). Odd = motion, even = standing."""

    VOID_1 = 0
    TO_SCAN_PTP = 1
    VOID_2 = 2
    OVER_OBJECT_PTP = 3
    VOID_3 = 4
    DOWN_PICK_LIN = 5
    VOID_4 = 6
    UP_PICK_LIN = 7
    VOID_5 = 8
    TO_PLACE_PTP = 9
    VOID_6 = 10
    DOWN_PLACE_LIN = 11
    VOID_7 = 12
    UP_PLACE_LIN = 13
    VOID_8 = 14


N_AXES = 6
ROBOT_SIGNALS: tuple[str, ...] = ("robot_voltage", "robot_current", "io_current", "system_current")
AXIS_SIGNALS: tuple[str, ...] = (
    "target_position",
    "target_velocity",
    "target_acceleration",
    "target_torque",
    "computed_inertia",
    "computed_torque",
    "motor_position",
    "motor_velocity",
    "joint_position",
    "joint_velocity",
    "motor_torque",
    "torque_sensor_a",
    "torque_sensor_b",
    "motor_iq",
    "motor_id",
    "power_motor_el",
    "power_motor_mech",
    "power_load_mech",
    "motor_voltage",
    "supply_voltage",
    "brake_voltage",
)
SIGNALS: tuple[str, ...] = ROBOT_SIGNALS + tuple(
    f"{name}_{axis}" for axis in range(1, N_AXES + 1) for name in AXIS_SIGNALS
)

META_DTYPES: dict[str, np.dtype] = {
    "time": np.dtype("float64"),
    "sample": np.dtype("int64"),
    "anomaly": np.dtype("bool"),
    "category": np.dtype("int64"),
    "setting": np.dtype("int64"),
    "action": np.dtype("uint8"),
    "active": np.dtype("int64"),
}
META_COLUMNS: tuple[str, ...] = tuple(META_DTYPES)
COLUMNS: tuple[str, ...] = META_COLUMNS + SIGNALS
DTYPES: dict[str, np.dtype] = {**META_DTYPES, **{s: np.dtype("float64") for s in SIGNALS}}
INDEX_NAME = "index"

# Per-cycle constants: every row of one cycle carries the same value.
CYCLE_CONSTANT_COLUMNS: tuple[str, ...] = ("sample", "anomaly", "category", "setting")

_ELECTRICAL_AXIS = (
    "motor_iq",
    "motor_id",
    "power_motor_el",
    "motor_voltage",
    "supply_voltage",
    "brake_voltage",
)
_MEASURED_AXIS = (
    "motor_position",
    "motor_velocity",
    "joint_position",
    "joint_velocity",
    "torque_sensor_a",
    "torque_sensor_b",
    "motor_voltage",
    "supply_voltage",
    "brake_voltage",
)


def _per_axis(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{n}_{axis}" for axis in range(1, N_AXES + 1) for n in names)


# The groups of the voraus-AD ablations, in the official loader's order.
ELECTRICAL: tuple[str, ...] = ROBOT_SIGNALS + _per_axis(_ELECTRICAL_AXIS)
MEASURED: tuple[str, ...] = ROBOT_SIGNALS + _per_axis(_MEASURED_AXIS)
MECHANICAL: tuple[str, ...] = tuple(s for s in SIGNALS if s not in ELECTRICAL)
COMPUTED: tuple[str, ...] = tuple(s for s in SIGNALS if s not in MEASURED)
SIGNAL_GROUPS: dict[str, tuple[str, ...]] = {
    "machine": SIGNALS,
    "electrical": ELECTRICAL,
    "mechanical": MECHANICAL,
    "measured": MEASURED,
    "computed": COMPUTED,
}


def signal_group(name: str) -> tuple[str, ...]:
    """The signals of a named group (machine, electrical, mechanical, measured, computed)."""
    try:
        return SIGNAL_GROUPS[name]
    except KeyError:
        raise ValueError(f"unknown signal group {name!r}; choose one of {', '.join(SIGNAL_GROUPS)}") from None


def axis_of(signal: str) -> int | None:
    """The axis (1..6) a signal belongs to, or None for the robot-wide signals."""
    head, _, tail = signal.rpartition("_")
    if head in AXIS_SIGNALS and tail.isdigit():
        return int(tail)
    return None


# The physical unit of each signal kind (the voraus-AD signals are SI: positions in rad at the
# motor and the joint, torques in N·m); what a plot's physical axis is labelled with.
SIGNAL_UNITS: dict[str, str] = {
    "robot_voltage": "V",
    "robot_current": "A",
    "io_current": "A",
    "system_current": "A",
    "target_position": "rad",
    "target_velocity": "rad/s",
    "target_acceleration": "rad/s²",
    "target_torque": "N·m",
    "computed_inertia": "kg·m²",
    "computed_torque": "N·m",
    "motor_position": "rad",
    "motor_velocity": "rad/s",
    "joint_position": "rad",
    "joint_velocity": "rad/s",
    "motor_torque": "N·m",
    "torque_sensor_a": "N·m",
    "torque_sensor_b": "N·m",
    "motor_iq": "A",
    "motor_id": "A",
    "power_motor_el": "W",
    "power_motor_mech": "W",
    "power_load_mech": "W",
    "motor_voltage": "V",
    "supply_voltage": "V",
    "brake_voltage": "V",
}


def unit_of(signal: str) -> str | None:
    """The unit of a voraus-AD signal (`motor_torque_3` -> `N·m`); None for a signal this
    table does not know (a cell's own signals)."""
    if signal in SIGNAL_UNITS:
        return SIGNAL_UNITS[signal]
    return SIGNAL_UNITS[signal.rpartition("_")[0]] if axis_of(signal) is not None else None
