"""Turn the simulated physics of one cycle into the 130 signals of the voraus-AD table.

target_* are the controller's commands, computed_* its model, and everything else is
measured: with noise, the ADC steps of the real recordings, and float32 storage (every
value of the real dataset is a float32).
"""

from __future__ import annotations

import numpy as np

from replay.schema import AXIS_SIGNALS, ROBOT_SIGNALS, SIGNALS
from replay.simulator.controller import Response
from replay.simulator.drive import electrical
from replay.simulator.dynamics import lerp
from replay.simulator.kinematics import matvec
from replay.simulator.plant import Plant
from replay.simulator.profile import CellProfile
from replay.simulator.scenario import Scenario

_COLUMN = {name: i for i, name in enumerate(SIGNALS)}
_AXIS_COLUMNS = {name: np.array([_COLUMN[f"{name}_{axis}"] for axis in range(1, 7)]) for name in AXIS_SIGNALS}


def _quantize(x: np.ndarray, step: np.ndarray | float) -> np.ndarray:
    return np.round(x / step) * step


def transmitted_torque(plant: Plant, response: Response) -> np.ndarray:
    """Torque (T, 6) through each gearbox into its link, what the torque sensors see:
    from the link's side of the motion equation, M q_dd + bias - external."""
    mass_matrix = lerp(plant.mass_matrix, np.arange(len(response.qdd)), plant.coarse)
    return matvec(mass_matrix, response.qdd) + plant.bias - plant.external


def motor_velocity(position: np.ndarray, dt: float, window: int = 4) -> np.ndarray:
    """Speed from the motor encoder as a drive estimates it: differences averaged over a
    few steps, so it is exactly zero while the encoder count does not change."""
    diff = np.zeros_like(position)
    diff[1:] = np.diff(position, axis=0) / dt
    kernel = np.ones(window) / window
    padded = np.vstack([np.zeros((window - 1, position.shape[1])), diff])
    return np.stack(
        [np.convolve(padded[:, i], kernel, mode="valid") for i in range(position.shape[1])], axis=1
    )


def measure(
    profile: CellProfile,
    plant: Plant,
    response: Response,
    scenario: Scenario,
    dt: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """All 130 signals (T, 130) in the table's order."""
    n = len(response.q)
    noise, elec, drives = profile.noise, profile.electrical, profile.drives
    scale = scenario.noise_scale
    out = np.empty((n, len(SIGNALS)))

    def put(name: str, values: np.ndarray) -> None:
        out[:, _AXIS_COLUMNS[name]] = values

    put("target_position", plant.q_ref)
    put("target_velocity", plant.qd_ref)
    put("target_acceleration", plant.qdd_ref)
    put("target_torque", response.feedback)
    put("computed_inertia", plant.computed_inertia)
    put("computed_torque", plant.computed_torque)

    torque = transmitted_torque(plant, response)
    gear = np.array(drives.gear_ratio)
    motor_lsb = 2 * np.pi / 2**noise.motor_encoder_bits / gear
    motor_position = _quantize(response.q + torque / np.array(drives.gear_stiffness), motor_lsb)
    speed = motor_velocity(motor_position, dt)
    put("motor_position", motor_position)
    put("motor_velocity", speed)
    put("joint_position", response.measured_q)
    put("joint_velocity", response.measured_qd)

    drive = electrical(profile, response.command, response.qd, scenario.commutation, dt, scale, rng)
    put("motor_torque", drive.motor_torque)
    sensor_sigma = np.array(noise.torque_sensor) * scale
    lsb = np.array(noise.torque_sensor_lsb)
    half = np.array(noise.torque_sensor_offset) / 2
    sensor_a = _quantize(
        torque + half + scenario.sensor_offset[0] + rng.normal(0, 1, (n, 6)) * sensor_sigma, lsb
    )
    sensor_b = _quantize(
        torque - half + scenario.sensor_offset[1] + rng.normal(0, 1, (n, 6)) * sensor_sigma, lsb
    )
    put("torque_sensor_a", sensor_a)
    put("torque_sensor_b", sensor_b)
    put("motor_iq", drive.iq)
    put("motor_id", drive.id)
    put("power_motor_el", drive.power)
    put("power_motor_mech", drive.motor_torque * speed)
    put("power_load_mech", 0.5 * (sensor_a + sensor_b) * response.measured_qd)
    put("motor_voltage", drive.voltage)

    supply, robot = _supply(profile, drive.true_power.sum(axis=1), plant.vacuum, scenario, rng)
    put("supply_voltage", supply)
    put("brake_voltage", np.array(elec.brake_voltage) + rng.normal(0, noise.brake_voltage * scale, (n, 6)))
    for name in ROBOT_SIGNALS:
        out[:, _COLUMN[name]] = robot[name]
    return out.astype(np.float32).astype(np.float64)


def _supply(
    profile: CellProfile,
    motor_power: np.ndarray,
    vacuum: np.ndarray,
    scenario: Scenario,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Supply voltage at each axis (T, 6) and the robot-wide voltage and currents.

    The motors' power (through the converters) and the logic's come from a power supply
    with some source resistance; regenerated power is burnt in the brake resistor, not fed
    back; the vacuum valve draws io current while open.
    """
    elec, noise, scale = profile.electrical, profile.noise, scenario.noise_scale
    n = len(motor_power)

    def measured(
        value: np.ndarray | float, sigma: float, step: float, shape: tuple[int, ...] = (n,)
    ) -> np.ndarray:
        return _quantize(value + rng.normal(0, sigma * scale, shape), step)

    demand = elec.input_per_motor_power * motor_power + elec.logic_power
    source = elec.psu_voltage + scenario.supply_shift
    current = np.maximum(demand / source, 0.0)
    volts = source - elec.psu_resistance * current
    current = np.maximum(demand / volts, 0.0)
    at_axes = volts[:, None] - elec.line_resistance * current[:, None] + np.array(elec.supply_offset)
    io = elec.io_current_idle + elec.io_current_vacuum * vacuum
    robot = {
        "robot_voltage": measured(volts, noise.robot_voltage, noise.robot_voltage_lsb),
        "robot_current": np.maximum(measured(current, noise.robot_current, noise.current_lsb), 0.0),
        "io_current": np.maximum(measured(io, noise.io_current, noise.current_lsb), 0.0),
        "system_current": np.maximum(
            measured(elec.system_current, noise.system_current, noise.current_lsb), 0.0
        ),
    }
    return measured(at_axes, noise.supply_voltage, noise.supply_voltage_lsb, (n, 6)), robot
