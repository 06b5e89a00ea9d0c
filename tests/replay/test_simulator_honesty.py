"""DESIGN §8: no timing, constant or noise that only anomalous cycles carry.

The normal variation of a cycle (can position, standing times, friction and its drift in
recording order, noise level, sensor zeros, supply, row phase) is drawn the same way for
normal test cycles and anomalies; only the training cycles, recorded first, differ, and
only by the drift of the gears.
"""

from __future__ import annotations

import numpy as np
import pytest

from replay.schema import Category, Variant
from replay.simulator import anomalies
from replay.simulator.profile import load_profile
from replay.simulator.scenario import draw_normal, recording_position
from replay.simulator.simulate import Simulator


@pytest.fixture(scope="module")
def simulator() -> Simulator:
    return Simulator(load_profile("default"), seed=13, rate=100)


def test_test_normals_and_anomalies_share_their_place_in_the_recording(simulator) -> None:
    one_per_category = [anomalies.VARIANTS[c][-1] for c in Category if c != Category.NORMAL_OPERATION]
    for sample in range(2):
        normal = simulator._prepare(sample, Variant.PRE_B).scenario
        training = simulator._prepare(sample, Variant.PRE_A).scenario
        assert 0.0 <= training.recorded_at < 0.5 <= normal.recorded_at <= 1.0
        for variant in (*one_per_category, Variant.BETWEEN_A, Variant.BETWEEN_C):
            assert simulator._prepare(sample, variant).scenario.recorded_at == normal.recorded_at


def test_the_gears_friction_drifts_in_recording_order(simulator) -> None:
    profile = simulator.profile
    first = draw_normal(profile, np.random.default_rng([1, 2, 0]), 0.0)
    last = draw_normal(profile, np.random.default_rng([1, 2, 0]), 1.0)
    np.testing.assert_allclose(
        last.friction_scale / first.friction_scale, 1 + profile.variation.friction_drift
    )
    assert last.can_offset.tolist() == first.can_offset.tolist()  # nothing else drifts
    positions = [recording_position(True, np.random.default_rng(s)) for s in range(200)]
    assert (
        max(positions) < 0.5 <= min(recording_position(False, np.random.default_rng(s)) for s in range(200))
    )


def test_the_normal_variation_of_anomalies_is_that_of_normal_test_cycles(simulator) -> None:
    """Everything a cycle draws before its anomaly acts is the same for a normal test cycle
    and an anomalous one of the same sample id."""
    for sample in range(2):
        normal = simulator._prepare(sample, Variant.PRE_B).scenario
        for variant in (
            Variant.A3_B,
            Variant.LARGE_FULL,
            Variant.CABLE,
            Variant.A2_MEDIUM,
            Variant.LOW_DAMPING,
        ):
            other = simulator._prepare(sample, variant).scenario
            assert other.noise_scale == normal.noise_scale and other.phase == normal.phase
            assert other.supply_shift == normal.supply_shift
            np.testing.assert_array_equal(other.dwell_s, normal.dwell_s)
            np.testing.assert_array_equal(other.sensor_offset, normal.sensor_offset)
            if variant != Variant.A3_B:  # the friction anomaly adds to axis 3's friction only
                np.testing.assert_array_equal(other.friction_scale, normal.friction_scale)


def test_the_first_standing_second_does_not_tell_anomalies_from_test_normals(simulator) -> None:
    """Before an anomaly whose physics comes later in the cycle acts, its cycle is its normal
    twin exactly: no level, noise or timing gives it away."""
    later = (Variant.INCREASE_407G, Variant.DROP_200MS, Variant.LOSE_200MS, Variant.CONVEYOR)
    batch = [(sample, variant) for sample in range(2) for variant in (Variant.PRE_B, *later)]
    results = iter(simulator.simulate(batch))
    for _ in range(2):
        normal = next(results)[0]
        first = normal.time < 1.0
        for _ in later:
            cycle = next(results)[0]
            np.testing.assert_array_equal(cycle.signals[first], normal.signals[first])
            np.testing.assert_array_equal(cycle.time[first], normal.time[first])
