"""The baselines separate plainly anomalous cycles, are reproducible, and 1-NN is exact."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from robotwatch.evaluation.baselines import BASELINES, NearestNeighbor, PCAReconstruction, get_baseline

N_SIGNALS, N_STEPS = 3, 64
FAST = {
    "1nn": {},
    "pca": {"n_components": 8},
    "cae": {"epochs": 20, "batch_size": 16},
    "hmm": {"n_states": 8},
    # the synthetic cycles count as 10 Hz: the LSTM-VAE sees every step
    "lstm-vae": {"epochs": 30, "batch_size": 16, "hidden": 32, "latent": 8},
}


def sinusoids(n: int, rng: np.random.Generator) -> np.ndarray:
    """Normal cycles: one sinusoid per signal with jittered phase and amplitude, plus noise."""
    t = np.linspace(0, 2 * np.pi, N_STEPS)
    phase = rng.normal(0, 0.1, (n, N_SIGNALS, 1))
    amplitude = 1 + rng.normal(0, 0.05, (n, N_SIGNALS, 1))
    signals = amplitude * np.sin(t + phase + np.arange(N_SIGNALS)[None, :, None])
    return (signals + rng.normal(0, 0.05, signals.shape)).astype(np.float32)


def anomalous(n: int, rng: np.random.Generator) -> np.ndarray:
    """Half with a spike on one signal at one step, half with an offset over a stretch."""
    x = sinusoids(n, rng)
    for i in range(n):
        signal, step = rng.integers(N_SIGNALS), rng.integers(5, N_STEPS - 15)
        if i % 2:
            x[i, signal, step] += 6.0
        else:
            x[i, signal, step : step + 12] += 1.5
    return x


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # These tensors are tiny: with a second thread, OpenMP synchronisation costs more than the
    # work, and on a busy 2-core machine the CAE tests ran 15x slower (13 s instead of 0.8 s).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return sinusoids(48, rng), sinusoids(20, rng), anomalous(20, rng)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_separates_spikes_and_offsets_from_normal_cycles(name: str, data) -> None:  # type: ignore[no-untyped-def]
    train, normal, bad = data
    baseline = get_baseline(name, **FAST[name])
    baseline.fit(train)
    scores = baseline.score(np.concatenate([normal, bad]))
    assert scores.shape == (40,) and np.isfinite(scores).all()
    labels = np.r_[np.zeros(20), np.ones(20)]
    assert roc_auc_score(labels, scores) >= 0.95


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_same_seed_same_scores(name: str, data) -> None:  # type: ignore[no-untyped-def]
    train, normal, bad = data
    x = np.concatenate([normal, bad])
    first, second = get_baseline(name, **FAST[name]), get_baseline(name, **FAST[name])
    first.fit(train)
    second.fit(train)
    np.testing.assert_array_equal(first.score(x), second.score(x))


def test_cae_seed_matters_and_progress_is_reported(data) -> None:  # type: ignore[no-untyped-def]
    train, normal, _ = data
    epochs: list[tuple[int, float]] = []
    a = get_baseline("cae", epochs=5, seed=1, on_epoch=lambda e, loss: epochs.append((e, loss)))
    b = get_baseline("cae", epochs=5, seed=2)
    a.fit(train)
    b.fit(train)
    assert [e for e, _ in epochs] == [0, 1, 2, 3, 4]
    assert epochs[-1][1] < epochs[0][1]
    assert not np.array_equal(a.score(normal), b.score(normal))


def test_cae_takes_lengths_that_are_not_a_multiple_of_its_stride() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 2, 61)).astype(np.float32)
    cae = get_baseline("cae", epochs=1)
    cae.fit(x)
    assert cae.score(x).shape == (6,)


def test_1nn_equals_brute_force_l1() -> None:
    rng = np.random.default_rng(2)
    train = rng.normal(size=(11, 4, 9)).astype(np.float32)
    query = rng.normal(size=(7, 4, 9)).astype(np.float32)
    nn = NearestNeighbor(chunk_cycles=3)  # chunks with remainders on both sides
    nn.fit(train)
    distance, index = nn.nearest(query)
    brute = np.abs(query.reshape(7, 1, -1).astype(np.float64) - train.reshape(1, 11, -1)).sum(-1)
    np.testing.assert_array_equal(index, brute.argmin(1))
    np.testing.assert_allclose(distance, brute.min(1), rtol=1e-5)
    # a training cycle is its own nearest neighbour, at distance 0
    np.testing.assert_array_equal(nn.nearest(train[[4, 9]])[1], [4, 9])


def test_pca_uses_fewer_components_with_few_cycles_and_says_so(data) -> None:  # type: ignore[no-untyped-def]
    train, _, _ = data
    pca = PCAReconstruction()
    with pytest.warns(UserWarning, match=r"only 9 components instead of 90"):
        pca.fit(train[:10])
    assert pca.pca is not None and pca.pca.n_components_ == 9


def test_misuse_is_refused_with_the_reason(data) -> None:  # type: ignore[no-untyped-def]
    train, normal, _ = data
    with pytest.raises(ValueError, match="unknown baseline 'knn'"):
        get_baseline("knn")
    for name in BASELINES:
        with pytest.raises(RuntimeError, match="not fitted"):
            get_baseline(name).score(normal)
    nn = get_baseline("1nn")
    nn.fit(train)
    with pytest.raises(ValueError, match="fitted on"):
        nn.score(normal[:, :, :32])
    with pytest.raises(ValueError, match="NaN or inf"):
        nn.score(np.where(normal > 0.9, np.nan, normal))
    with pytest.raises(ValueError, match="cycles, signals, steps"):
        nn.fit(train[0])
