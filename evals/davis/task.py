"""`--task davis`: DAVIS 2017 val semi-supervised VOS with SAM-PT, J&F / J / F (the paper's video table).

    python run_eval.py --task davis --model repvit --tracker-checkpoint weights/pips/reference_model
    python run_eval.py --task davis --model mobilesam --refinement-iterations 3     # as SAM-PT ran MobileSAM
    python run_eval.py --task davis --model repvit --tracker lk                     # weight-free baseline, labelled
    python run_eval.py --task davis --model osvos --predictions RESULTS_DIR         # a DAVIS results folder
    python -m evals.davis.export_results results/davis/repvit.predictions OUT_DIR    # stored masks -> PNGs

Protocol: SAM-PT v1 (SysCV/sam-pt c17ab94; every parameter and its source in protocol.py): query points from the
first-frame masks (query_points.py), tracked by a point tracker (evals/trackers; PIPS in SAM-PT v1), SAM on every
frame from the tracked points with iterative refinement (sam_pt.py), objects merged into one id map at 480p
(merge.py), all per video in vos.py. A sample is a sequence (id = its name); its stored prediction is the id maps
of all its frames (uint8 T x H x W, the DAVIS results format in memory) plus per-frame IoUs, query points and
tracks. The metric is the official davis2017-evaluation's (evaluate.py, evaluator.py).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from models.prompt_model import PromptModel

from ..base import Column, Dataset, Evaluator, Sample, Task
from ..trackers import LazyTracker, PointTracker, tracker_params
from ..trackers.options import add_tracker_arguments
from . import examples
from .dataset import SOURCE_RESOLUTIONS, DavisVideo, dataset_files, find_davis_root, load_davis_videos
from .evaluate import count_objects, scored_frames
from .evaluator import DavisEvaluator
from .frames import read_working_frame, resize_mask_nearest
from .io import ResultsFolder, read_annotation
from .protocol import POSITIVE_POINTS_FOR_TRACKER, REFINEMENT_ITERATIONS, SamPtOptions
from .vos import segment_video

SECTION = "Video object segmentation (DAVIS 2017) and video instance segmentation (UVO)"
# RepViT-SAM paper / README, video object segmentation on DAVIS 2017 val with SAM-PT.
PAPER_JF = {"vit_h": 77.4, "vit_b": 71.3, "mobilesam": 71.1, "repvit": 73.5}
PAPER_J = {"vit_h": 74.6, "vit_b": 68.5, "mobilesam": 68.6, "repvit": 71.0}
PAPER_F = {"vit_h": 80.2, "vit_b": 74.1, "mobilesam": 73.6, "repvit": 76.1}
PROTOCOL_TRACKER = "pips"  # SAM-PT v1, whose numbers the paper reports (see protocol.py)
TRACKER_NOTES = {
    "lk": "BASELINE TRACKER: Lucas-Kanade (weight-free), not SAM-PT's PIPS; not comparable to the paper",
    "cotracker": "TRACKER: CoTracker (SAM-PT's current default), not PIPS of SAM-PT v1 that the paper reports",
}


class DavisTask(Task):
    name = "davis"
    description = "DAVIS 2017 val semi-supervised VOS with SAM-PT (point tracking + SAM), J&F"
    columns = (
        Column("J&F", "J&F", SECTION, paper=PAPER_JF),
        Column("J", "J", SECTION, paper=PAPER_J),
        Column("F", "F", SECTION, paper=PAPER_F),
    )
    # The bundled 5-frame clip, the weight-free tracker and 3 refinement iterations (as SAM-PT ran MobileSAM): about
    # 25 s on 2 CPU cores with untrained RepViT-SAM.
    demo_args = ("--tracker", "lk", "--refinement-iterations", "3")
    example_metric = "the video's J&F (official J and F over its objects and scored frames)"

    def __init__(self, params: dict[str, Any]):
        super().__init__(params)
        self.options = None
        if params.get("masks_from") == "SAM-PT":
            self.options = SamPtOptions(**{k: params[k] for k in SamPtOptions.__dataclass_fields__})
        self._tracker = LazyTracker()

    def variant(self) -> str | None:
        """The choices that differ from SAM-PT v1's defaults, e.g. 'lk' or 'lk.refine3' (None: the defaults).
        Runs with other settings get their own results file and a labelled table row."""
        if self.options is None:
            return None
        tracker = self.params["tracker"]["tracker"]
        labels = [] if tracker == PROTOCOL_TRACKER else [tracker]
        if self.options.refinement_iterations != REFINEMENT_ITERATIONS:
            labels.append(f"refine{self.options.refinement_iterations}")
        if self.options.positive_points != POSITIVE_POINTS_FOR_TRACKER[tracker]:
            labels.append(f"pos{self.options.positive_points}")
        if self.params["source_resolution"] != "480p":
            labels.append(f"src-{self.params['source_resolution']}")
        return ".".join(labels) or None

    def paper_comparable(self) -> bool:
        """SAM-PT with PIPS, as the paper (any refinement count: SAM-PT itself ran MobileSAM with 3); another
        tracker is not the paper's protocol."""
        return self.options is None or self.params["tracker"]["tracker"] == PROTOCOL_TRACKER

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("davis (SAM-PT)")
        add_tracker_arguments(group)
        group.add_argument("--refinement-iterations", type=int, default=REFINEMENT_ITERATIONS,
                           help="SAM-PT's iterative refinement passes per frame and object (SAM-PT ran MobileSAM "
                                "with 3)")  # fmt: skip
        group.add_argument("--positive-points", type=int,
                           help="positive query points per object (default: SAM-PT's for the tracker: pips 8, "
                                "cotracker 16, lk 8)")  # fmt: skip
        group.add_argument("--source-resolution", choices=SOURCE_RESOLUTIONS, default="480p",
                           help="frames SAM-PT starts from, before resizing to 1024 px: 480p, or full "
                                "(JPEGImages/Full-Resolution, as SAM-PT)")  # fmt: skip

    @classmethod
    def params_from_args(cls, args: argparse.Namespace) -> dict[str, Any]:
        if getattr(args, "predictions", None) is not None:
            return {"masks_from": "predictions", "predictions_dir": str(args.predictions)}
        return cls.sam_pt_params(args.tracker, args.tracker_checkpoint, args.refinement_iterations,
                                 args.positive_points, args.source_resolution)  # fmt: skip

    @staticmethod
    def sam_pt_params(tracker: str = PROTOCOL_TRACKER, tracker_checkpoint: Path | None = None,
                      refinement_iterations: int = REFINEMENT_ITERATIONS, positive_points: int | None = None,
                      source_resolution: str = "480p") -> dict[str, Any]:  # fmt: skip
        """Every protocol parameter of a SAM-PT run (checks that the tracker's weights are there)."""
        options = SamPtOptions(
            positive_points=positive_points or POSITIVE_POINTS_FOR_TRACKER[tracker],
            refinement_iterations=refinement_iterations,
        )
        params = {"masks_from": "SAM-PT", "protocol": "SAM-PT v1 (SysCV/sam-pt c17ab94), DAVIS 2017 val",
                  "source_resolution": source_resolution, **options.to_params(),
                  "tracker": tracker_params(tracker, tracker_checkpoint)}  # fmt: skip
        if tracker in TRACKER_NOTES:
            params["note"] = TRACKER_NOTES[tracker]
        return params

    def load_dataset(self, data_root: Path) -> Dataset:
        need_frames = self.options is not None
        videos = load_davis_videos(data_root, self.params.get("source_resolution", "480p"), need_frames)
        samples = [Sample(video.name, video) for video in videos]
        return Dataset(name="DAVIS 2017", split="val", root=find_davis_root(data_root), samples=samples,
                       files=dataset_files(videos))  # fmt: skip

    def tracker(self, device) -> PointTracker:
        return self._tracker.get(self.params["tracker"], device)

    def load_inputs(self, sample: Sample) -> np.ndarray:
        return np.stack([read_working_frame(path) for path in sample.data.frame_paths])

    def predict(self, model: PromptModel, sample: Sample, frames: np.ndarray) -> dict:
        video: DavisVideo = sample.data
        sequence = video.sequence
        n_objects = count_objects(sequence)
        first_source = read_annotation(video.first_annotation, video.first_annotation_format)
        first_masks = [resize_mask_nearest(first_source == k, frames.shape[1:3]) for k in range(1, n_objects + 1)]
        first_ids = sequence.read_annotation(sequence.frame_names[0])
        result = segment_video(model, self.tracker(model.device), frames, first_masks, first_ids, self.options)
        kept = [[iou is not None and iou >= self.options.iou_threshold for iou in frame] for frame in result.ious[1:]]
        return {
            "masks": result.masks,
            "frame_names": list(sequence.frame_names),
            "num_objects": n_objects,
            "working_size": list(frames.shape[1:3]),
            "ious": result.ious,
            "masks_kept_per_object": [int(sum(column)) for column in zip(*kept)] if kept else [0] * n_objects,
            "query_points": result.query_points,
            "trajectories": result.trajectories,
            "visibilities": result.visibilities,
        }

    def evaluator(self) -> Evaluator:
        return DavisEvaluator()

    def read_external_prediction(self, directory: Path, sample: Sample) -> dict:
        """A DAVIS results folder (<DIR>/<sequence>/<frame>.png, palette or grayscale id maps): the scored frames
        only (all but the first and the last, as the official code reads them)."""
        sequence = sample.data.sequence
        names = scored_frames(sequence.frame_names)
        results = ResultsFolder(Path(directory))
        results.check_frames(sequence.name, names)
        masks = [results.read(sequence.name, name) for name in names]
        return {"masks": np.stack(masks) if masks else np.zeros((0, 1, 1), np.uint8), "frame_names": list(names)}

    def example_score(self, sample: Sample, prediction: dict) -> float:
        """J&F of this video alone (examples.py), on the official 0-1 scale."""
        return examples.video_jf(sample.data, prediction)

    def draw_example(self, sample: Sample, prediction: dict) -> dict:
        return examples.draw(sample.data, prediction, self.params.get("positive_points"))
