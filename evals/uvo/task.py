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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..base import Column, Dataset, Evaluator, Requirement, Sample, Task
from ..errors import DataError, UsageError
from ..paper import paper_values
from ..params import TaskParams
from ..protocols.amg import AmgParams
from ..protocols.sam_pt.options import SamPtOptions, sam_pt_notes
from ..trackers import LazyTracker, TrackerSettings, tracker_params, tracker_requirements
from ..trackers.options import DEFAULT_TRACKER, add_tracker_arguments, tracker_notes
from .dataset import UvoVideo, annotations_path, load_uvo_videos, read_json, uvo_requirements, uvo_root
from .frames import read_working_frame
from .protocol import AMG_PARAMS, MAX_LONGER_SIDE, MAX_TRACKS, SAM_PT_VIS_OPTIONS, SHORTER_SIDE

# The command line imports this module for its options: torch, segment_anything and pycocotools (vis.py,
# ytvis_eval.py, examples.py) are imported in the methods that run the protocol and the metric.
if TYPE_CHECKING:
    from models.prompt_model import PromptModel
    from models.capabilities import Capabilities

    from ..trackers import PointTracker

SECTION = "Video object segmentation (DAVIS 2017) and video instance segmentation (UVO)"
# The paper's AR100 (video instance segmentation on UVO v1.0 with SAM-PT, in %): evals/paper_results.csv.
PAPER_AR100 = paper_values("uvo", "AR100")
TRACKER_NAMES = {"pips": "PIPS", "lk": "LK", "cotracker": "CoTracker"}  # for the run's label
PROTOCOL_TRACKER = DEFAULT_TRACKER  # pips: SAM-PT v1, whose numbers the paper reports
SAM_PT = "SAM-PT"  # masks_from of the paper's protocol
PREDICTIONS = "predictions"  # masks_from of a run scoring a results file (--predictions)


@dataclass(frozen=True)
class UvoParams(TaskParams):
    masks_from: str = SAM_PT  # or PREDICTIONS
    shorter_side: int = SHORTER_SIDE  # the working frames' size (frames.py)
    max_longer_side: int = MAX_LONGER_SIDE
    amg: AmgParams | None = None  # SAM_PT: the automatic mask generator's arguments on frame 0 (AMG_PARAMS)
    max_tracks: int = MAX_TRACKS
    sam_pt: SamPtOptions | None = None  # SAM_PT: SAM-PT's options (SAM_PT_VIS_OPTIONS for the paper's protocol)
    tracker: TrackerSettings | None = None  # SAM_PT: the tracker's settings (evals.trackers.tracker_params)
    predictions: str | None = None  # PREDICTIONS: the YouTube-VIS results file or its folder


class UvoTask(Task):
    name = "uvo"
    description = "UVO v1.0 dense val class-agnostic VIS with SAM-PT on SAM's automatic masks, AR100"
    columns = (Column("AR100", "UVO AR100", SECTION, paper=PAPER_AR100, digits=1, unit="%"),)
    samples_name = "videos"
    # Two generated 4-frame 96x128 videos, the weight-free tracker and an 8x8 AMG grid (not the protocol's 32x32):
    # a labelled variant that runs on CPU in seconds.
    demo_args = ("--tracker", "lk", "--uvo-amg-points-per-side", "8")
    example_metric = "mean over the ground-truth tracks of the best spatio-temporal IoU of a predicted track"

    params_type = UvoParams
    params: UvoParams

    def __init__(self, params: UvoParams | None = None):
        super().__init__(params)
        self._tracker = LazyTracker()
        self._external: tuple[str, dict[int, list[dict]]] | None = None

    @property
    def runs_sam_pt(self) -> bool:
        return self.params.masks_from == SAM_PT

    def protocol_notes(self) -> dict[str, str]:
        if not self.runs_sam_pt:
            return {}
        return {
            "protocol": "SAM-PT v1 VIS (SysCV/sam-pt c17ab94, vis_eval_sam_pt.yaml), UVO v1.0 dense val",
            "frames_resize": "PIL bilinear",
            **sam_pt_notes(),
            "frame_0": "SAM on it, scored",
            "track_score": "mean predicted IoU over all frames; -inf (ranked last) if some frame had no visible point",
            **tracker_notes(self.params.tracker.tracker),
        }  # fmt: skip

    def variant(self) -> str | None:
        """'lk', 'amg8', 'lk.amg8', ...: the choices that differ from SAM-PT v1's VIS protocol (None: none)."""
        if not self.runs_sam_pt:
            return None
        tracker = self.params.tracker.tracker
        labels = [] if tracker == PROTOCOL_TRACKER else [tracker]
        points = self.params.amg.points_per_side
        if points != AMG_PARAMS.points_per_side:
            labels.append(f"amg{points}")
        return ".".join(labels) or None

    def variant_label(self) -> str | None:
        """`variant` in words: "LK tracker (paper: PIPS), 8x8 point grid (SAM-PT: 32x32)"."""
        if self.variant() is None:
            return None
        tracker, parts = self.params.tracker.tracker, []
        if tracker != PROTOCOL_TRACKER:
            parts.append(f"{TRACKER_NAMES.get(tracker, tracker)} tracker (paper: {TRACKER_NAMES[PROTOCOL_TRACKER]})")
        points, paper_points = self.params.amg.points_per_side, AMG_PARAMS.points_per_side
        if points != paper_points:
            parts.append(f"{points}x{points} point grid (SAM-PT: {paper_points}x{paper_points})")
        return ", ".join(parts)

    def paper_comparable(self) -> bool:
        return not self.runs_sam_pt or self.variant() is None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("uvo (SAM-PT on SAM's automatic masks)")
        add_tracker_arguments(group)
        group.add_argument("--uvo-amg-points-per-side", type=int, default=AMG_PARAMS.points_per_side,
                           help="automatic mask generator grid on frame 0 (SAM-PT: 32; other values are a "
                                "labelled variant)")  # fmt: skip

    @classmethod
    def params_from_args(cls, args: argparse.Namespace) -> UvoParams:
        if getattr(args, "predictions", None) is not None:
            return UvoParams(masks_from=PREDICTIONS, predictions=str(args.predictions))
        # Missing tracker weights are left to `requirements`, listed with everything else missing.
        return cls.sam_pt_params(args.tracker, args.tracker_checkpoint, args.uvo_amg_points_per_side,
                                 require_weights=False)  # fmt: skip

    @staticmethod
    def sam_pt_params(tracker: str = PROTOCOL_TRACKER, tracker_checkpoint: Path | None = None,
                      amg_points_per_side: int = AMG_PARAMS.points_per_side,
                      require_weights: bool = True) -> UvoParams:  # fmt: skip
        """Every protocol parameter of a run (checks that the tracker's weights are there, unless `require_weights` is
        False: then they are recorded as missing and `requirements` reports them)."""
        if amg_points_per_side < 1:
            raise UsageError(f"--uvo-amg-points-per-side must be at least 1 (got {amg_points_per_side})")
        return UvoParams(amg=AMG_PARAMS.replace(points_per_side=amg_points_per_side), sam_pt=SAM_PT_VIS_OPTIONS,
                         tracker=tracker_params(tracker, tracker_checkpoint, require_weights))  # fmt: skip

    def requirements(self, data_root: Path) -> list[Requirement]:
        """The annotations, the frames (or the videos to extract them from) and the tracker's weights and code
        (SAM-PT); or the results file scored (--predictions)."""
        requirements = uvo_requirements(data_root, need_frames=self.runs_sam_pt)
        if self.runs_sam_pt:
            requirements += tracker_requirements(self.params.tracker)
        else:
            requirements.append(Requirement("YouTube-VIS results json (--predictions: the file, or a folder "
                                            "holding results.json)", self._results_path(), "your method's predictions"))
        return requirements

    def capability_problems(self, capabilities: Capabilities) -> list[str]:
        """SAM's automatic masks on frame 0 are the queries; SAM-PT feeds its first pass's low-res logits back after
        the positive points alone (each track has a negative point). No refinement (no boxes), and single masks only
        (multimask_output=False): the automatic mask generator's own multimask outputs are the model's business."""
        if not self.runs_sam_pt:
            return []
        problems = []
        if not capabilities.automatic_masks:
            problems.append("automatic masks (the queries: SAM's automatic mask generator on frame 0, as SAM-PT's VIS)")
        if not capabilities.mask_input and self.params.sam_pt.negative_points > 0:
            problems.append("mask input (SAM-PT's second pass, with the negative point)")
        if not capabilities.single_mask_output:
            problems.append("single-mask output (every SAM-PT call asks one mask, multimask_output=False)")
        return problems

    def sample_files(self, sample: Sample) -> list[Path]:
        """The frames, and the annotations json (the size the tracks are written at comes from it)."""
        if not self.runs_sam_pt:
            return []
        video: UvoVideo = sample.data
        return [*video.frame_paths, *([video.annotations_file] if video.annotations_file is not None else [])]

    def load_dataset(self, data_root: Path) -> Dataset:
        videos = load_uvo_videos(data_root, need_frames=self.runs_sam_pt)
        files = [annotations_path(data_root)]
        if self.runs_sam_pt:
            files += [path for video in videos for path in video.frame_paths]
        return Dataset(name="UVO v1.0 dense", split="val", root=uvo_root(data_root),
                       samples=[Sample(video.name, video) for video in videos], files=files)  # fmt: skip

    def tracker(self, device) -> PointTracker:
        return self._tracker.get(self.params.tracker, device)

    def load_inputs(self, sample: Sample) -> np.ndarray:
        return np.stack([read_working_frame(path) for path in sample.data.frame_paths])

    def predict(self, model: PromptModel, sample: Sample, frames: np.ndarray) -> dict:
        from .vis import segment_video_instances

        video: UvoVideo = sample.data
        result = segment_video_instances(model, self.tracker(model.device), frames, (video.height, video.width),
                                         self.params.sam_pt, self.params.amg, self.params.max_tracks)  # fmt: skip
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
        from .evaluator import UvoEvaluator

        return UvoEvaluator()

    def _results_path(self, directory: Path | str | None = None) -> Path:
        path = Path(directory if directory is not None else self.params.predictions)
        return path / "results.json" if path.is_dir() else path

    def read_external_prediction(self, directory: Path, sample: Sample) -> dict:
        """YouTube-VIS results (a json list of {video_id, score, category_id, segmentations: RLE or None per frame};
        `--predictions FILE`, or a folder holding results.json as SAM-PT's evaluator writes it)."""
        path = self._results_path(directory)
        if self._external is None or self._external[0] != str(path):
            results = read_json(path)
            if not isinstance(results, list):
                raise DataError(f"{path}: a YouTube-VIS results file is a list of {{video_id, score, segmentations}}, "
                                f"not a {type(results).__name__}")  # fmt: skip
            by_video: dict[int, list[dict]] = {}
            for index, result in enumerate(results):
                keys = result if isinstance(result, dict) else {}
                missing = [k for k in ("video_id", "score", "segmentations") if k not in keys]
                if missing:
                    raise DataError(f"{path}, result {index}: no {', '.join(missing)} (YouTube-VIS results: "
                                    "{video_id, score, segmentations: one RLE or null per frame})")  # fmt: skip
                if not isinstance(result["segmentations"], list) or not isinstance(result["score"], (int, float)):
                    raise DataError(f"{path}, result {index}: 'segmentations' must be a list (one RLE or null per "
                                    "frame) and 'score' a number")  # fmt: skip
                by_video.setdefault(result["video_id"], []).append(result)
            self._external = (str(path), by_video)
        results = self._external[1].get(sample.data.id, [])
        return {"video_id": sample.data.id, "segmentations": [r["segmentations"] for r in results],
                "scores": [r["score"] for r in results]}  # fmt: skip

    def example_score(self, sample: Sample, prediction: dict) -> float | None:
        """Mean best video IoU of the video's objects (examples.py); None without ground truth."""
        from . import examples

        return examples.best_iou_recall(sample.data, prediction)

    def draw_example(self, sample: Sample, prediction: dict) -> dict:
        from . import examples

        return examples.draw(sample.data, prediction, self.params.sam_pt.positive_points if self.params.sam_pt else None)
