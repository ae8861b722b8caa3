"""Unbiased pass@k with bootstrap confidence intervals.

pass@k for one problem with ``c`` correct out of ``n`` samples is ``1 - C(n-c, k) / C(n, k)``
(Chen et al. 2021, "Evaluating Large Language Models Trained on Code", arXiv:2107.03374),
computed as ``1 - prod_{i=n-c+1}^{n} (1 - k / i)``, which never forms a binomial coefficient
and stays exact to float precision at n in the thousands.
"""

from __future__ import annotations

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimate for one problem (0 <= c <= n, 1 <= k <= n)."""
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"need 1 <= k <= n and 0 <= c <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def pass_at_k_many(n: int, correct: np.ndarray, k: int) -> np.ndarray:
    """pass@k for each problem; ``correct`` [P] counts out of ``n`` each -> [P] float64."""
    return np.array([pass_at_k(n, int(c), k) for c in correct], dtype=np.float64)


def ks_up_to(n: int) -> list[int]:
    """Powers of two <= n (1, 2, 4, ...)."""
    return [2 ** i for i in range(int(np.log2(n)) + 1)] if n >= 1 else []


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                 idx: np.ndarray | None = None) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values`` [P] resampling problems.

    ``idx`` [n_boot, P] lets several statistics share one set of resamples.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return float("nan"), float("nan")
    if idx is None:
        idx = np.random.default_rng(seed).integers(0, len(values), (n_boot, len(values)))
    means = values[idx].mean(axis=1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def bootstrap_weights(n_units: int, n_boot: int, seed: int) -> np.ndarray:
    """How often each of ``n_units`` units (problems) is drawn in each of ``n_boot`` resamples
    with replacement from ``np.random.default_rng(seed)``: float64 [n_boot, n_units]. A
    statistic built from per-unit sums ``s`` [n_units, ...] is then ``w @ s`` per resample."""
    idx = np.random.default_rng(seed).integers(0, n_units, (n_boot, n_units))
    w = np.zeros((n_boot, n_units))
    np.add.at(w, (np.arange(n_boot)[:, None], idx), 1.0)
    return w


def percentile_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of resampled statistics ``values`` [R]; NaN resamples are left out
    (e.g. a ratio whose denominator was 0), and (NaN, NaN) when all are."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    a = (1 - level) / 2
    return float(np.quantile(values, a)) + 0.0, float(np.quantile(values, 1 - a)) + 0.0


def guess_pass_at_k(p_guess: float, k: int) -> float:
    """Chance that at least one of k independent guesses with success ``p_guess`` is right
    (NaN stays NaN: a world without a guessing model)."""
    if np.isnan(p_guess):
        return float("nan")
    return float(-np.expm1(k * np.log1p(-p_guess))) if p_guess < 1 else 1.0
