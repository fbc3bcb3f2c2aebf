"""How far one implementation's outputs are from another's: the one measure the parity tests, the export checks
(ONNX, Core ML) and the precision benchmarks share (tolerances: shared/parity/README.md, 1e-4)."""
from __future__ import annotations

import numpy as np


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    """max |ours - reference| / max |reference| (an all-zero reference divides by 1e-12, not by zero)."""
    ours, reference = np.asarray(ours, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    return float(np.abs(ours - reference).max() / max(np.abs(reference).max(), 1e-12))
