"""The motor of each axis: currents, voltages and powers of a permanent-magnet servo.

Currents are amplitude-invariant dq quantities (torque = 1.5 p psi iq = kt iq), voltages
are logged on the power-invariant scale (sqrt(3/2) times the amplitude), so that the
electrical power is sqrt(3/2) (ud id + uq iq): the real excerpt shows exactly this ratio of
power_motor_el to motor_voltage * motor_iq (1.20-1.23). Back-EMF on the q axis is
p psi w = (2/3) kt w in amplitude terms. Everything is expressed on the link side, as
the table does: torque constant times gear ratio, link speed. A commutation error (the
drive's rotor angle is off by delta) makes the drive put its current vector delta away from
the q axis: only cos(delta) of it forms torque, the rest flows as d current, and the drive
must raise its current to hold the arm.

What the real drives add to that ideal, each from its own cause:
- the measured dq currents ripple at twice the electrical frequency (the phase current
  sensors' gains differ a little), more the larger the current and the faster the rotor;
  their noise grows with the current's rate of change (the current loop trails it);
- the d current has its own dynamics: the PI current loop cancels most, not all, of the
  cross-coupling voltage w L iq, and what is left drives id while w iq changes;
- the drive's torque estimate (motor_torque) maps its current to torque with an
  angle-dependent torque constant, adds its cogging map (60 periods per motor turn: 12
  slots, 10 poles) and carries an offset (the excerpt's motor_torque is an affine function
  of motor_iq, not a proportional one, and leaves it in motion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay.simulator.profile import CellProfile

SCALE = np.sqrt(1.5)  # power-invariant over amplitude-invariant dq scale
COGGING_PERIODS = 60  # per motor turn: least common multiple of 12 slots and 10 poles
MOVING_SPEED = 0.05  # rad/s: below this a rotor's angle hardly changes within a row


@dataclass(frozen=True)
class Electrical:
    """Per-step drive quantities (T, 6): measured ones carry noise, `true_power` does not."""

    iq: np.ndarray
    id: np.ndarray
    motor_torque: np.ndarray
    voltage: np.ndarray
    power: np.ndarray
    true_power: np.ndarray


def moving_share(speed: np.ndarray) -> np.ndarray:
    """0 at standstill to 1 from MOVING_SPEED on: how much of a rotor-angle ripple shows."""
    return np.minimum(np.abs(speed) / MOVING_SPEED, 1.0)


def electrical(
    profile: CellProfile,
    command: np.ndarray,
    position: np.ndarray,
    speed: np.ndarray,
    commutation: np.ndarray,
    dt: float,
    noise_scale: float,
    rng: np.random.Generator,
) -> Electrical:
    """`command`: link-side torque the drive applies; `position`, `speed`: the joint's (the
    rotor turns gear-ratio times as far; the gearbox winds up too little to matter)."""
    d, noise = profile.drives, profile.noise
    kt = np.array(d.torque_constant) * np.array(d.gear_ratio)  # N·m/A on the link side
    resistance, inductance = np.array(d.resistance), np.array(d.inductance)
    poles = np.array(d.pole_pairs) * np.array(d.gear_ratio)
    current = command / kt  # the drive's q current; its current loop realizes it
    iq, id_ = current * np.cos(commutation), current * np.sin(commutation)
    # electrical power without measurement effects: copper losses and mechanical power
    true_power = 1.5 * (resistance * (iq**2 + id_**2) + (2 / 3) * kt * speed * iq)
    electric_speed = poles * speed
    angle = poles * position  # electrical angle of each rotor

    # what the PI current loop leaves of the cross-coupling in d: id = (d/dt disturbance) / (R w_c)
    bandwidth = 2 * np.pi * d.current_bandwidth_hz
    coupling = (1.0 - d.decoupling) * inductance * electric_speed * iq
    id_ = id_ - np.gradient(coupling, dt, axis=0) / (resistance * bandwidth)

    shape = command.shape
    ripple = np.array(noise.current_ripple) * np.abs(iq) + np.array(noise.current_ripple_speed) * np.abs(
        speed
    )
    ripple *= moving_share(speed)
    rate = np.abs(np.gradient(iq, dt, axis=0))
    sigma = (noise.current + noise.current_per_rate * rate) * noise_scale
    iq_m = iq + ripple * np.sin(2 * angle) + rng.normal(0.0, 1.0, shape) * sigma
    id_m = id_ + ripple * np.cos(2 * angle) + rng.normal(0.0, 1.0, shape) * sigma

    # the voltages the current loops apply, for the currents as they flow (ripple included)
    diq, did = np.gradient(iq_m, dt, axis=0), np.gradient(id_m, dt, axis=0)
    uq = resistance * iq_m + inductance * diq + (2 / 3) * kt * speed + electric_speed * inductance * id_m
    ud = resistance * id_m + inductance * did - electric_speed * inductance * iq_m
    uq_m = SCALE * uq + rng.normal(0.0, noise.voltage * noise_scale, shape)
    ud_m = SCALE * ud + rng.normal(0.0, noise.voltage * noise_scale, shape)
    cos, sin = np.cos(commutation), np.sin(commutation)
    # the drive's own torque estimate: its q current (in its wrong frame) through its torque map
    torque_map = kt * (1.0 + np.array(d.torque_constant_ripple) * np.sin(6 * angle))
    return Electrical(
        iq=iq_m,
        id=id_m,
        motor_torque=torque_map * (iq_m * cos + id_m * sin)
        + np.array(d.torque_cogging) * np.sin(COGGING_PERIODS * angle / np.array(d.pole_pairs))
        + np.array(d.torque_offset),
        voltage=uq_m,
        power=SCALE * (uq_m * iq_m + ud_m * id_m),
        true_power=true_power,
    )
