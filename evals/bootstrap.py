"""Confidence intervals for per-sample metrics: a mean and a paired difference of two runs, by the bootstrap over
groups (images), for any task that stores its per-sample values (`per_sample` in its results' metrics).

Objects of one image are not independent (same scene, same embedding), so the unit resampled is the group: each
resample draws as many groups as there are, with replacement, and takes the mean over all samples of the drawn
groups (the statistic the tables print: a mean over samples, not over groups). The interval is the percentile
interval of `RESAMPLES` resamples (Efron & Tibshirani 1993, ch. 13), with a fixed seed so that a run's interval is
reproducible. A paired difference resamples the same groups for both runs, which is what makes two models scored on
the same objects comparable more finely than their two intervals suggest.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95


def _group_sums(values: np.ndarray, groups: Sequence) -> tuple[np.ndarray, np.ndarray]:
    _, index = np.unique(np.asarray(groups), return_inverse=True)
    sums = np.bincount(index, weights=values)
    counts = np.bincount(index).astype(np.float64)
    return sums, counts


def mean_interval(values: Sequence[float], groups: Sequence, resamples: int = RESAMPLES, seed: int = SEED,
                  level: float = LEVEL) -> tuple[float, float]:  # fmt: skip
    """The `level` percentile bootstrap interval of the mean of `values`, resampling `groups` (one label per value).
    NaN values are left out (as the means are)."""
    values = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(values)
    if not keep.any():
        return (float("nan"), float("nan"))
    sums, counts = _group_sums(values[keep], np.asarray(groups)[keep])
    weights = resample_weights(len(sums), resamples, seed)
    return _percentile_interval((weights @ sums) / np.maximum(weights @ counts, 1), level)


def resample_weights(num_groups: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples, num_groups): how many times each resample draws each group (draws with replacement)."""
    return np.random.default_rng(seed).multinomial(num_groups, np.full(num_groups, 1 / num_groups), size=resamples)


def statistic_interval(statistic: Callable[[np.ndarray], float], num_groups: int, resamples: int = RESAMPLES,
                       seed: int = SEED, level: float = LEVEL) -> tuple[float, float]:  # fmt: skip
    """The bootstrap interval of a statistic that is not a mean over samples (BSDS' ODS, a maximum over thresholds
    of counts pooled over images): `statistic(weights)` recomputes it from its groups, each counted `weights[g]`
    times. Same draws as `mean_interval` for the same seed and number of groups."""
    weights = resample_weights(num_groups, resamples, seed)
    return _percentile_interval(np.array([statistic(w) for w in weights], dtype=np.float64), level)


def _percentile_interval(statistics: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(statistics, [tail, 100 - tail])
    return (float(low), float(high))


def paired_difference(a: Sequence[float], b: Sequence[float], groups: Sequence, resamples: int = RESAMPLES,
                      seed: int = SEED, level: float = LEVEL) -> dict[str, float]:  # fmt: skip
    """mean(b - a) over the samples both have (the same samples, in the same order) and its bootstrap interval."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values must be of the same samples: {a.shape} vs {b.shape}")
    difference = b - a
    keep = ~np.isnan(difference)
    low, high = mean_interval(difference[keep], np.asarray(groups)[keep], resamples, seed, level)
    return {"difference": float(difference[keep].mean()) if keep.any() else float("nan"), "low": low, "high": high,
            "samples": int(keep.sum()), "groups": int(len(np.unique(np.asarray(groups)[keep])))}  # fmt: skip
