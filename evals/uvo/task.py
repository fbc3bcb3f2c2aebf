"""`--task uvo`: UVO v1.0 dense val, class-agnostic video instance segmentation with SAM-PT, AR100 (the paper's video table).

    python -m evals.uvo.extract_frames datasets/UVOv1.0/uvo_videos_dense datasets/UVOv1.0/uvo_videos_dense_frames
    python run_eval.py --task uvo --model repvit --tracker-checkpoint weights/pips/reference_model
    python run_eval.py --task uvo --model repvit --tracker lk                       # weight-free tracker, labelled
    python run_eval.py --task uvo --model other --predictions results.json          # YouTube-VIS results of any method

Protocol: SAM-PT v1's VIS evaluation (SysCV/sam-pt c17ab94; every parameter and its source in protocol.py): frames
at 360 px shorter side (frames.py); SAM's automatic mask generator, the model under test, on frame 0; the first
100 masks tracked by SAM-PT without refinement and without other tracks' points as negatives; SAM on every frame
(vis.py). A sample is a video (id = its frames' folder); its stored prediction is, per track, one RLE per frame at
the annotation's size and a score (plus SAM's per-frame IoUs, query points and tracks). The metric is the
YouTube-VIS evaluation, class-agnostic (ytvis_eval.py): AR100, with AP, AR1, AR10 and the rest in the results.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from models.prompt_model import PromptModel

from ..base import Column, Dataset, Evaluator, Sample, Task
from ..trackers import LazyTracker, PointTracker, tracker_params
from ..trackers.options import DEFAULT_TRACKER, add_tracker_arguments
from . import examples
from .dataset import UvoVideo, annotations_path, load_uvo_videos, uvo_root
from .frames import read_working_frame
from .protocol import AMG_PARAMS, MAX_LONGER_SIDE, MAX_TRACKS, SAM_PT_VIS_OPTIONS, SHORTER_SIDE
from .vis import segment_video_instances
from .ytvis_eval import Track, VideoSet, evaluate_videos, to_rle

SECTION = "Video object segmentation (DAVIS 2017) and video instance segmentation (UVO)"
# RepViT-SAM paper / README, video instance segmentation on UVO v1.0 with SAM-PT.
PAPER_AR100 = {"vit_h": 28.8, "vit_b": 19.1, "mobilesam": 22.7, "repvit": 25.3}
PROTOCOL_TRACKER = DEFAULT_TRACKER  # pips: SAM-PT v1, whose numbers the paper reports
TRACKER_NOTES = {
    "lk": "BASELINE TRACKER: Lucas-Kanade (weight-free), not SAM-PT's PIPS; not comparable to the paper",
    "cotracker": "TRACKER: CoTracker (SAM-PT's current default), not PIPS of SAM-PT v1 that the paper reports",
}


class UvoTask(Task):
    name = "uvo"
    description = "UVO v1.0 dense val class-agnostic VIS with SAM-PT on SAM's automatic masks, AR100"
    columns = (Column("AR100", "UVO AR100", SECTION, paper=PAPER_AR100, digits=1),)
    # Two generated 4-frame 96x128 videos, the weight-free tracker and an 8x8 AMG grid (not the protocol's 32x32):
    # a labelled variant that runs on CPU in seconds.
    demo_args = ("--tracker", "lk", "--uvo-amg-points-per-side", "8")
    example_metric = "mean over the ground-truth tracks of the best spatio-temporal IoU of a predicted track"

    def __init__(self, params: dict[str, Any]):
        super().__init__(params)
        self._tracker = LazyTracker()
        self._external: tuple[str, dict[int, list[dict]]] | None = None

    @property
    def runs_sam_pt(self) -> bool:
        return self.params.get("masks_from") == "SAM-PT"

    def variant(self) -> str | None:
        """'lk', 'amg8', 'lk.amg8', ...: the choices that differ from SAM-PT v1's VIS protocol (None: none)."""
        if not self.runs_sam_pt:
            return None
        tracker = self.params["tracker"]["tracker"]
        labels = [] if tracker == PROTOCOL_TRACKER else [tracker]
        points = self.params["amg"]["points_per_side"]
        if points != AMG_PARAMS["points_per_side"]:
            labels.append(f"amg{points}")
        return ".".join(labels) or None

    def paper_comparable(self) -> bool:
        return not self.runs_sam_pt or self.variant() is None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("uvo (SAM-PT on SAM's automatic masks)")
        add_tracker_arguments(group)
        group.add_argument("--uvo-amg-points-per-side", type=int, default=AMG_PARAMS["points_per_side"],
                           help="automatic mask generator grid on frame 0 (SAM-PT: 32; other values are a "
                                "labelled variant)")  # fmt: skip

    @classmethod
    def params_from_args(cls, args: argparse.Namespace) -> dict[str, Any]:
        if getattr(args, "predictions", None) is not None:
            return {"masks_from": "predictions", "predictions": str(args.predictions)}
        return cls.sam_pt_params(args.tracker, args.tracker_checkpoint, args.uvo_amg_points_per_side)

    @staticmethod
    def sam_pt_params(tracker: str = PROTOCOL_TRACKER, tracker_checkpoint: Path | None = None,
                      amg_points_per_side: int = AMG_PARAMS["points_per_side"]) -> dict[str, Any]:  # fmt: skip
        """Every protocol parameter of a run (checks that the tracker's weights are there)."""
        if amg_points_per_side < 1:
            raise ValueError("--uvo-amg-points-per-side must be >= 1")
        params = {
            "masks_from": "SAM-PT",
            "protocol": "SAM-PT v1 VIS (SysCV/sam-pt c17ab94, vis_eval_sam_pt.yaml), UVO v1.0 dense val",
            "frames": {"shorter_side": SHORTER_SIDE, "max_longer_side": MAX_LONGER_SIDE, "resize": "PIL bilinear"},
            "amg": {**AMG_PARAMS, "points_per_side": amg_points_per_side},
            "max_tracks": MAX_TRACKS,
            "sam_pt": {**asdict(SAM_PT_VIS_OPTIONS), "positive_selection": "kmedoids",
                       "negative_selection": "mixed (random background)", "frame_0": "SAM on it, scored"},
            "track_score": "mean predicted IoU over all frames; -inf (ranked last) if some frame had no visible point",
            "tracker": tracker_params(tracker, tracker_checkpoint),
        }  # fmt: skip
        if tracker in TRACKER_NOTES:
            params["note"] = TRACKER_NOTES[tracker]
        return params

    def load_dataset(self, data_root: Path) -> Dataset:
        videos = load_uvo_videos(data_root, need_frames=self.runs_sam_pt)
        files = [annotations_path(data_root)]
        if self.runs_sam_pt:
            files += [path for video in videos for path in video.frame_paths]
        return Dataset(name="UVO v1.0 dense", split="val", root=uvo_root(data_root),
                       samples=[Sample(video.name, video) for video in videos], files=files)  # fmt: skip

    def tracker(self, device) -> PointTracker:
        return self._tracker.get(self.params["tracker"], device)

    def load_inputs(self, sample: Sample) -> np.ndarray:
        return np.stack([read_working_frame(path) for path in sample.data.frame_paths])

    def predict(self, model: PromptModel, sample: Sample, frames: np.ndarray) -> dict:
        video: UvoVideo = sample.data
        result = segment_video_instances(model, self.tracker(model.device), frames, (video.height, video.width),
                                         SAM_PT_VIS_OPTIONS, self.params["amg"], self.params["max_tracks"])  # fmt: skip
        return {
            "video_id": video.id,
            "segmentations": result.segmentations,
            "scores": result.scores,
            "ious": result.ious,
            "num_generated_masks": result.num_generated,
            "working_size": list(frames.shape[1:3]),
            "query_points": result.query_points,
            "trajectories": result.trajectories,
            "visibilities": result.visibilities,
        }

    def evaluator(self) -> Evaluator:
        return UvoEvaluator()

    def read_external_prediction(self, directory: Path, sample: Sample) -> dict:
        """YouTube-VIS results (a json list of {video_id, score, category_id, segmentations: RLE or None per frame};
        `--predictions FILE`, or a folder holding results.json as SAM-PT's evaluator writes it)."""
        path = Path(directory)
        path = path / "results.json" if path.is_dir() else path
        if self._external is None or self._external[0] != str(path):
            if not path.is_file():
                raise FileNotFoundError(f"no YouTube-VIS results file at {path}")
            by_video: dict[int, list[dict]] = {}
            for result in json.loads(path.read_text()):
                by_video.setdefault(result["video_id"], []).append(result)
            self._external = (str(path), by_video)
        results = self._external[1].get(sample.data.id, [])
        return {"video_id": sample.data.id, "segmentations": [r["segmentations"] for r in results],
                "scores": [r["score"] for r in results]}  # fmt: skip

    def example_score(self, sample: Sample, prediction: dict) -> float | None:
        """Mean best video IoU of the video's objects (examples.py); None without ground truth."""
        return examples.best_iou_recall(sample.data, prediction)

    def draw_example(self, sample: Sample, prediction: dict) -> dict:
        return examples.draw(sample.data, prediction, self.params.get("sam_pt", {}).get("positive_points"))


class UvoEvaluator(Evaluator):
    """Collects every video's ground truth and predicted tracks; `evaluate` runs the YouTube-VIS evaluation once."""

    def reset(self) -> None:
        self.videos = VideoSet()

    def process(self, sample: Sample, prediction: dict) -> None:
        video: UvoVideo = sample.data
        self.videos.sizes[video.id] = (video.height, video.width)
        self.videos.truth += video.ground_truth()
        for segmentations, score in zip(prediction["segmentations"], prediction["scores"]):
            if len(segmentations) != len(video.frame_paths):
                raise ValueError(f"UVO video {video.name}: a predicted track of {len(segmentations)} frames, the video "
                                 f"has {len(video.frame_paths)}")  # fmt: skip
            rles = [to_rle(s, video.height, video.width) for s in segmentations]
            for rle in rles:
                if rle is not None and list(rle["size"]) != [video.height, video.width]:
                    raise ValueError(f"UVO video {video.name}: a predicted mask of size {rle['size']}, the "
                                     f"annotations are {[video.height, video.width]}")  # fmt: skip
            self.videos.predictions.append(Track(video.id, rles, score=float("-inf") if score is None else float(score)))

    def evaluate(self) -> dict[str, Any]:
        return evaluate_videos(self.videos)
