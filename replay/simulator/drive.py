"""The motor of each axis: currents, voltages and powers of a permanent-magnet servo.

Currents are amplitude-invariant dq quantities (torque = 1.5 p psi iq = kt iq), voltages
are logged on the power-invariant scale (sqrt(3/2) times the amplitude), so that the
electrical power is sqrt(3/2) (ud id + uq iq): the real excerpt shows exactly this ratio of
power_motor_el to motor_voltage * motor_iq (1.20-1.23). Back-EMF on the q axis is
p psi w = (2/3) kt w in amplitude terms. Everything is expressed on the link side, as
the table does: torque constant times gear ratio, link speed. A commutation error (the drive's rotor angle is off by delta) makes the
drive put its current vector delta away from the q axis: only cos(delta) of it forms
torque, the rest flows as d current, and the drive must raise its current to hold the arm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay.simulator.profile import CellProfile

SCALE = np.sqrt(1.5)  # power-invariant over amplitude-invariant dq scale


@dataclass(frozen=True)
class Electrical:
    """Per-step drive quantities (T, 6): measured ones carry noise, `true_power` does not."""

    iq: np.ndarray
    id: np.ndarray
    motor_torque: np.ndarray
    voltage: np.ndarray
    power: np.ndarray
    true_power: np.ndarray


def electrical(
    profile: CellProfile,
    command: np.ndarray,
    speed: np.ndarray,
    commutation: np.ndarray,
    dt: float,
    noise_scale: float,
    rng: np.random.Generator,
) -> Electrical:
    """`command`: link-side torque the drive is asked for; `speed`: the motor's speed on the link
    side (the joint speed: the gearbox winds up too little to matter)."""
    d, noise = profile.drives, profile.noise
    kt = np.array(d.torque_constant) * np.array(d.gear_ratio)  # N·m/A on the link side
    resistance, inductance = np.array(d.resistance), np.array(d.inductance)
    current = command / kt  # the drive's q current; its current loop realizes it
    iq, id_ = current * np.cos(commutation), current * np.sin(commutation)
    electric_speed = np.array(d.pole_pairs) * np.array(d.gear_ratio) * speed
    diq, did = np.gradient(iq, dt, axis=0), np.gradient(id_, dt, axis=0)
    # amplitude-invariant voltages first, then on the logged (power-invariant) scale
    uq = resistance * iq + inductance * diq + (2 / 3) * kt * speed + electric_speed * inductance * id_
    ud = resistance * id_ + inductance * did - electric_speed * inductance * iq
    uq, ud = SCALE * uq, SCALE * ud

    shape = command.shape
    sigma_q = noise.current * noise_scale
    sigma_d = (noise.current + noise.current_per_speed * np.abs(speed)) * noise_scale
    iq_m = iq + rng.normal(0.0, sigma_q, shape)
    id_m = id_ + rng.normal(0.0, 1.0, shape) * sigma_d
    uq_m = uq + rng.normal(0.0, noise.voltage * noise_scale, shape)
    ud_m = ud + rng.normal(0.0, noise.voltage * noise_scale, shape)
    cos, sin = np.cos(commutation), np.sin(commutation)
    return Electrical(
        iq=iq_m,
        id=id_m,
        # the drive's own torque estimate: its q current (in its wrong frame) times kt
        motor_torque=kt * (iq_m * cos + id_m * sin),
        voltage=uq_m,
        power=SCALE * (uq_m * iq_m + ud_m * id_m),
        true_power=SCALE * (uq * iq + ud * id_),
    )
