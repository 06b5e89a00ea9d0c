"""AUROC and thresholds: the numbers every verdict and every table rests on."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from rwcore.thresholds import threshold_at_fpr
from vision.evaluation.metrics import auroc


@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=60))
@settings(max_examples=200, deadline=None)
def test_auroc_equals_sklearn_including_ties(pairs) -> None:
    scores = np.array([p[0] for p in pairs], float)  # few distinct values: many ties
    labels = np.array([p[1] for p in pairs])
    ours = auroc(scores, labels)
    if labels.all() or not labels.any():
        assert ours is None
    else:
        assert abs(ours - roc_auc_score(labels, scores)) < 1e-12


def test_auroc_of_perfect_and_inverted_rankings() -> None:
    assert auroc(np.array([0.1, 0.2, 0.9, 1.0]), np.array([0, 0, 1, 1])) == 1.0
    assert auroc(np.array([0.9, 1.0, 0.1, 0.2]), np.array([0, 0, 1, 1])) == 0.0


@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=300), st.floats(0.001, 0.5))
@settings(max_examples=200, deadline=None)
def test_threshold_keeps_the_false_positive_rate_at_or_below_target(normal, fpr) -> None:
    scores = np.array(normal)
    t = threshold_at_fpr(scores, fpr)
    assert (scores > t).mean() <= fpr + 1e-12
    # and it is the lowest such threshold among the observed scores
    lower = scores[scores < t]
    if lower.size:
        assert (scores > lower.max()).mean() > fpr


def test_threshold_of_100_normal_scores_at_5_percent() -> None:
    scores = np.arange(100, dtype=float)
    assert threshold_at_fpr(scores, 0.05) == 94.0  # 95..99 above: exactly 5 %
