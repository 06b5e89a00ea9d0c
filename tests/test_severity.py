"""Severity, as every display shows a score: a ratio to the threshold that reads the same on
a positive scale and on a log-likelihood scale with a negative threshold."""

from __future__ import annotations

import math

import pytest

from rwcore.thresholds import severity, severity_text


@pytest.mark.parametrize(
    ("score", "threshold", "shown"),
    [
        (48211.4, 11120.1, "4.34×"),  # over the threshold
        (100.0, 200.0, "0.5×"),  # under it
        (200.0, 200.0, "1×"),  # at it
        (-35270.0, -70540.0, "1.5×"),  # a negative threshold: half its size again above it
        (1.9e10, -7.054e4, "269,353×"),  # no bare 1.9e+10 next to -7.054e+04
        (math.inf, 3.0, "∞×"),
        (5.0, 0.0, "–"),  # no ratio to a zero threshold
    ],
)
def test_severity_reads_as_a_ratio(score: float, threshold: float, shown: str) -> None:
    assert severity_text(severity(score, threshold)) == shown


def test_a_higher_score_is_always_more_severe() -> None:
    for threshold in (-5.0, 5.0):
        ratios = [severity(s, threshold) for s in (-20.0, -5.0, 0.0, 5.0, 50.0)]
        assert ratios == sorted(ratios) and len(set(ratios)) == 5
