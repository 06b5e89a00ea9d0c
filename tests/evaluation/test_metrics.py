"""The voraus-AD protocol: AUROC per category against normal test cycles only, runs, |Δt|."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from replay.schema import ANOMALY_CATEGORIES, Category, Variant
from robotwatch.evaluation import (
    AurocResult,
    aggregate_runs,
    category_aurocs,
    localization_errors,
    localization_summary,
)

NORMAL = int(Category.NORMAL_OPERATION)


def table(rows: list[tuple[int, float]], start_sample: int = 0) -> pd.DataFrame:
    """(category, score) per cycle -> a results table with consistent labels and test settings."""
    return pd.DataFrame(
        {
            "sample": np.arange(start_sample, start_sample + len(rows)),
            "category": [c for c, _ in rows],
            "setting": [int(Variant.PRE_B) if c == NORMAL else 0 for c, _ in rows],
            "anomaly": [c != NORMAL for c, _ in rows],
            "score": [s for _, s in rows],
        }
    )


def pairwise_auroc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """Mann-Whitney count: share of (normal, anomalous) pairs ordered right, ties half."""
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for n, p in itertools.product(negatives, positives))
    return wins / (len(negatives) * len(positives))


def test_auroc_is_per_category_and_differs_from_one_pooled_roc() -> None:
    normal = [(NORMAL, float(s)) for s in range(10)]
    easy = [(Category.AXIS_FRICTION, 100.0), (Category.AXIS_FRICTION, 101.0)]
    # many cycles of a category that scores below every normal cycle
    hard = [(Category.COLLISION_FOAM, -1.0)] * 20
    results = table(normal + easy + hard)

    out = category_aurocs(results)

    assert out.per_category == {"AXIS_FRICTION": 1.0, "COLLISION_FOAM": 0.0}
    assert out.mean == 0.5
    pooled = roc_auc_score(results["anomaly"], results["score"])
    assert pooled == pytest.approx(2 / 22)  # a pooled ROC would be dominated by the frequent category
    assert out.n_normal == 10
    assert out.n_anomalous == {"AXIS_FRICTION": 2, "COLLISION_FOAM": 20}


def test_other_categories_are_never_negatives() -> None:
    normal = [(NORMAL, float(s)) for s in range(10)]
    friction = [(Category.AXIS_FRICTION, 4.5), (Category.AXIS_FRICTION, 7.5)]
    low = category_aurocs(table(normal + friction + [(Category.CAN_WEIGHT, -50.0)] * 5))
    high = category_aurocs(table(normal + friction + [(Category.CAN_WEIGHT, 50.0)] * 5))
    assert (
        low.per_category["AXIS_FRICTION"]
        == high.per_category["AXIS_FRICTION"]
        == pytest.approx(pairwise_auroc(np.arange(10.0), np.array([4.5, 7.5])))
    )


def test_matches_pair_counting_on_random_scores_with_ties() -> None:
    rng = np.random.default_rng(3)
    rows = [(NORMAL, float(rng.integers(0, 8))) for _ in range(30)]
    for category in ANOMALY_CATEGORIES[:5]:
        rows += [(int(category), float(rng.integers(2, 12))) for _ in range(int(rng.integers(1, 9)))]
    results = table(rows)
    out = category_aurocs(results)
    normal_scores = results.loc[~results["anomaly"], "score"].to_numpy()
    for category in ANOMALY_CATEGORIES[:5]:
        positives = results.loc[results["category"] == category, "score"].to_numpy()
        assert out.per_category[category.name] == pytest.approx(pairwise_auroc(normal_scores, positives))
    assert out.mean == pytest.approx(np.mean(list(out.per_category.values())))
    assert out.missing == tuple(c.name for c in ANOMALY_CATEGORIES[5:])


def test_infinite_scores_rank_as_most_anomalous() -> None:
    results = table(
        [(NORMAL, 1.0), (NORMAL, 2.0), (Category.LOSE_CAN, float("inf")), (Category.LOSE_CAN, 3.0)]
    )
    assert category_aurocs(results).per_category == {"LOSE_CAN": 1.0}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t[t["anomaly"]], "no normal test cycles"),
        (lambda t: t[~t["anomaly"]], "no anomalous cycles"),
        (lambda t: t.drop(columns="setting"), "lacks the column"),
        (lambda t: t.assign(sample=0), "more than one row"),
        (lambda t: t.assign(category=t["category"].where(t["anomaly"], 3)), "disagree"),
        (lambda t: t.assign(setting=int(Variant.PRE_A)), "training cycles"),
        (lambda t: t.assign(score=np.nan), "NaN score"),
        (lambda t: t.assign(category=t["category"].where(~t["anomaly"], 13)), "unknown category"),
        (lambda t: t.iloc[:0], "empty"),
    ],
)
def test_bad_tables_are_refused_with_the_reason(change, message: str) -> None:  # type: ignore[no-untyped-def]
    results = table([(NORMAL, 0.0), (NORMAL, 1.0), (Category.MISS_CAN, 2.0)])
    with pytest.raises(ValueError, match=message):
        category_aurocs(change(results))


def run(values: dict[str, float]) -> AurocResult:
    return AurocResult(
        per_category=values,
        mean=float(np.mean(list(values.values()))),
        missing=(),
        n_normal=10,
        n_anomalous=dict.fromkeys(values, 3),
    )


def test_runs_give_mean_and_sample_std() -> None:
    runs = [
        run({"AXIS_FRICTION": 0.9, "MISS_CAN": 0.7}),
        run({"AXIS_FRICTION": 0.8, "MISS_CAN": 0.9}),
        run({"AXIS_FRICTION": 1.0, "MISS_CAN": 0.8}),
    ]
    summary = aggregate_runs(runs)
    assert summary.n_runs == 3
    assert summary.per_category["AXIS_FRICTION"] == pytest.approx(0.9)
    assert summary.per_category_std["AXIS_FRICTION"] == pytest.approx(np.std([0.9, 0.8, 1.0], ddof=1))
    assert summary.per_category_std["MISS_CAN"] == pytest.approx(np.std([0.7, 0.9, 0.8], ddof=1))
    run_means = [0.8, 0.85, 0.9]
    assert summary.mean == pytest.approx(np.mean(run_means))
    assert summary.mean_std == pytest.approx(np.std(run_means, ddof=1))


def test_a_single_run_has_no_std_and_runs_must_agree_on_categories() -> None:
    single = aggregate_runs([run({"AXIS_FRICTION": 0.9})])
    assert single.mean == 0.9
    assert np.isnan(single.mean_std) and np.isnan(single.per_category_std["AXIS_FRICTION"])
    with pytest.raises(ValueError, match="same test cycles"):
        aggregate_runs([run({"AXIS_FRICTION": 0.9}), run({"MISS_CAN": 0.9})])
    with pytest.raises(ValueError, match="no runs"):
        aggregate_runs([])


def localization_table(rows: list[tuple[int, float, float, float]]) -> pd.DataFrame:
    """(category, truth start, truth end, predicted time) per cycle."""
    out = table([(c, 1.0) for c, *_ in rows])
    out["truth_start_s"] = [r[1] for r in rows]
    out["truth_end_s"] = [r[2] for r in rows]
    out["event_time_s"] = [r[3] for r in rows]
    return out


def test_abs_dt_is_zero_inside_and_the_distance_to_the_nearer_end_outside() -> None:
    nan = float("nan")
    rows = [
        (Category.COLLISION_FOAM, 2.0, 3.0, 2.5),  # inside
        (Category.COLLISION_FOAM, 2.0, 3.0, 3.0),  # on the edge
        (Category.COLLISION_FOAM, 2.0, 3.0, 1.25),  # before
        (Category.COLLISION_FOAM, 2.0, 3.0, 4.5),  # after
        (Category.COLLISION_FOAM, 2.0, 2.0, 2.75),  # a point event
        (Category.AXIS_WEIGHT, nan, nan, 1.0),  # no ground truth
        (Category.COLLISION_FOAM, 2.0, 3.0, nan),  # no event found
    ]
    errors = localization_errors(localization_table(rows))
    np.testing.assert_allclose(errors.to_numpy(), [0.0, 0.0, 0.75, 1.5, 0.75, nan, nan])


def test_median_abs_dt_per_category_counts_cycles_without_an_event() -> None:
    nan = float("nan")
    rows = [
        (Category.COLLISION_FOAM, 2.0, 3.0, 2.5),
        (Category.COLLISION_FOAM, 2.0, 3.0, 1.0),
        (Category.COLLISION_FOAM, 2.0, 3.0, 5.0),
        (Category.COLLISION_FOAM, 2.0, 3.0, nan),
        (Category.LOSE_CAN, 1.0, 1.5, 2.0),
        (Category.AXIS_WEIGHT, nan, nan, 1.0),
        (NORMAL, nan, nan, 0.5),
    ]
    summary = localization_summary(localization_table(rows))
    assert summary.median_abs_dt_s == {"COLLISION_FOAM": 1.0, "LOSE_CAN": 0.5}
    assert summary.n_cycles == {"COLLISION_FOAM": 3, "LOSE_CAN": 1}
    assert summary.n_without_event == {"COLLISION_FOAM": 1, "LOSE_CAN": 0}


def test_bad_ground_truth_is_refused() -> None:
    nan = float("nan")
    with pytest.raises(ValueError, match="before truth_start_s"):
        localization_errors(localization_table([(Category.LOSE_CAN, 3.0, 2.0, 1.0)]))
    with pytest.raises(ValueError, match="both be given"):
        localization_errors(localization_table([(Category.LOSE_CAN, 3.0, nan, 1.0)]))
    with pytest.raises(ValueError, match="event_time_s"):
        localization_errors(table([(Category.LOSE_CAN, 1.0)]))
