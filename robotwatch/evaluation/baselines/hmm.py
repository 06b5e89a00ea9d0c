"""Hidden Markov model baseline (thesis §8.2.1): how unlikely the whole cycle is under an HMM
of the normal cycle.

A cycle is one run of the same program, so the model is a left-to-right HMM (hmmlearn's
GaussianHMM, diagonal covariances): state k only stays or moves on to k + 1, and every cycle
starts in state 0. The thesis names the method but not all of its settings; these are ours:

- 30 states (two per step of the voraus-AD program), initialized by cutting every training
  cycle into 30 equal stretches: state k starts with the mean and variance of stretch k, and
  with a stay probability that makes a stretch last as long as it does;
- 20 iterations of Baum-Welch (EM) on all training cycles, variances floored at 1e-3 (the
  input is z-scored, and the zero padding at the end would otherwise collapse a variance);
- score = the negative log-likelihood of the cycle per step (forward algorithm), padded
  steps included, as every baseline here sees the padded series as a whole.

EM keeps a zero transition at zero, so the left-to-right shape survives training. The fit
is deterministic (no random initialization), so `seed` is accepted for the common interface
and changes nothing.
"""

from __future__ import annotations

import numpy as np
from hmmlearn.hmm import GaussianHMM

from robotwatch.evaluation.baselines.base import as_cycles, fitted_shape

DEFAULT_STATES = 30
MIN_VARIANCE = 1e-3


class HiddenMarkovModel:
    name = "hmm"

    def __init__(self, n_states: int = DEFAULT_STATES, iterations: int = 20, seed: int = 0) -> None:
        if n_states < 2:
            raise ValueError(f"n_states must be at least 2, not {n_states}")
        self.n_states = n_states
        self.iterations = iterations
        self.seed = seed
        self.hmm: GaussianHMM | None = None
        self._shape: tuple[int, int] | None = None

    def fit(self, train: np.ndarray) -> None:
        train = as_cycles(train, "training cycles")
        n, n_signals, n_steps = train.shape
        if n_steps < self.n_states:
            raise ValueError(
                f"the HMM baseline needs at least {self.n_states} steps per cycle, not {n_steps}"
            )
        k = self.n_states
        stretches = np.array_split(np.arange(n_steps), k)
        steps = train.transpose(0, 2, 1).astype(np.float64)  # (N, T, S): hmmlearn wants time-major rows
        hmm = GaussianHMM(
            n_components=k,
            covariance_type="diag",
            min_covar=MIN_VARIANCE,
            n_iter=self.iterations,
            tol=1e-3,
            params="stmc",
            init_params="",
            random_state=self.seed,
            implementation="log",
        )
        hmm.startprob_ = np.eye(k)[0]
        stay = np.array([1.0 - 1.0 / max(len(s), 2) for s in stretches])
        transitions = np.diag(stay) + np.diag(1.0 - stay[:-1], 1)
        transitions[-1, -1] = 1.0
        hmm.transmat_ = transitions
        hmm.means_ = np.stack([steps[:, s].mean((0, 1)) for s in stretches])
        hmm.covars_ = np.stack([steps[:, s].var((0, 1)) + MIN_VARIANCE for s in stretches])
        hmm.fit(steps.reshape(-1, n_signals), lengths=[n_steps] * n)
        self.hmm = hmm
        self._shape = (n_signals, n_steps)

    def score(self, x: np.ndarray) -> np.ndarray:
        x = as_cycles(x, "cycles to score", fitted_shape(self._shape, self.name))
        assert self.hmm is not None
        steps = x.transpose(0, 2, 1).astype(np.float64)
        return np.array([-self.hmm.score(cycle) / len(cycle) for cycle in steps])
