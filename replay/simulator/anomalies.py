"""The 12 anomaly categories and their variants, as changes to a cycle's scenario.

Variants follow the `setting` ids of the voraus-AD table (replay.schema.Variant) and the
thesis (Rudolph 2024, Table 7.3); their intensities come from the cell profile.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from replay.schema import Action, Category, Variant
from replay.simulator.profile import CellProfile
from replay.simulator.scenario import Drop, Scenario

V = Variant
VARIANTS: dict[Category, tuple[Variant, ...]] = {
    Category.AXIS_FRICTION: tuple(Variant(i) for i in range(V.A1_A, V.A6_B + 1)),
    Category.AXIS_WEIGHT: tuple(Variant(i) for i in range(V.A1_115G, V.A6_115G + 1)),
    Category.COLLISION_FOAM: tuple(Variant(i) for i in range(V.LARGE_FULL, V.SMALL_HANGING_STRIPE + 1)),
    Category.COLLISION_CABLE: (V.CONNECTOR_TOP, V.CONNECTOR_SIDE, V.LAN),
    Category.COLLISION_CARTON: (V.STRIPE, V.FULL_A, V.FULL_B),
    Category.MISS_CAN: (V.CONVEYOR, V.NO_VACUUM),
    Category.LOSE_CAN: tuple(Variant(i) for i in range(V.DEFECT_GRIPPER_DROP_CAN, V.LOSE_PLACE_100MS + 1)),
    Category.CAN_WEIGHT: tuple(Variant(i) for i in range(V.DECREASE_95G, V.INCREASE_407G + 1)),
    Category.ENTANGLED: (V.CABLE,),
    Category.INVALID_POSITION: (V.PICK,),
    Category.MOTOR_COMMUTATION: tuple(Variant(i) for i in range(V.A1_HIGH, V.A6_MEDIUM + 1)),
    Category.WOBBLING_STATION: (V.LOW_DAMPING, V.MEDIUM_DAMPING, V.HIGH_DAMPING),
    Category.NORMAL_OPERATION: (V.PRE_A, V.PRE_B, V.BETWEEN_A, V.BETWEEN_B, V.BETWEEN_C),
}
CATEGORY_OF: dict[Variant, Category] = {v: c for c, vs in VARIANTS.items() for v in vs}

# when the gripper lets go, relative to the start of a move [thesis: the ms in the name]
_DROPS: dict[Variant, Drop] = {
    V.DEFECT_GRIPPER_DROP_CAN: Drop(Action.TO_PLACE_PTP, None, valve_off=False),
    V.DROP_1400MS: Drop(Action.TO_PLACE_PTP, 1.4, valve_off=True),
    V.DROP_1100MS: Drop(Action.TO_PLACE_PTP, 1.1, valve_off=True),
    V.DROP_100MS: Drop(Action.TO_PLACE_PTP, 0.1, valve_off=True),
    V.DROP_200MS: Drop(Action.TO_PLACE_PTP, 0.2, valve_off=True),
    V.LOSE_200MS: Drop(Action.UP_PICK_LIN, 0.2, valve_off=True),
    V.LOSE_300MS: Drop(Action.UP_PICK_LIN, 0.3, valve_off=True),
    V.LOSE_PLACE_100MS: Drop(Action.DOWN_PLACE_LIN, 0.1, valve_off=True),
}


_AXIS_CATEGORIES = (Category.AXIS_FRICTION, Category.AXIS_WEIGHT, Category.MOTOR_COMMUTATION)


def axis_of_variant(variant: Variant) -> int | None:
    """The axis (1..6) a variant acts on (its name starts with A1..A6), or None."""
    return int(variant.name[1]) if CATEGORY_OF[variant] in _AXIS_CATEGORIES else None


def apply(variant: Variant, scenario: Scenario, profile: CellProfile, rng: np.random.Generator) -> Scenario:
    """The scenario of a cycle with `variant` happening in it."""
    category = CATEGORY_OF[variant]
    an = profile.anomalies
    axis = axis_of_variant(variant)
    if category == Category.NORMAL_OPERATION:
        return scenario
    if category == Category.AXIS_FRICTION:
        assert axis is not None
        scale = scenario.friction_scale.copy()
        scale[axis - 1] *= 1.0 + an.friction_increase[variant.name[-1]]
        return replace(scenario, friction_scale=scale)
    if category == Category.AXIS_WEIGHT:
        assert axis is not None
        return replace(scenario, weight=(axis, int(variant.name[3:-1]) / 1000.0))
    if category in (Category.COLLISION_FOAM, Category.COLLISION_CABLE, Category.COLLISION_CARTON):
        return replace(scenario, collision=an.collisions[variant.name])
    if category == Category.MISS_CAN:
        return replace(scenario, can_present=False, vacuum=variant != V.NO_VACUUM)
    if category == Category.LOSE_CAN:
        return replace(scenario, drop=_DROPS[variant])
    if category == Category.CAN_WEIGHT:
        return replace(scenario, can_mass=an.can_mass[variant.name])
    if category == Category.ENTANGLED:
        return replace(scenario, cable=True)
    if category == Category.INVALID_POSITION:
        ip = an.invalid_position
        dwell = scenario.dwell_s.copy()
        dwell[2] += max(0.0, rng.normal(ip.delay_s, ip.delay_jitter_s))  # VOID_3: the robot waits
        side = rng.choice([-1.0, 1.0])
        return replace(
            scenario,
            can_offset=scenario.can_offset + side * np.array(ip.offset),
            pick_yaw=side * ip.yaw,
            dwell_s=dwell,
        )
    if category == Category.MOTOR_COMMUTATION:
        assert axis is not None
        angle = scenario.commutation.copy()
        angle[axis - 1] = np.deg2rad(an.commutation_deg[variant.name.split("_")[1]])
        return replace(scenario, commutation=angle)
    if category == Category.WOBBLING_STATION:
        platform = an.platform
        return replace(
            scenario, platform=(platform.wobbling_frequency_hz, platform.wobbling_damping[variant.name])
        )
    raise AssertionError(f"no physics for {category.name}")
