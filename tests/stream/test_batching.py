from __future__ import annotations

import pytest

from robotwatch.stream.batching import CycleCost, batch_size


def test_a_lone_cycle_is_scored_at_once() -> None:
    assert batch_size(1, oldest_age_s=0.0, per_cycle_s=0.05, budget_s=1.0, cap=32) == 1


def test_the_batch_grows_only_while_the_oldest_cycle_stays_within_its_budget() -> None:
    # 0.4 s left for the oldest at 0.05 s a cycle: 8 fit, though 20 wait
    assert batch_size(20, oldest_age_s=0.6, per_cycle_s=0.05, budget_s=1.0, cap=32) == 8
    assert batch_size(20, oldest_age_s=0.0, per_cycle_s=0.05, budget_s=1.0, cap=32) == 20
    assert batch_size(50, oldest_age_s=0.0, per_cycle_s=0.01, budget_s=1.0, cap=32) == 32  # the cap


def test_a_nearly_spent_budget_still_scores_one() -> None:
    assert batch_size(20, oldest_age_s=0.99, per_cycle_s=0.05, budget_s=1.0, cap=32) == 1


def test_once_the_oldest_is_late_throughput_comes_first() -> None:
    assert batch_size(20, oldest_age_s=1.5, per_cycle_s=0.05, budget_s=1.0, cap=32) == 20


def test_nothing_measured_yet_takes_what_is_queued() -> None:
    assert batch_size(5, oldest_age_s=0.2, per_cycle_s=0.0, budget_s=1.0, cap=32) == 5


def test_the_cost_follows_the_batches_scored() -> None:
    cost = CycleCost()
    cost.add(0.4, 8)
    assert cost.per_cycle_s == pytest.approx(0.05)
    cost.add(0.1, 1)  # one slower batch moves the estimate part of the way
    assert 0.05 < cost.per_cycle_s < 0.1
