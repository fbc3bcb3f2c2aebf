"""The report's UVO examples: each video ranked by how well its objects are recovered, drawn on its middle frame.

Score: the mean, over the video's non-crowd ground-truth tracks, of the best spatio-temporal IoU (ytvis_eval.py's
`video_iou`, the IoU the evaluation matches with) that any predicted track reaches -- a per-video recall ingredient
of AR100, without the ranking by score (the stored tracks are at most the protocol's 100). A video without
ground truth is not ranked. Drawing: the frame with the shown tracks' points there, their masks and the annotation.
"""
from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils

from .. import visual
from .dataset import UvoVideo
from .ytvis_eval import to_rle, video_iou

MAX_SHOWN = 20  # tracks drawn per video, highest scores first


def predicted_tracks(video: UvoVideo, prediction: dict) -> list[list[dict | None]]:
    return [[to_rle(s, video.height, video.width) for s in track] for track in prediction["segmentations"]]


def best_iou_recall(video: UvoVideo, prediction: dict) -> float | None:
    truth = [track for track in video.ground_truth() if not track.iscrowd]
    if not truth:
        return None
    tracks = predicted_tracks(video, prediction)
    return float(np.mean([max((video_iou(p, t.segmentations) for p in tracks), default=0.0) for t in truth]))


def _mask(rle: dict | None, height: int, width: int) -> np.ndarray:
    return np.zeros((height, width), bool) if rle is None else mask_utils.decode(rle) > 0


def draw(video: UvoVideo, prediction: dict, positive_points: int | None) -> dict[str, np.ndarray]:
    t = len(video.frame_paths) // 2
    size = (video.height, video.width)
    image = visual.read_rgb(video.frame_paths[t])
    image = visual.blank(*size) if image is None else visual.resize_to(image, size)
    scores = [float("-inf") if s is None else s for s in prediction["scores"]]
    shown = sorted(range(len(scores)), key=lambda k: -scores[k])[:MAX_SHOWN]
    tracks = predicted_tracks(video, prediction)
    points = image
    if "trajectories" in prediction and positive_points is not None:  # SAM-PT's points, stored at the working size
        scale = np.array([video.width, video.height]) / np.array(prediction["working_size"][::-1])
        for colour, k in enumerate(shown):
            points = visual.draw_object_points(points, prediction["trajectories"][t][k] * scale,
                                               prediction["visibilities"][t][k], positive_points, colour)  # fmt: skip
    truth = [track for track in video.ground_truth() if not track.iscrowd]
    masks = [_mask(tracks[k][t], *size) for k in shown]
    if any(mask.any() for mask in masks):
        caption = f"predicted tracks ({len(shown)} of {len(tracks)}, highest scores)"
        predicted = (caption, visual.overlay_masks(image, masks))
    else:  # no track, or none visible on this frame: said in words, not shown as the bare frame
        caption = f"predicted tracks: {'none visible on this frame' if tracks else 'none'}"
        predicted = (caption, visual.no_mask(*size))
    return {
        f"frame {t} and the points of the shown tracks" if shown else f"frame {t}": points,
        predicted[0]: predicted[1],
        f"ground truth ({len(truth)} tracks)": visual.overlay_masks(image, [_mask(g.segmentations[t], *size) for g in truth]),
    }  # fmt: skip
