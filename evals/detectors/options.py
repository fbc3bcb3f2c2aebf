"""Command-line options of the detectors, shared by the tasks that make their own box prompts (SegInW, MVTec AD).

Added by whichever task comes first (the same pattern as evals/protocols/box_prompts/options.py), so one `--detector-weights` serves
every task of `run_eval.py --detect`.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .weights import DEFAULT_WEIGHTS_DIR, HUB_MODEL  # light: the command line imports this module


def add_detector_arguments(group: Any) -> None:
    """Add `--detector-weights` to `group` (a parser or an argument group) unless another task has added it."""
    try:
        group.add_argument("--detector-weights", type=Path, default=DEFAULT_WEIGHTS_DIR, metavar="DIR",
                           help=f"--detect: a local folder with Grounding-DINO Swin-B in transformers format "
                                f"({HUB_MODEL})")  # fmt: skip
    except argparse.ArgumentError:  # added already by another task
        pass
