"""Which cycles a simulated dataset holds: the split of the real voraus-AD dataset, scaled.

The real dataset has 948 training normals (setting PRE_A), 419 normal test cycles and 755
anomalies. The anomalies are shared evenly among the chosen categories and, within a
category, round-robin among its variants; the normal test cycles among PRE_B and
BETWEEN_A..C. Cycles are stored in a shuffled order (the real file interleaves them too),
numbered 0..N-1 in file order.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from replay.schema import ANOMALY_CATEGORIES, Category, Variant
from replay.simulator.anomalies import VARIANTS

REAL_TRAIN, REAL_NORMAL_TEST, REAL_ANOMALIES = 948, 419, 755
REAL_TOTAL = REAL_TRAIN + REAL_NORMAL_TEST + REAL_ANOMALIES
NORMAL_TEST_VARIANTS = (Variant.PRE_B, Variant.BETWEEN_A, Variant.BETWEEN_B, Variant.BETWEEN_C)


def parse_categories(text: str) -> tuple[Category, ...]:
    """`all`, `none`, or comma-separated anomaly category names (any case)."""
    words = [w.strip().upper() for w in text.split(",") if w.strip()]
    if words == ["ALL"]:
        return ANOMALY_CATEGORIES
    if words == ["NONE"]:
        return ()
    known = {c.name: c for c in ANOMALY_CATEGORIES}
    unknown = [w for w in words if w not in known]
    if unknown or not words:
        which = f"categor{'y' if len(unknown) == 1 else 'ies'}"
        raise ValueError(
            f"unknown anomaly {which} {', '.join(unknown) or repr(text)}; "
            f"use all, none, or names from: {', '.join(c.name.lower() for c in ANOMALY_CATEGORIES)}"
        )
    return tuple(dict.fromkeys(known[w] for w in words))


def _share(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (i < extra) for i in range(parts)]


def plan(
    n_cycles: int = REAL_TOTAL, categories: Iterable[Category] = ANOMALY_CATEGORIES, seed: int = 0
) -> list[Variant]:
    """The variant of every cycle, in file order (index = sample id)."""
    if n_cycles < 1:
        raise ValueError(f"the number of cycles must be at least 1, got {n_cycles}")
    categories = tuple(categories)
    n_anomalies = round(n_cycles * REAL_ANOMALIES / REAL_TOTAL) if categories else 0
    n_normal_test = round(n_cycles * REAL_NORMAL_TEST / REAL_TOTAL)
    n_train = n_cycles - n_anomalies - n_normal_test  # at least 1: the shares add up to 0.55
    cycles: list[Variant] = [Variant.PRE_A] * n_train
    for variant, count in zip(NORMAL_TEST_VARIANTS, _share(n_normal_test, 4), strict=True):
        cycles += [variant] * count
    for category, count in zip(categories, _share(n_anomalies, max(1, len(categories))), strict=False):
        variants = VARIANTS[category]
        cycles += [variants[i % len(variants)] for i in range(count)]
    order = np.random.default_rng([seed, 0x51A7]).permutation(len(cycles))
    return [cycles[i] for i in order]
