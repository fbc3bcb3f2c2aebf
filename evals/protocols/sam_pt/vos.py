"""SAM-PT semi-supervised VOS on one video: first-frame masks -> query points -> tracks -> masks on every frame.

The steps of sam_pt/vos_eval/eval.py and SamPt.forward (sam_pt/modeling/sam_pt.py), v1:
1. query points of every object on its first-frame mask (query_points.py), one generator seeded per video;
2. the points of each group of objects tracked through the video together (SamPt._track_points), points near the
   border hidden;
3. on every frame after the first: the per-frame core (segment.py), then the objects' logits merged into an id map
   at the output size (merge.py);
4. the first frame is the given annotation: SAM-PT overwrites its prediction there with the ground truth
   (eval.py: logits of +-1e8 at the query frame), so SAM is not run on it here (it is never scored either).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.prompt_model import PromptModel

from ...trackers import PointTracker
from .merge import merge_object_masks
from .options import SamPtOptions
from .query_points import object_query_points
from .segment import hide_points_near_border, object_groups, object_prompts, segment_frame


@dataclass(frozen=True)
class VideoSegmentation:
    masks: np.ndarray  # T x H x W uint8 id maps at the output size
    ious: list[list[float | None]]  # T x K: SAM's predicted IoU per frame and object (None: not asked)
    query_points: np.ndarray  # K x P x 2 (x, y) at the working size
    trajectories: np.ndarray  # T x K x P x 2 (x, y) at the working size
    visibilities: np.ndarray  # T x K x P bool, border rule applied


def track_objects(tracker: PointTracker, frames: np.ndarray, query_points: np.ndarray,
                  group_size: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """T x K x P x 2 trajectories and T x K x P visibilities, each group of objects' points tracked together."""
    n_objects, n_points, _ = query_points.shape
    trajectories = np.zeros((len(frames), n_objects, n_points, 2), dtype=np.float32)
    visibilities = np.zeros((len(frames), n_objects, n_points), dtype=bool)
    for group in object_groups(n_objects, group_size):
        tracks = tracker.track(frames, query_points[group.start : group.stop].reshape(-1, 2))
        trajectories[:, group.start : group.stop] = tracks.trajectories.reshape(len(frames), len(group), n_points, 2)
        visibilities[:, group.start : group.stop] = tracks.visibilities.reshape(len(frames), len(group), n_points)
    return trajectories, visibilities


def segment_video(model: PromptModel, tracker: PointTracker, frames: np.ndarray, first_masks: list[np.ndarray],
                  first_ids: np.ndarray, options: SamPtOptions) -> VideoSegmentation:  # fmt: skip
    """frames: T x h x w x 3 uint8 at the working size; first_masks: K boolean h x w masks of objects 1..K on frame
    0; first_ids: frame 0's annotation at the output size (H x W ids), which is also the output's frame 0."""
    rng = np.random.default_rng(options.seed)
    height, width = frames.shape[1:3]
    query_points = object_query_points(
        first_masks, options.positive_points, options.negative_points, rng, options.kmedoids_subsample
    )
    trajectories, visibilities = track_objects(tracker, frames, query_points, options.object_group_size)
    visibilities = hide_points_near_border(trajectories, visibilities, height, width, options.border_margin)
    masks = np.zeros((len(frames), *first_ids.shape), dtype=np.uint8)
    masks[0] = first_ids
    ious: list[list[float | None]] = [[None] * len(first_masks)]
    for t in range(1, len(frames)):
        prompts = object_prompts(trajectories[t], visibilities[t], options)
        object_masks = segment_frame(model, frames[t], prompts, options)
        masks[t] = merge_object_masks(object_masks, first_ids.shape)
        ious.append([m.iou for m in object_masks])
    return VideoSegmentation(masks, ious, query_points, trajectories, visibilities)
