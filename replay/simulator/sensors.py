"""Turn the simulated physics of one cycle into the 130 signals of the voraus-AD table.

target_* are the controller's commands, computed_* its model, and everything else is
measured: with noise, the ADC steps of the real recordings, and float32 storage (every
value of the real dataset is a float32). The encoders' and torque sensors' readings reach
the controller a few steps after they were taken and are logged as it receives them, so
they trail the targets (in the excerpt by one 100 Hz row on every axis); the drives' own
currents and voltages are logged without that delay.

On top of the rigid arm the link side sees what a real joint adds: the torque ripple of
the harmonic drive (twice per motor turn) and of the motor's poles (six times per
electrical turn), growing with speed and load, and the first bending mode of the arm,
which the jerk of each move sets ringing.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

from replay.schema import AXIS_SIGNALS, ROBOT_SIGNALS, SIGNALS
from replay.simulator.controller import Response
from replay.simulator.drive import electrical, moving_share
from replay.simulator.dynamics import lerp
from replay.simulator.kinematics import matvec
from replay.simulator.plant import Plant
from replay.simulator.profile import CellProfile
from replay.simulator.scenario import Scenario

_COLUMN = {name: i for i, name in enumerate(SIGNALS)}
_AXIS_INDEX = {name: i for i, name in enumerate(AXIS_SIGNALS)}


def _quantize(x: np.ndarray, step: np.ndarray | float) -> np.ndarray:
    return np.round(x / step) * step


def transmitted_torque(plant: Plant, response: Response, mass_matrix: np.ndarray | None = None) -> np.ndarray:
    """Torque (T, 6) through each gearbox into its rigid link: from the link's side of the
    motion equation, M q_dd + bias - external (`mass_matrix`: M at every step, if known)."""
    if mass_matrix is None:
        mass_matrix = lerp(plant.mass_matrix, np.arange(len(response.qdd)), plant.coarse)
    return matvec(mass_matrix, response.qdd) + plant.bias - plant.external


def gear_ripple(profile: CellProfile, q: np.ndarray, qd: np.ndarray, torque: np.ndarray) -> np.ndarray:
    """Torque ripple (T, 6) of the harmonic drive (2 per motor turn) and of the motor's
    poles (6 per electrical turn) as the link side feels it: it grows with speed and with
    the torque the gear carries, and is sampled at the controller rate as the real sensors
    are (its frequencies alias into the 100 Hz rows)."""
    noise, drives = profile.noise, profile.drives
    motor = np.array(drives.gear_ratio) * q
    poles = np.array(drives.pole_pairs) * motor
    size = np.array(noise.torque_ripple_speed) * np.abs(qd)
    size += np.array(noise.torque_ripple_load) * np.abs(torque) * moving_share(qd)
    return size * (np.sin(2 * motor) + 0.5 * np.sin(6 * poles + 1.0))


@lru_cache(maxsize=64)
def _mode_filter(
    frequency_hz: float, damping: float, share: float, dt: float
) -> tuple[np.ndarray, np.ndarray]:
    w = 2 * np.pi * frequency_hz
    return signal.bilinear([-share], [1.0, 2 * damping * w, w * w], fs=1.0 / dt)


def bending_mode(profile: CellProfile, qdd: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """How far (T, 6) and how fast each link swings against its joint in the arm's first
    bending mode, driven by the joint's acceleration: x'' + 2 zeta w x' + w² x = -share q''.
    Constant acceleration only bends it; each change (the moves' jerk) sets it ringing."""
    st = profile.structure
    x, v = np.empty_like(qdd), np.empty_like(qdd)
    for axis in range(qdd.shape[1]):
        b, a = _mode_filter(st.frequency_hz[axis], st.damping, st.share[axis], dt)
        x[:, axis] = signal.lfilter(b, a, qdd[:, axis] - qdd[0, axis])
    v[1:] = np.diff(x, axis=0) / dt
    v[0] = 0.0
    return x, v


def delayed(values: np.ndarray, steps: int) -> np.ndarray:
    """`values` as they arrive `steps` later (the first ones repeat the first reading)."""
    if steps == 0:
        return values
    return np.concatenate([np.repeat(values[:1], steps, axis=0), values[:-steps]])


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
    # the table holds the robot's signals, then each axis's block of the same signals
    axes = np.empty((len(AXIS_SIGNALS), n, 6))

    def put(name: str, values: np.ndarray) -> None:
        axes[_AXIS_INDEX[name]] = values

    put("target_position", plant.q_ref)
    put("target_velocity", plant.qd_ref)
    put("target_acceleration", plant.qdd_ref)
    put("target_torque", response.feedback)
    put("computed_inertia", plant.computed_inertia)
    put("computed_torque", plant.computed_torque)

    # the link side: rigid torque, plus the gear's ripple, plus the bending mode's swing
    mass_matrix = lerp(plant.mass_matrix, np.arange(n), plant.coarse)
    rigid = transmitted_torque(plant, response, mass_matrix)
    bend, bend_rate = bending_mode(profile, response.qdd, dt)
    inertia = np.diagonal(mass_matrix, axis1=1, axis2=2)
    bend_accel = np.zeros_like(bend_rate)
    bend_accel[1:] = np.diff(bend_rate, axis=0) / dt
    torque = rigid + gear_ripple(profile, response.q, response.qd, rigid) + inertia * bend_accel
    lag = profile.controller.encoder_latency_steps
    gear = np.array(drives.gear_ratio)
    motor_lsb = 2 * np.pi / 2**noise.motor_encoder_bits / gear
    motor_position = _quantize(response.q + rigid / np.array(drives.gear_stiffness), motor_lsb)
    speed = delayed(motor_velocity(motor_position, dt), lag)
    put("motor_position", delayed(motor_position, lag))
    put("motor_velocity", speed)
    joint_velocity = delayed(response.measured_qd + bend_rate, lag)
    put("joint_position", delayed(response.measured_q + bend, lag))
    put("joint_velocity", joint_velocity)

    drive = electrical(
        profile, response.command, response.q, response.qd, scenario.commutation, dt, scale, rng
    )
    put("motor_torque", drive.motor_torque)
    sensor_sigma = np.array(noise.torque_sensor) * scale
    lsb = np.array(noise.torque_sensor_lsb)
    zero = np.array(noise.torque_sensor_zero)
    half = np.array(noise.torque_sensor_offset) / 2
    sensor_a = _quantize(
        torque + zero + half + scenario.sensor_offset[0] + rng.normal(0, 1, (n, 6)) * sensor_sigma, lsb
    )
    sensor_b = _quantize(
        torque + zero - half + scenario.sensor_offset[1] + rng.normal(0, 1, (n, 6)) * sensor_sigma, lsb
    )
    put("torque_sensor_a", sensor_a)
    put("torque_sensor_b", sensor_b)
    put("motor_iq", drive.iq)
    put("motor_id", drive.id)
    put("power_motor_el", drive.power)
    put("power_motor_mech", drive.motor_torque * speed)
    put("power_load_mech", 0.5 * (sensor_a + sensor_b) * joint_velocity)
    put("motor_voltage", drive.voltage)

    supply, robot = _supply(profile, drive.true_power.sum(axis=1), plant.vacuum, scenario, rng)
    put("supply_voltage", supply)
    put("brake_voltage", np.array(elec.brake_voltage) + rng.normal(0, noise.brake_voltage * scale, (n, 6)))
    out = np.empty((n, len(SIGNALS)))
    for name in ROBOT_SIGNALS:
        out[:, _COLUMN[name]] = robot[name]
    out[:, len(ROBOT_SIGNALS) :] = axes.transpose(1, 2, 0).reshape(n, -1)
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
