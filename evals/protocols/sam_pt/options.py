"""SAM-PT's parameters, with where each comes from: the defaults are SAM-PT v1's DAVIS 2017 protocol.

Sources, all in SysCV/sam-pt at commit c17ab94 (the last commit before "Use CoTracker and HQ-SAM by default",
38244f9; the RepViT-SAM paper's MobileSAM number, 71.1, is that version's docs table, 71.07, run with PIPS):
- configs/model/sam_pt.yaml             the model's parameters ("sam_pt.yaml" below)
- configs/vos_eval_root.yaml            the VOS evaluation's parameters ("vos_eval_root.yaml")
- sam_pt/modeling/sam_pt.py             how they are used ("sam_pt.py")
- sam_pt/utils/query_points.py          query-point selection ("query_points.py")
- sam_pt/vos_eval/eval.py, data/video_reader.py   frames in, masks out ("eval.py", "video_reader.py")

`SamPtOptions` is shared with the UVO task, which runs the same per-frame core with other values (SAM-PT's VIS
command: iterative_refinement_iterations=0).
"""
from __future__ import annotations

from dataclasses import dataclass

# sam_pt.yaml: positive_points_per_mask: 8 (v1; 16 since 38244f9, for CoTracker), negative_points_per_mask: 1,
# positive_point_selection_method: kmedoids, negative_point_selection_method: mixed,
# add_other_objects_positive_points_as_negative_points: true, sam_iou_threshold: 0.7,
# iterative_refinement_iterations: 12 (docs/04-running-experiments.md runs MobileSAM with 3).
POSITIVE_POINTS = 8
NEGATIVE_POINTS = 1
IOU_THRESHOLD = 0.7
REFINEMENT_ITERATIONS = 12
# query_points.py, extract_kmedoid_points(..., subsample_size=1800): k-medoids runs on at most 1800 mask pixels.
KMEDOIDS_SUBSAMPLE = 1800
# vos_eval_root.yaml (v1): masks_batch_size: 5 -- the objects of a video go through SAM-PT in groups of 5, so other
# objects' points are negatives only within a group; sam_pt.yaml: point_tracker_mask_batch_size: 5 -- the tracker
# sees the points of 5 objects at a time. Both 5 in v1: one group size here. (DAVIS 2017 val has at most 5 objects.)
OBJECT_GROUP_SIZE = 5
# sam_pt.py, _track_points: a tracked point within 1% of the frame's width or height from its border is marked
# OUTSIDE_FRAME, i.e. not visible (x / w < 0.01 or > 0.99, y / h < 0.01 or > 0.99).
BORDER_MARGIN = 0.01
# vos_eval_root.yaml: longest_size: 1024 -- frames and first-frame masks are resized to 1024 px on their longest
# side (video_reader.py: segment_anything's ResizeLongestSide for frames, nearest-neighbour F.interpolate for masks)
# before tracking and SAM; SAM-PT passes the refinement box to SamPredictor.predict_torch untransformed, which is
# right only at that size. Not an option here.
LONGEST_SIDE = 1024
# vos_eval_root.yaml: seed: 72.
SEED = 72

# SAM-PT's docs/04-running-experiments.md runs CoTracker with positive_points_per_mask=16 (the default of
# sam_pt.yaml since it uses CoTracker); PIPS and the weight-free lk baseline keep v1's 8.
POSITIVE_POINTS_FOR_TRACKER = {"pips": 8, "cotracker": 16, "lk": 8}


@dataclass(frozen=True)
class SamPtOptions:
    """How SAM-PT turns tracked points into masks (defaults: v1 on DAVIS 2017, sources above)."""

    positive_points: int = POSITIVE_POINTS
    negative_points: int = NEGATIVE_POINTS  # "mixed" selection; with 1 or 2 points that is random background pixels
    negatives_from_other_objects: bool = True
    iou_threshold: float = IOU_THRESHOLD
    refinement_iterations: int = REFINEMENT_ITERATIONS
    kmedoids_subsample: int = KMEDOIDS_SUBSAMPLE
    object_group_size: int = OBJECT_GROUP_SIZE
    border_margin: float = BORDER_MARGIN
    seed: int = SEED

    def __post_init__(self) -> None:
        if self.positive_points < 1:
            raise ValueError("SAM-PT needs at least one positive point per object")
        if not 0 <= self.negative_points <= 2:
            raise ValueError("negative points: 0, 1 or 2 ('mixed' selection with 3 or more also takes Shi-Tomasi "
                             "corners, not implemented here)")  # fmt: skip
        if self.refinement_iterations < 0 or self.object_group_size < 1:
            raise ValueError("refinement iterations must be >= 0 and the object group size >= 1")

    @property
    def points_per_object(self) -> int:
        return self.positive_points + self.negative_points


def sam_pt_notes() -> dict[str, str]:
    """What is fixed in SAM-PT's protocol here, in words (the tasks' protocol notes; sources above)."""
    return {"positive_selection": "kmedoids", "negative_selection": "mixed (random background)",
            "longest_side": f"frames and first-frame masks resized to {LONGEST_SIDE} px on their longest side"}
