"""SAM-PT video instance segmentation of one video: SAM's automatic masks on frame 0 -> tracks through the video.

The steps of sam_pt/modeling/vis_to_vos_adapter.py and SamPt._forward (sam_pt/modeling/sam_pt.py, c17ab94):
1. SAM's automatic mask generator (the model under test, protocol.AMG_PARAMS) on frame 0; the first
   `max_tracks` (100) masks, in the generator's order (by predicted IoU), are the queries;
2. query points of each mask (evals/protocols/sam_pt/query_points.py), tracked together through the video (evals/trackers),
   points near the border hidden -- as for DAVIS;
3. SAM on *every* frame, frame 0 included (VIS has no given first frame to copy), per track with the per-frame
   core of evals/protocols/sam_pt/segment.py (no refinement, no other tracks' points as negatives); each track keeps its own
   mask (tracks may overlap, nothing is merged); logits are resized bilinearly to the video's size, mask = logits > 0;
4. a track's score, as SamPt._forward computes it: `scores_per_frame.mean(dim=0)`, where a frame whose points are
   all hidden scores -inf -- the mean predicted IoU over all frames (low-IoU masks that were dropped count too),
   -inf (stored as None, ranked last) when SAM was not asked on some frame (`sam_pt_track_score`).
The result is ytvis_eval.py's (and SAM-PT's instances_to_coco_json_video's) per-track form: one compressed RLE
(counts as str) per frame at the annotation's size, and the score.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pycocotools import mask as mask_utils

from models.prompt_model import PromptModel

from ..protocols.amg import AmgParams
from ..protocols.sam_pt.frames import resize_logits
from ..protocols.sam_pt.options import SamPtOptions
from ..protocols.sam_pt.query_points import object_query_points
from ..protocols.sam_pt.segment import hide_points_near_border, object_prompts, segment_frame
from ..protocols.sam_pt.vos import track_objects
from ..trackers import PointTracker


@dataclass(frozen=True)
class VideoTracks:
    segmentations: list[list[dict]]  # K x T compressed RLEs (counts str) at the output size
    scores: list[float | None]  # K: SAM-PT's track score; None: -inf (some frame without a visible point)
    ious: list[list[float | None]]  # K x T SAM's predicted IoU (None: not asked)
    num_generated: int  # masks the AMG made on frame 0 (before keeping the first max_tracks)
    query_points: np.ndarray  # K x P x 2 (x, y) at the working size
    trajectories: np.ndarray  # T x K x P x 2
    visibilities: np.ndarray  # T x K x P bool, border rule applied


def encode_mask(mask: np.ndarray) -> dict:
    """A binary H x W mask as compressed RLE with str counts (SAM-PT's instances_to_coco_json_video)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def sam_pt_track_score(ious: list[float | None]) -> float | None:
    """SamPt._forward's score: the mean of the per-frame predicted IoUs; None (SAM-PT: -inf) when SAM was not asked
    on some frame (no visible point there)."""
    if not ious or any(iou is None for iou in ious):
        return None
    return float(np.mean(np.asarray(ious, dtype=np.float32)))  # float32, as SAM-PT's torch tensor


def first_frame_masks(model: PromptModel, frame: np.ndarray, amg: AmgParams,
                      max_tracks: int) -> tuple[list[np.ndarray], int]:  # fmt: skip
    """The first `max_tracks` automatic masks of `frame` (the adapter's result_records[:max_num_masks])."""
    records = model.generate(frame, **amg.to_dict())
    return [np.asarray(r["segmentation"], dtype=bool) for r in records[:max_tracks]], len(records)


def segment_video_instances(model: PromptModel, tracker: PointTracker, frames: np.ndarray,
                            output_size: tuple[int, int], options: SamPtOptions, amg: AmgParams,
                            max_tracks: int) -> VideoTracks:  # fmt: skip
    """frames: T x h x w x 3 uint8 RGB at the working size; output_size: (H, W) of the annotations."""
    n_frames, height, width = frames.shape[:3]
    masks, num_generated = first_frame_masks(model, frames[0], amg, max_tracks)
    rng = np.random.default_rng(options.seed)
    query_points = object_query_points(masks, options.positive_points, options.negative_points, rng,
                                       options.kmedoids_subsample)  # fmt: skip
    n_tracks = len(masks)
    if n_tracks:
        trajectories, visibilities = track_objects(tracker, frames, query_points, options.object_group_size)
        visibilities = hide_points_near_border(trajectories, visibilities, height, width, options.border_margin)
    else:
        trajectories = np.zeros((n_frames, 0, options.points_per_object, 2), np.float32)
        visibilities = np.zeros((n_frames, 0, options.points_per_object), bool)
    empty = encode_mask(np.zeros(output_size, dtype=bool))
    segmentations: list[list[dict]] = [[] for _ in range(n_tracks)]
    ious: list[list[float | None]] = [[] for _ in range(n_tracks)]
    for t in range(n_frames if n_tracks else 0):
        prompts = object_prompts(trajectories[t], visibilities[t], options)
        for k, object_mask in enumerate(segment_frame(model, frames[t], prompts, options)):
            if object_mask.logits is None:
                segmentations[k].append(empty)
            else:
                segmentations[k].append(encode_mask((resize_logits(object_mask.logits, output_size) > 0).numpy()))
            ious[k].append(object_mask.iou)
    scores = [sam_pt_track_score(track_ious) for track_ious in ious]
    return VideoTracks(segmentations, scores, ious, num_generated, query_points, trajectories, visibilities)
