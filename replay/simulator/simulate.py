"""Simulate cycles: scenario -> program -> plant -> closed loop -> sensors -> table rows.

Every cycle draws from its own random streams, seeded by (seed, sample), so it does not
depend on the cycles before it and can be regenerated alone. The physics always runs at
the controller rate (~497 Hz); a 100 Hz table keeps every 5th step, as the real 100 Hz
file does, so the same seed gives the same cycle at both rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay.cycle import Cycle
from replay.schema import Action, Category, Variant
from replay.simulator import anomalies
from replay.simulator.controller import Gains, Noise, Response, run
from replay.simulator.disturbances import Event
from replay.simulator.dynamics import arm_terms
from replay.simulator.kinematics import forward, motion
from replay.simulator.plant import Plant, build_plant
from replay.simulator.profile import CellProfile
from replay.simulator.program import Cell, Program
from replay.simulator.scenario import Scenario, draw_normal, recording_position
from replay.simulator.sensors import measure

RATES = (100, 500)
STEPS_PER_ROW = {500: 1, 100: 5}


@dataclass(frozen=True)
class Truth:
    """Ground truth of one cycle, one row of the sidecar table."""

    sample: int
    category: int
    category_name: str
    setting: int
    variant: str
    anomaly: bool
    axis: int  # 1..6, or 0 when the anomaly has no axis
    intensity: float
    intensity_unit: str
    event_start_s: float  # NaN unless the anomaly is an event inside the cycle
    event_end_s: float
    duration_s: float
    can_x: float  # where the can stood, m from the nominal spot
    can_y: float


@dataclass
class _Prepared:
    sample: int
    variant: Variant
    scenario: Scenario
    program: Program
    plant: Plant
    gains: Gains
    noise: Noise
    rng: np.random.Generator


def controller_gains(profile: CellProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PID gains from the wanted bandwidth and damping and the inertia each axis has in the
    pose where cycles start (the controller's model inertia plus rotor): kp = J w²,
    kd = 2 zeta J w, ki = kp w_i."""
    arm = profile.controller_arm()
    q = np.array(profile.cell.over_place_joints)[None]
    zero = np.zeros_like(q)
    frames = forward(arm, q)
    inertia = np.diagonal(arm_terms(frames, motion(frames, zero, zero), arm).mass_matrix[0]).copy()
    d = profile.drives
    inertia += np.array(d.rotor_inertia) * np.array(d.gear_ratio) ** 2
    c = profile.controller
    omega = 2 * np.pi * np.array(c.bandwidth_hz)
    kp = inertia * omega**2
    return kp, 2 * np.array(c.damping) * inertia * omega, kp * 2 * np.pi * c.integral_hz


class Simulator:
    """Simulates cycles of one cell; `simulate` integrates a batch of them together."""

    def __init__(self, profile: CellProfile, seed: int = 0, rate: int = 100) -> None:
        if rate not in RATES:
            raise ValueError(f"rate must be one of {', '.join(map(str, RATES))} Hz, got {rate}")
        self.profile = profile
        self.seed = seed
        self.rate = rate
        self.arm = profile.arm_model()
        self.model_arm = profile.controller_arm()
        self.cell = Cell(profile, self.arm)
        self.kp, self.kd, self.ki = controller_gains(profile)
        d = profile.drives
        self.torque_limit = np.array(d.max_current) * np.array(d.torque_constant) * np.array(d.gear_ratio)

    def rng(self, sample: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, sample, stream])

    def _prepare(self, sample: int, variant: Variant) -> _Prepared:
        profile = self.profile
        recorded_at = recording_position(variant == Variant.PRE_A, self.rng(sample, 3))
        scenario = draw_normal(profile, self.rng(sample, 0), recorded_at)
        anomaly_rng = self.rng(sample, 1)
        scenario = anomalies.apply(variant, scenario, profile, anomaly_rng)
        program = self.cell.program(scenario.can_offset, scenario.pick_yaw, scenario.dwell_s)
        plant = build_plant(profile, self.arm, self.model_arm, program, scenario, anomaly_rng)
        friction = np.array(profile.friction.viscous) * scenario.friction_scale
        gains = Gains(
            self.kp,
            self.kd,
            self.ki,
            self.torque_limit,
            friction,
            np.cos(scenario.commutation),
            np.full(6, profile.friction.stiction),
        )
        rng = self.rng(sample, 2)
        n, noise = program.n_steps, profile.noise
        meas = Noise(
            position=rng.normal(0.0, noise.joint_position * scenario.noise_scale, (n, 6)),
            velocity=rng.normal(0.0, noise.joint_velocity * scenario.noise_scale, (n, 6)),
            resolution=2 * np.pi / 2**noise.joint_encoder_bits,
            periods=noise.encoder_periods,
            interpolation=noise.encoder_interpolation,
        )
        return _Prepared(sample, variant, scenario, program, plant, gains, meas, rng)

    def simulate(self, batch: list[tuple[int, Variant]]) -> list[tuple[Cycle, Truth]]:
        """Simulate cycles given as (sample id, variant); returns them in the same order."""
        prepared = [self._prepare(sample, variant) for sample, variant in batch]
        responses = run(
            [p.plant for p in prepared],
            [p.gains for p in prepared],
            [p.noise for p in prepared],
            self.profile.controller.encoder_latency_steps,
            1.0 / self.profile.controller.rate_hz,
        )
        return [self._finish(p, r) for p, r in zip(prepared, responses, strict=True)]

    def _finish(self, p: _Prepared, response: Response) -> tuple[Cycle, Truth]:
        profile, program = self.profile, p.program
        dt = program.dt
        signals = measure(profile, p.plant, response, p.scenario, dt, p.rng)[program.lead_in :]
        n = len(signals)
        time = np.arange(n) * dt + p.rng.normal(0.0, profile.noise.time_jitter_s, n)
        time[0] = 0.0
        delay = round(profile.controller.action_delay_s / dt)
        action = program.action[program.lead_in :]
        action = np.concatenate([np.full(delay, action[0]), action[: n - delay]])
        step = STEPS_PER_ROW[self.rate]
        keep = slice(p.scenario.phase if step > 1 else 0, None, step)
        category = anomalies.CATEGORY_OF[p.variant]
        cycle = Cycle(
            sample=p.sample,
            anomaly=category != Category.NORMAL_OPERATION,
            category=int(category),
            setting=int(p.variant),
            time=time[keep].astype(np.float32).astype(np.float64),
            action=action[keep].astype(np.uint8),
            active=(action[keep] % 2).astype(np.int64),
            signals=signals[keep],
        )
        return cycle, self._truth(p)

    def _truth(self, p: _Prepared) -> Truth:
        category = anomalies.CATEGORY_OF[p.variant]
        event = _event(category, p.plant.event, p.program)
        start = p.program.lead_in * p.program.dt
        intensity, unit = _intensity(self.profile, p.variant, p.scenario)
        return Truth(
            sample=p.sample,
            category=int(category),
            category_name=category.name,
            setting=int(p.variant),
            variant=p.variant.name,
            anomaly=category != Category.NORMAL_OPERATION,
            axis=anomalies.axis_of_variant(p.variant) or 0,
            intensity=intensity,
            intensity_unit=unit,
            event_start_s=np.nan if event is None else event.start_s - start,
            event_end_s=np.nan if event is None else event.end_s - start,
            duration_s=p.program.n_steps * p.program.dt - start,
            can_x=float(p.scenario.can_offset[0]),
            can_y=float(p.scenario.can_offset[1]),
        )


def _event(category: Category, event: Event | None, program: Program) -> Event | None:
    """The time window of the anomaly inside the cycle, for the categories that are events."""
    if category in (
        Category.COLLISION_FOAM,
        Category.COLLISION_CABLE,
        Category.COLLISION_CARTON,
        Category.LOSE_CAN,
    ):
        return event
    dt = program.dt
    if category == Category.MISS_CAN:  # from the grip that fails until the can should be set down
        return Event(program.span(Action.VOID_4)[0] * dt, program.span(Action.DOWN_PLACE_LIN)[1] * dt)
    if category == Category.INVALID_POSITION:  # the whole unusual pick
        return Event(program.span(Action.OVER_OBJECT_PTP)[0] * dt, program.span(Action.UP_PICK_LIN)[1] * dt)
    return None


def _intensity(profile: CellProfile, variant: Variant, scenario: Scenario) -> tuple[float, str]:
    category = anomalies.CATEGORY_OF[variant]
    an = profile.anomalies
    if category == Category.AXIS_FRICTION:
        return an.friction_increase[variant.name[-1]], "added share of friction"
    if category == Category.AXIS_WEIGHT and scenario.weight is not None:
        return scenario.weight[1], "kg"
    if scenario.collision is not None:
        return scenario.collision.force, "N peak force"
    if category == Category.CAN_WEIGHT and scenario.can_mass is not None:
        return scenario.can_mass, "kg can"
    if category == Category.ENTANGLED:
        cable = an.cable
        length = sum(float(np.linalg.norm(np.subtract(run.end, run.start))) for run in cable.runs)
        return cable.mass_per_m * length, "kg of cable tied along the arm"
    if category == Category.INVALID_POSITION:
        return float(scenario.dwell_s[2]), "s standing before the pick"
    if category == Category.MOTOR_COMMUTATION:
        return float(np.rad2deg(scenario.commutation.max())), "deg commutation error"
    if category == Category.WOBBLING_STATION and scenario.platform is not None:
        return scenario.platform[1], "damping ratio of the stand"
    if category == Category.LOSE_CAN and scenario.drop is not None and scenario.drop.delay_s is not None:
        return scenario.drop.delay_s, "s into the move"
    return float("nan"), ""
