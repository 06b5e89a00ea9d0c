"""Every voraus-AD signal has a physical unit, so that a report can show it beside the
normalized view."""

from __future__ import annotations

import pytest

from replay.schema import AXIS_SIGNALS, ROBOT_SIGNALS, SIGNAL_UNITS, SIGNALS, unit_of


def test_every_signal_has_a_unit_and_every_unit_a_signal() -> None:
    assert all(unit_of(s) for s in SIGNALS)
    assert set(SIGNAL_UNITS) == set(ROBOT_SIGNALS) | set(AXIS_SIGNALS)


@pytest.mark.parametrize(
    ("signal", "unit"),
    [
        ("robot_voltage", "V"),
        ("system_current", "A"),
        ("motor_torque_3", "N·m"),
        ("torque_sensor_b_6", "N·m"),
        ("joint_position_1", "rad"),
        ("motor_velocity_2", "rad/s"),
        ("target_acceleration_4", "rad/s²"),
        ("computed_inertia_5", "kg·m²"),
        ("power_motor_el_1", "W"),
        ("motor_iq_2", "A"),
        ("brake_voltage_6", "V"),
    ],
)
def test_units_by_kind(signal: str, unit: str) -> None:
    assert unit_of(signal) == unit


@pytest.mark.parametrize("signal", ["spindle_load", "motor_torque_x", "gripper_3", "robot_voltage_2"])
def test_a_signal_outside_the_table_has_no_unit(signal: str) -> None:
    assert unit_of(signal) is None
