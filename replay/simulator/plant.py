"""The arm as the controller meets it in one cycle: true dynamics, model, payload, forces.

Everything here is evaluated once per cycle along the commanded path, vectorized over the
time steps; the closed loop (controller.py) then only integrates small deviations from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay.schema import Action
from replay.simulator import disturbances
from replay.simulator.arm import Arm, Body
from replay.simulator.disturbances import Event
from replay.simulator.dynamics import arm_terms_pair, body_terms
from replay.simulator.kinematics import forward, motion
from replay.simulator.profile import CellProfile
from replay.simulator.program import Program
from replay.simulator.scenario import Scenario

RAMP_S = 0.03  # a can's weight moves onto or off the cup over this time
STRIDE = 5  # controller steps between two evaluations of the rigid-body terms
MOVING = 1e-6  # rad/s: a commanded speed below this counts as standing (LIN moves leave ~1e-17)


@dataclass(frozen=True)
class Plant:
    """Per-step inputs of the closed loop (T steps) and what the sensors need afterwards."""

    q_ref: np.ndarray  # (T, 6) commanded position, velocity, acceleration
    qd_ref: np.ndarray
    qdd_ref: np.ndarray
    feed_forward: np.ndarray  # (T, 6) the controller's model torque, rotor inertia and friction
    computed_torque: np.ndarray  # (T, 6) model rigid-body torque
    computed_inertia: np.ndarray  # (T, 6) diagonal of the model's mass matrix
    bias: np.ndarray  # (T, 6) true Coriolis, centrifugal and gravity torque
    coarse: np.ndarray  # (C,) the steps at which the next two are kept (they change slowly)
    mass_matrix: np.ndarray  # (C, 6, 6) true rigid-body mass matrix
    inverse_inertia: np.ndarray  # (C, 6, 6) inverse of mass matrix plus rotor inertias
    external: np.ndarray  # (T, 6) joint torques from outside the arm
    coulomb: np.ndarray  # (T, 6) Coulomb friction torque, load dependent
    vacuum: np.ndarray  # (T,) bool, the gripper valve is open
    event: Event | None


def _ramp(n: int, dt: float, on: int, off: int) -> np.ndarray:
    """0 before step `on`, 1 from there (over RAMP_S), back to 0 just before step `off`."""
    t = np.arange(n)
    width = max(1, round(RAMP_S / dt))
    rise = np.clip((t - on + 1) / width, 0.0, 1.0)
    fall = np.clip((off - t) / width, 0.0, 1.0)
    return np.minimum(rise, fall)


def last_direction(qd: np.ndarray) -> np.ndarray:
    """Sign (T, 6) of each axis's commanded speed, held through standstill at the sign of
    its last move (before its first move: the sign of that move)."""
    sign = np.sign(qd) * (np.abs(qd) > MOVING)
    steps = np.arange(len(qd))[:, None]
    last = np.maximum.accumulate(np.where(sign != 0, steps, -1), axis=0)
    first = np.argmax(sign != 0, axis=0)
    held = np.take_along_axis(sign, np.maximum(last, 0), axis=0)
    return np.where(last >= 0, held, sign[first, np.arange(qd.shape[1])])


def can_body(profile: CellProfile) -> Body:
    """A gripped can of 1 kg: a solid cylinder hanging below the suction cup."""
    tool = profile.tool
    r, h = tool.can_radius, tool.can_height
    com = np.array(tool.tcp) + np.array([0.0, 0.0, h / 2])
    side = (3 * r**2 + h**2) / 12
    return Body(1.0, com, np.diag([side, side, r**2 / 2]))


def _payloads(
    profile: CellProfile, program: Program, scenario: Scenario, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Event | None]:
    """True and modelled can mass over the cycle (kg, (T,)), the valve state and the drop.

    The cup holds the can from the start of UP_PICK_LIN (before that the conveyor carries
    its weight) until the end of DOWN_PLACE_LIN (then the table does). The controller's
    model switches its payload with the valve command.
    """
    n, dt = program.n_steps, program.dt
    up_start, _ = program.span(Action.UP_PICK_LIN)
    _, down_end = program.span(Action.DOWN_PLACE_LIN)
    valve = np.zeros(n, dtype=bool)
    valve[: program.previous_release] = True  # the previous cycle's can, until it is released
    if scenario.vacuum:
        valve[program.vacuum_on : program.vacuum_off] = True
    # the model follows the program's valve commands, so it keeps the can when the gripper
    # lets go unexpectedly
    model_mass = profile.tool.can_mass * valve if profile.controller.payload_switching else np.zeros(n)
    held_until, event = down_end, None
    if scenario.drop is not None:
        lo, hi = program.span(Action(scenario.drop.action))
        delay = scenario.drop.delay_s
        at = min(lo + round(delay / dt), hi - 1) if delay is not None else int(rng.integers(lo, hi))
        if scenario.drop.valve_off:  # the gripper opened: the can leaves release_s later
            valve[at:] = False
        held_until = at + round(profile.tool.release_s / dt)
        event = Event(at * dt, held_until * dt)
    can = profile.tool.can_mass if scenario.can_mass is None else scenario.can_mass
    true_mass = profile.tool.can_mass * _ramp(n, dt, 0, program.previous_set_down)
    if scenario.vacuum and scenario.can_present:
        true_mass = true_mass + can * _ramp(n, dt, up_start, held_until)
    return true_mass, model_mass.astype(float), valve, event


def build_plant(
    profile: CellProfile,
    arm: Arm,
    model_arm: Arm,
    program: Program,
    scenario: Scenario,
    rng: np.random.Generator,
) -> Plant:
    """`arm`: the real arm; `model_arm`: the controller's model of it (same kinematics)."""
    dt = program.dt
    q, qd, qdd = program.q, program.qd, program.qdd
    n = program.n_steps
    # the rigid-body terms change slowly: evaluated every few steps and interpolated; the
    # accelerations and payload masses, which jump, multiply them at every step
    fine = np.arange(n)
    coarse = np.unique(np.append(np.arange(0, n, STRIDE), n - 1))
    frames = forward(arm, q[coarse])
    mot = motion(frames, qd[coarse], np.zeros((len(coarse), 6)))
    rigid, modelled = (terms.resampled(fine, coarse) for terms in arm_terms_pair(frames, mot, arm, model_arm))
    can = body_terms(frames, mot, 6, can_body(profile)).resampled(fine, coarse)
    true_mass, model_mass, valve, event = _payloads(profile, program, scenario, rng)
    model = modelled + can.scaled(model_mass)
    true = rigid + can.scaled(true_mass)
    if scenario.weight is not None:
        axis, kg = scenario.weight
        weight = Body.point(kg, profile.anomalies.weight_point[axis - 1])
        true = true + body_terms(frames, mot, axis, weight).resampled(fine, coarse)

    external = np.zeros_like(q)
    if scenario.collision is not None:
        moving = np.linalg.norm(qd, axis=1) > 1e-6
        torque, event = disturbances.collision(
            frames, coarse, qd, moving, program.lead_in, dt, scenario.collision, rng
        )
        external += torque
    if scenario.cable:
        spec = profile.anomalies.cable
        for link, body in disturbances.cable_bodies(spec):
            true = true + body_terms(frames, mot, link, body).resampled(fine, coarse)
        # the cable was tied on while the arm stood where every cycle starts
        external += disturbances.cable_bending(q, qd, q[program.lead_in], spec)
    stand = profile.anomalies.platform
    frequency, damping = scenario.platform or (stand.frequency_hz, stand.damping)
    arm_mass = sum(body.mass for body in arm.links)
    external += disturbances.platform(
        true.force(qdd), true.momentum_jacobian, arm_mass, stand, frequency, damping, dt
    )

    drives, friction = profile.drives, profile.friction
    rotor = np.array(drives.rotor_inertia) * np.array(drives.gear_ratio) ** 2
    computed_torque = model.torque(qdd)
    load = np.abs(true.torque(qdd) - external)
    coulomb = scenario.friction_scale * (np.array(friction.coulomb) + np.array(friction.load) * load)
    # the controller's friction model: nominal Coulomb friction against the commanded
    # direction, held at standstill in the direction of the last move (hysteresis: it keeps
    # pressing the way the axis last went, so a standing axis holds a current by its
    # history), and viscous friction along the commanded speed
    share = profile.controller.friction_compensation
    modelled_friction = share * (
        np.array(friction.coulomb) * last_direction(qd) + np.array(friction.viscous) * qd
    )
    return Plant(
        q_ref=q,
        qd_ref=qd,
        qdd_ref=qdd,
        feed_forward=computed_torque + rotor * qdd + modelled_friction,
        computed_torque=computed_torque,
        computed_inertia=np.diagonal(model.mass_matrix, axis1=1, axis2=2).copy(),
        bias=true.bias,
        coarse=coarse,
        mass_matrix=true.mass_matrix[coarse],
        inverse_inertia=np.linalg.inv(true.mass_matrix[coarse] + np.diag(rotor)),
        external=external,
        coulomb=coulomb,
        vacuum=valve,
        event=event,
    )
