"""MATLAB's ``linspace`` and colon (``a:d:b``) value by value, so thresholds and grids are the bench's doubles.

A soft map pixel is on when ``pb >= t``; an 8-bit map takes the values k/255, so the last bit of t can decide
a pixel. ``numpy.linspace`` differs from MATLAB's in the last bit for 28 of the 99 default thresholds.
"""

from __future__ import annotations

import numpy as np


def matlab_linspace(first: float, last: float, count: int) -> np.ndarray:
    """``linspace(first, last, count)``: ``first + (0:n-1).*(last-first)./(n-1)`` with both ends pinned."""
    if count < 1:
        return np.zeros(0, dtype=np.float64)
    if count == 1:
        return np.array([last], dtype=np.float64)  # MATLAB's linspace(a, b, 1) is b
    values = first + (np.arange(count, dtype=np.float64) * (last - first)) / (count - 1)
    values[0], values[-1] = first, last
    return values


def matlab_colon(first: float, step: float, last: float) -> np.ndarray:
    """``first:step:last`` for a positive step: the first half counts up from ``first``, the second half down
    from ``last``, and an even number of steps puts ``(first+last)/2`` in the middle."""
    steps = int(np.floor((last - first) / step + 1e-10))
    values = np.empty(steps + 1, dtype=np.float64)
    half = np.arange(steps // 2 + 1)
    values[half] = first + half * step
    values[steps - half] = last - half * step
    if steps % 2 == 0:
        values[steps // 2] = (first + last) / 2
    return values
