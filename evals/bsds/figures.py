"""The classic BSDS precision-recall figure: one curve per run, iso-F contours, ODS marked."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_pr_figure(curves: dict[str, dict], path: Path) -> Path:
    """`curves`: row label -> {"recall": [...], "precision": [...], "ODS": f, "ods_recall": r, "ods_precision": p}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    grid = np.linspace(0.01, 1, 200)
    recall, precision = np.meshgrid(grid, grid)
    f = 2 * precision * recall / (precision + recall)
    contours = ax.contour(recall, precision, f, levels=np.arange(0.1, 1.0, 0.1), colors="0.85", linewidths=0.8)
    ax.clabel(contours, fmt="%.1f", fontsize=7)
    for label, curve in curves.items():
        (line,) = ax.plot(curve["recall"], curve["precision"], lw=1.8, label=f"[F={curve['ODS']:.3f}] {label}")
        ax.plot(curve["ods_recall"], curve["ods_precision"], "o", color=line.get_color(), ms=5)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="Recall", ylabel="Precision", title="BSDS500 boundaries")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
