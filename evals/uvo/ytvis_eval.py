"""The YouTube-VIS evaluation (class-agnostic) that SAM-PT reports on UVO: AP and AR of tracks over whole videos.

As sam_pt/vis_eval/mask2former_video/data_video/datasets/ytvis_api/ytvoseval.py (SysCV/sam-pt c17ab94, a copy of
youtubevos/cocoapi's YTVOSeval), run as ytvis_eval.py's _evaluate_predictions_on_coco does:
- the IoU of a predicted track and a ground-truth track is spatio-temporal (`video_iou`): the sum over frames of
  their intersections over the sum of their unions; a missing (None) segmentation is an empty mask, so frames
  where both are empty add nothing (ytvoseval's iou_seq); 0 when the union is empty; crowd flags do not change it;
- matching and accumulation are COCOeval's with a video as the "image": here pycocotools' own COCOeval, with
  `computeIoU` overridden by `video_iou` (`VideoCOCOeval`), so only the IoU is new code;
- the area of a track (area ranges) is the mean of its non-empty per-frame areas (ytvoseval's avg_area; ground
  truth: the json's `areas` when given, as ytvoseval reads them);
- ground truth with iscrowd is ignored (ytvoseval._prepare); parameters in protocol.py (maxDets 1/10/100, IoU
  .50:.05:.95, ytvis area ranges); every category is one (UVO is class-agnostic).
For a one-frame video this is exactly pycocotools' `segm` evaluation with the same area ranges (a test).
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from .protocol import AREA_LABELS, AREA_RANGES, MAX_DETS

Segmentation = dict | list | None  # compressed RLE, uncompressed RLE or polygons; None: no mask on that frame
STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def to_rle(segmentation: Segmentation, height: int, width: int) -> dict | None:
    """A frame's segmentation as compressed RLE (ytvos.py annToRLE), None kept for a frame without a mask."""
    if not segmentation:
        return None
    if isinstance(segmentation, list):  # polygons of one object
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    if isinstance(segmentation["counts"], list):  # uncompressed RLE
        return mask_utils.frPyObjects(segmentation, height, width)
    return segmentation


def rle_area(rle: dict | None) -> int:
    return 0 if rle is None else int(mask_utils.area(rle))


def video_iou(predicted: list[dict | None], truth: list[dict | None]) -> float:
    """Spatio-temporal IoU of two tracks (per-frame compressed RLEs or None), ytvoseval's iou_seq exactly:
    sum of intersections / sum of unions over the frames, 0 when the union is empty."""
    if len(predicted) != len(truth):
        raise ValueError(f"tracks of {len(predicted)} and {len(truth)} frames")
    intersection = union = 0
    for d, g in zip(predicted, truth):
        area_d, area_g = rle_area(d), rle_area(g)
        overlap = int(mask_utils.area(mask_utils.merge([d, g], intersect=True))) if area_d and area_g else 0
        intersection += overlap
        union += area_d + area_g - overlap
    return intersection / union if union > 0 else 0.0


def mean_nonempty_area(areas: list[float | None]) -> float:
    """ytvoseval's avg_area: the mean of the non-empty per-frame areas, 0 for a track that is empty throughout."""
    nonempty = [a for a in areas if a]
    return float(np.mean(nonempty)) if nonempty else 0.0


@dataclass
class Track:
    """One object through a video: a ground-truth annotation or a prediction (score set)."""

    video_id: int
    segmentations: list[dict | None]  # compressed RLE or None per frame
    score: float | None = None
    iscrowd: int = 0
    areas: list[float | None] | None = None  # per-frame areas (ground truth: the json's); None: from the masks

    def area(self) -> float:
        areas = self.areas if self.areas is not None else [rle_area(s) or None for s in self.segmentations]
        return mean_nonempty_area(areas)


@dataclass
class VideoSet:
    """The videos to score ({id: (height, width)}) with their ground-truth and predicted tracks."""

    sizes: dict[int, tuple[int, int]] = field(default_factory=dict)
    truth: list[Track] = field(default_factory=list)
    predictions: list[Track] = field(default_factory=list)


class VideoCOCOeval(COCOeval):
    """pycocotools' COCOeval with videos as images and `video_iou` as the IoU; params as YTVOSeval (protocol.py)."""

    def __init__(self, truth: COCO, predictions: COCO, segmentations: dict[tuple[str, int], list[dict | None]]):
        super().__init__(truth, predictions, iouType="segm")
        self.segmentations = segmentations  # ("gt" or "dt", annotation id) -> per-frame RLEs
        self.params.maxDets = list(MAX_DETS)
        self.params.areaRng = [list(r) for r in AREA_RANGES]
        self.params.areaRngLbl = list(AREA_LABELS)

    def _prepare(self) -> None:
        # COCOeval._prepare turns each annotation's 'segmentation' into one RLE when iouType is 'segm'; video tracks
        # live in self.segmentations instead, so that step is skipped (everything else -- ignore flags, grouping
        # by image and category -- is kept).
        self.params.iouType = "video"
        try:
            super()._prepare()
        finally:
            self.params.iouType = "segm"

    def computeIoU(self, imgId: int, catId: int) -> np.ndarray | list:  # noqa: N802 -- COCOeval's name
        """COCOeval.computeIoU's selection and order (score-sorted, at most maxDets[-1] predictions), video IoUs."""
        p = self.params
        if p.useCats:
            gt, dt = self._gts[imgId, catId], self._dts[imgId, catId]
        else:
            gt = [g for c in p.catIds for g in self._gts[imgId, c]]
            dt = [d for c in p.catIds for d in self._dts[imgId, c]]
        if len(gt) == 0 and len(dt) == 0:
            return []
        order = np.argsort([-d["score"] for d in dt], kind="mergesort")
        dt = [dt[i] for i in order][: p.maxDets[-1]]
        ious = np.zeros((len(dt), len(gt)))
        for i, d in enumerate(dt):
            for j, g in enumerate(gt):
                ious[i, j] = video_iou(self.segmentations["dt", d["id"]], self.segmentations["gt", g["id"]])
        return ious


def _coco(videos: dict[int, tuple[int, int]], tracks: list[Track], kind: str,
          segmentations: dict) -> COCO:  # fmt: skip
    annotations = []
    for index, track in enumerate(tracks, start=1):
        annotation = {"id": index, "image_id": track.video_id, "category_id": 1, "iscrowd": int(track.iscrowd),
                      "area": track.area()}  # fmt: skip
        if kind == "dt":
            annotation["score"] = track.score
        annotations.append(annotation)
        segmentations[kind, index] = track.segmentations
    coco = COCO()
    coco.dataset = {"images": [{"id": v, "height": h, "width": w} for v, (h, w) in videos.items()],
                    "annotations": annotations, "categories": [{"id": 1, "name": "object"}]}  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def evaluate_videos(videos: VideoSet) -> dict[str, Any]:
    """AP, AP50, ..., AR100, ... (x100; None where COCOeval has no ground truth for a setting, SAM-PT's NaN)."""
    for track in videos.truth + videos.predictions:
        if track.video_id not in videos.sizes:
            raise ValueError(f"a track of video {track.video_id}, which is not among the videos scored")
    segmentations: dict = {}
    truth = _coco(videos.sizes, videos.truth, "gt", segmentations)
    predictions = _coco(videos.sizes, videos.predictions, "dt", segmentations)
    evaluation = VideoCOCOeval(truth, predictions, segmentations)
    evaluation.params.imgIds = sorted(videos.sizes)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    metrics: dict[str, Any] = {name: (100 * float(v) if v >= 0 else None) for name, v in zip(STAT_NAMES,
                                                                                              evaluation.stats)}
    metrics.update({"num_videos": len(videos.sizes), "num_gt_tracks": len(videos.truth),
                    "num_predicted_tracks": len(videos.predictions)})  # fmt: skip
    return metrics
