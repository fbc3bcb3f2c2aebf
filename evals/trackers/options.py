"""The command-line options that pick a point tracker, shared by the tasks that track points (davis, uvo)."""
from __future__ import annotations

import argparse
from pathlib import Path

from . import TRACKERS

DEFAULT_TRACKER = "pips"  # SAM-PT v1's tracker (configs/model/sam_pt.yaml at c17ab94: point_tracker: pips)


def add_tracker_arguments(group: argparse._ArgumentGroup) -> None:
    """--tracker and --tracker-checkpoint; added once even when several tasks ask (they share them)."""
    if "--tracker" in group._option_string_actions:  # another task's group added them to the same parser
        return
    group.add_argument("--tracker", choices=TRACKERS, default=DEFAULT_TRACKER,
                       help="point tracker: pips (SAM-PT v1, the paper's protocol), cotracker (SAM-PT's current "
                            "default), lk (weight-free Lucas-Kanade baseline, labelled in the results)")  # fmt: skip
    group.add_argument("--tracker-checkpoint", type=Path, metavar="PATH",
                       help="tracker weights (pips: reference_model/ or its model-000200000.pth, default "
                            "weights/pips/reference_model; cotracker: cotracker_stride_4_wind_8.pth, default "
                            "weights/cotracker/)")  # fmt: skip
