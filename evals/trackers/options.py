"""The command-line options that pick a point tracker, shared by the tasks that track points (davis, uvo)."""
from __future__ import annotations

import argparse
from pathlib import Path

from . import TRACKERS

DEFAULT_TRACKER = "pips"  # SAM-PT v1's tracker (configs/model/sam_pt.yaml at c17ab94: point_tracker: pips)
# What a run with another tracker is, in words (the tasks' protocol notes).
TRACKER_NOTES = {
    "lk": "BASELINE TRACKER: Lucas-Kanade (weight-free), not SAM-PT's PIPS; not comparable to the paper",
    "cotracker": "TRACKER: CoTracker (SAM-PT's current default), not PIPS of SAM-PT v1 that the paper reports",
}
# How a tracker tracks, in words, where its settings do not say it.
TRACKER_METHODS = {
    "lk": {"tracker_method": "pyramidal Lucas-Kanade (cv2.calcOpticalFlowPyrLK), frame to frame, forward-backward "
                             "check",
           "tracker_lost_points": "stay lost, last position kept"},
}


def tracker_notes(tracker: str) -> dict[str, str]:
    """The protocol notes of a run tracking with `tracker` (`Task.protocol_notes`)."""
    notes = dict(TRACKER_METHODS.get(tracker, {}))
    return {**notes, "note": TRACKER_NOTES[tracker]} if tracker in TRACKER_NOTES else notes


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
