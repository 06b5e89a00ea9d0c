"""What makes one cycle differ from another: normal variation and the anomaly's changes.

Normal variation is drawn the same way for every cycle, normal or anomalous, from the
cycle's own random stream, so that no timing, level or noise pattern belongs to anomalous
cycles only. An anomaly then changes the scenario the way its physics does.

One part of it follows the recording order: the friction of the gears drifts slowly over
the hours of a recording. The real training cycles (PRE_A) were recorded before all test
cycles, normal or anomalous, so a cycle's place in the recording (`recorded_at`, 0..1) is
drawn from the first half for training cycles and from the second half for every test
cycle alike: the test normals drift a little away from the training set, and exactly as
much as the anomalies do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from replay.simulator.profile import CellProfile, Collision


@dataclass(frozen=True)
class Drop:
    """The can leaves the gripper during a move: `delay_s` after the start of `action`
    (or at a random time inside it when `delay_s` is None); `valve_off` says whether the
    gripper opened (vacuum io current falls) or the vacuum leaked with the valve on."""

    action: int
    delay_s: float | None
    valve_off: bool


@dataclass(frozen=True)
class Scenario:
    # normal variation
    can_offset: np.ndarray  # (2,) m, the can's place on the conveyor
    dwell_s: np.ndarray  # (8,) standing times of VOID_1..VOID_8
    friction_scale: np.ndarray  # (6,)
    noise_scale: float
    sensor_offset: np.ndarray  # (2, 6) N·m, zero drift of torque sensors a and b
    supply_shift: float  # V
    phase: int  # which of every 5 controller steps the 100 Hz table keeps
    recorded_at: float  # 0..1, the cycle's place in the recording
    # what an anomaly may change
    pick_yaw: float = 0.0
    can_mass: float | None = None  # kg of what is picked; None: the profile's can
    vacuum: bool = True
    can_present: bool = True
    drop: Drop | None = None
    commutation: np.ndarray = field(default_factory=lambda: np.zeros(6))  # rad
    weight: tuple[int, float] | None = None  # (axis, kg)
    collision: Collision | None = None
    cable: bool = False
    platform: tuple[float, float] | None = None  # (Hz, damping ratio); None: the firm stand


def recording_position(training: bool, rng: np.random.Generator) -> float:
    """Where in the recording a cycle lies: training cycles first, all test cycles after."""
    return float(rng.uniform(0.0, 0.5) if training else rng.uniform(0.5, 1.0))


def draw_normal(profile: CellProfile, rng: np.random.Generator, recorded_at: float = 0.0) -> Scenario:
    """The normal variation of one cycle recorded at `recorded_at` (0..1)."""
    var, cell = profile.variation, profile.cell
    spread = np.array(cell.can_spread)
    drift = 1.0 + var.friction_drift * recorded_at
    return Scenario(
        can_offset=rng.uniform(-spread, spread),
        dwell_s=np.maximum(rng.normal(cell.dwell_s, cell.dwell_jitter_s), 0.02),
        # mostly a common factor (temperature of the arm), a little per axis, and the drift
        friction_scale=drift * np.exp(rng.normal(0.0, var.friction) + rng.normal(0.0, var.friction / 2, 6)),
        noise_scale=float(np.exp(rng.normal(0.0, var.noise))),
        sensor_offset=rng.normal(0.0, var.sensor_offset, (2, 6)),
        supply_shift=float(rng.normal(0.0, var.supply)),
        phase=int(rng.integers(5)),
        recorded_at=recorded_at,
    )
