"""`--task davis`: DAVIS 2017 val semi-supervised VOS with SAM-PT, J&F / J / F (the paper's video table).

    python run_eval.py --task davis --model repvit --tracker-checkpoint weights/pips/reference_model
    python run_eval.py --task davis --model mobilesam --refinement-iterations 3     # as SAM-PT ran MobileSAM
    python run_eval.py --task davis --model repvit --tracker lk                     # weight-free baseline, labelled
    python run_eval.py --task davis --model osvos --predictions RESULTS_DIR         # a DAVIS results folder
    python run_eval.py --task davis --model sam2.1_hiera_t --vos-protocol sam2      # SAM 2's own propagation
    python -m evals.davis.export_results results/davis/repvit.predictions OUT_DIR    # stored masks -> PNGs

Protocol: SAM-PT v1 (SysCV/sam-pt c17ab94), its core shared with UVO in evals/protocols/sam_pt (every parameter and
its source in options.py): query points from the first-frame masks (query_points.py), tracked by a point tracker
(evals/trackers; PIPS in SAM-PT v1), SAM on every frame from the tracked points with iterative refinement
(segment.py), objects merged into one id map at 480p (merge.py), all per video in vos.py. A sample is a sequence
(id = its name); its stored prediction is the id maps of all its frames (uint8 T x H x W, the DAVIS results format
in memory) plus per-frame IoUs, query points and tracks. The metric is the official davis2017-evaluation's
(evaluate.py, evaluator.py).

`--vos-protocol sam2` (a named variant, for video models: SAM 2): the first-frame masks as prompts, propagated by the
model's own video predictor (sam2_vos.py, SAM 2's tools/vos_inference.py); its stored prediction is the id maps.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base import Column, Dataset, Evaluator, Requirement, Sample, Task
from ..errors import UsageError
from ..images import read_checked
from ..paper import paper_values
from ..params import TaskParams
from ..protocols.sam_pt.options import POSITIVE_POINTS_FOR_TRACKER, REFINEMENT_ITERATIONS, SamPtOptions, sam_pt_notes
from ..trackers import LazyTracker, TrackerSettings, tracker_params, tracker_requirements
from ..trackers.options import add_tracker_arguments, tracker_notes
from . import examples
from .dataset import (
    SOURCE_RESOLUTIONS,
    DavisVideo,
    dataset_files,
    davis_requirements,
    find_davis_root,
    load_davis_videos,
)
from .evaluate import count_objects, scored_frames
from .evaluator import DavisEvaluator
from .io import ResultsFolder, read_annotation
from .sam2_vos import PROTOCOL as SAM2_VOS_PROTOCOL
from .sam2_vos import Sam2VosOptions

# The command line imports this module for its options: torch and segment_anything (sam_pt's frames.py, vos.py) are imported
# in the methods that run the protocol.
if TYPE_CHECKING:
    from models.prompt_model import PromptModel
    from models.capabilities import Capabilities

    from ..trackers import PointTracker

SECTION = "Video object segmentation (DAVIS 2017) and video instance segmentation (UVO)"
# The paper's numbers (video object segmentation on DAVIS 2017 val with SAM-PT, in %): evals/paper_results.csv.
PAPER_JF, PAPER_J, PAPER_F = (paper_values("davis", key) for key in ("J&F", "J", "F"))
TRACKER_NAMES = {"pips": "PIPS", "lk": "LK", "cotracker": "CoTracker"}  # for the run's label
PROTOCOL_TRACKER = "pips"  # SAM-PT v1, whose numbers the paper reports (see evals/protocols/sam_pt/options.py)
SAM_PT_PROTOCOL = "SAM-PT v1 (SysCV/sam-pt c17ab94), DAVIS 2017 val"
# --vos-protocol: how masks are made from the first-frame annotation (the paper's rows: SAM-PT).
VOS_PROTOCOLS = {"sam-pt": "SAM-PT", "sam2": "SAM 2 VOS"}  # option -> DavisParams.masks_from
PREDICTIONS = "predictions"  # masks_from of a run scoring a results folder (--predictions)


@dataclass(frozen=True)
class DavisParams(TaskParams):
    masks_from: str = VOS_PROTOCOLS["sam-pt"]  # a VOS_PROTOCOLS value, or PREDICTIONS
    source_resolution: str = "480p"  # the frames SAM-PT starts from (SOURCE_RESOLUTIONS)
    sam_pt: SamPtOptions | None = None  # masks_from SAM-PT
    tracker: TrackerSettings | None = None  # masks_from SAM-PT: the tracker's settings (evals.trackers.tracker_params)
    sam2_vos: Sam2VosOptions | None = None  # masks_from SAM 2 VOS
    predictions_dir: str | None = None  # masks_from PREDICTIONS

    @classmethod
    def from_dict(cls, recorded: dict[str, Any]) -> DavisParams:
        # Results written before the parameters were typed recorded SAM-PT's options beside the others.
        if recorded.get("masks_from") == VOS_PROTOCOLS["sam-pt"] and "sam_pt" not in recorded:
            options = {k: v for k, v in recorded.items() if k in SamPtOptions.__dataclass_fields__}
            recorded = {**recorded, "sam_pt": options}
        return super().from_dict(recorded)


class DavisTask(Task):
    name = "davis"
    description = "DAVIS 2017 val semi-supervised VOS with SAM-PT (point tracking + SAM), J&F"
    columns = (
        Column("J&F", "J&F", SECTION, paper=PAPER_JF, unit="%"),
        Column("J", "J", SECTION, paper=PAPER_J, unit="%"),
        Column("F", "F", SECTION, paper=PAPER_F, unit="%"),
    )
    samples_name = "videos"
    # The bundled 5-frame clip, the weight-free tracker and 3 refinement iterations (as SAM-PT ran MobileSAM): about
    # 25 s on 2 CPU cores with untrained RepViT-SAM.
    demo_args = ("--tracker", "lk", "--refinement-iterations", "3")
    example_metric = "the video's J&F (official J and F over its objects and scored frames)"

    params_type = DavisParams
    params: DavisParams

    def __init__(self, params: DavisParams | None = None):
        super().__init__(params)
        # SAM-PT's options; None for the other protocols and for --predictions
        self.options = self.params.sam_pt if self.params.masks_from == VOS_PROTOCOLS["sam-pt"] else None
        self.sam2_vos = self.params.masks_from == VOS_PROTOCOLS["sam2"]
        self._tracker = LazyTracker()

    def protocol_notes(self) -> dict[str, str]:
        if self.sam2_vos:
            return {"protocol": SAM2_VOS_PROTOCOL}
        if self.options is None:
            return {}
        return {"protocol": SAM_PT_PROTOCOL, **sam_pt_notes(), **tracker_notes(self.params.tracker.tracker)}

    def variant(self) -> str | None:
        """The choices that differ from SAM-PT v1's defaults, e.g. 'lk' or 'lk.refine3' (None: the defaults).
        Runs with other settings get their own results file and a labelled table row."""
        if self.sam2_vos:
            return "sam2vos"
        if self.options is None:
            return None
        tracker = self.params.tracker.tracker
        labels = [] if tracker == PROTOCOL_TRACKER else [tracker]
        if self.options.refinement_iterations != REFINEMENT_ITERATIONS:
            labels.append(f"refine{self.options.refinement_iterations}")
        if self.options.positive_points != POSITIVE_POINTS_FOR_TRACKER[tracker]:
            labels.append(f"pos{self.options.positive_points}")
        if self.params.source_resolution != "480p":
            labels.append(f"src-{self.params.source_resolution}")
        return ".".join(labels) or None

    def variant_label(self) -> str | None:
        """`variant` in words: "LK tracker (paper: PIPS), 3 refinement iterations (SAM-PT: 12)", ..."""
        if self.variant() is None:
            return None
        if self.sam2_vos:
            return "SAM 2's own propagation from the first-frame masks (tools/vos_inference.py), not SAM-PT"
        tracker, options, parts = self.params.tracker.tracker, self.options, []
        if tracker != PROTOCOL_TRACKER:
            parts.append(f"{TRACKER_NAMES.get(tracker, tracker)} tracker (paper: {TRACKER_NAMES[PROTOCOL_TRACKER]})")
        if options.refinement_iterations != REFINEMENT_ITERATIONS:
            parts.append(f"{options.refinement_iterations} refinement iterations (SAM-PT: {REFINEMENT_ITERATIONS})")
        if options.positive_points != POSITIVE_POINTS_FOR_TRACKER[tracker]:
            parts.append(f"{options.positive_points} positive points per object "
                         f"(SAM-PT: {POSITIVE_POINTS_FOR_TRACKER[tracker]})")  # fmt: skip
        if self.params.source_resolution != "480p":
            parts.append(f"{self.params.source_resolution}-resolution source frames (paper: 480p)")
        return ", ".join(parts)

    def paper_comparable(self) -> bool:
        """SAM-PT with PIPS, as the paper (any refinement count: SAM-PT itself ran MobileSAM with 3); another
        tracker is not the paper's protocol, nor is SAM 2's propagation."""
        if self.sam2_vos:
            return False
        return self.options is None or self.params.tracker.tracker == PROTOCOL_TRACKER

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("davis (SAM-PT)")
        group.add_argument("--vos-protocol", choices=list(VOS_PROTOCOLS), default="sam-pt",
                           help="how masks follow the first-frame annotation: sam-pt (the paper's: point tracking "
                                "and prompts on every frame) or sam2 (the model's own video predictor, SAM 2's "
                                "tools/vos_inference.py; SAM 2 models only)")  # fmt: skip
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
    def params_from_args(cls, args: argparse.Namespace) -> DavisParams:
        if getattr(args, "predictions", None) is not None:
            return DavisParams(masks_from=PREDICTIONS, predictions_dir=str(args.predictions))
        if args.vos_protocol == "sam2":
            sam_pt_only = [f"--{name.replace('_', '-')}" for name, default in
                           (("refinement_iterations", REFINEMENT_ITERATIONS), ("positive_points", None),
                            ("source_resolution", "480p")) if getattr(args, name) != default]  # fmt: skip
            if sam_pt_only:
                raise UsageError(f"{', '.join(sam_pt_only)}: SAM-PT options; --vos-protocol sam2 has none (it reads "
                                 "the 480p frames, as SAM 2's README runs it)")  # fmt: skip
            return DavisParams(masks_from=VOS_PROTOCOLS["sam2"], sam2_vos=Sam2VosOptions())
        problems = []
        if args.refinement_iterations < 0:
            problems.append(f"--refinement-iterations must be 0 or more (got {args.refinement_iterations})")
        if args.positive_points is not None and args.positive_points < 1:
            problems.append(f"--positive-points must be at least 1 (got {args.positive_points})")
        if problems:
            raise UsageError("; ".join(problems))
        # Missing tracker weights are left to `requirements`, listed with everything else missing.
        return cls.sam_pt_params(args.tracker, args.tracker_checkpoint, args.refinement_iterations,
                                 args.positive_points, args.source_resolution, require_weights=False)  # fmt: skip

    @staticmethod
    def sam_pt_params(tracker: str = PROTOCOL_TRACKER, tracker_checkpoint: Path | None = None,
                      refinement_iterations: int = REFINEMENT_ITERATIONS, positive_points: int | None = None,
                      source_resolution: str = "480p", require_weights: bool = True) -> DavisParams:  # fmt: skip
        """Every protocol parameter of a SAM-PT run (checks that the tracker's weights are there, unless
        `require_weights` is False: then they are recorded as missing and `requirements` reports them)."""
        options = SamPtOptions(
            positive_points=positive_points or POSITIVE_POINTS_FOR_TRACKER[tracker],
            refinement_iterations=refinement_iterations,
        )
        return DavisParams(source_resolution=source_resolution, sam_pt=options,
                           tracker=tracker_params(tracker, tracker_checkpoint, require_weights))  # fmt: skip

    def requirements(self, data_root: Path) -> list[Requirement]:
        """The DAVIS archives (the full-resolution one too with --source-resolution full), and the tracker's weights and
        code (SAM-PT); or the results folder scored (--predictions)."""
        need_frames = self.params.masks_from != PREDICTIONS
        requirements = davis_requirements(data_root, self.params.source_resolution, need_frames)
        if self.options is not None:
            requirements += tracker_requirements(self.params.tracker)
        elif not need_frames:
            requirements.append(Requirement("DAVIS results folder (--predictions: <DIR>/<sequence>/<frame>.png)",
                                            Path(self.params.predictions_dir),
                                            "your method's results; a davis run's stored predictions become one with "
                                            "python -m evals.davis.export_results"))  # fmt: skip
        return requirements

    def capability_problems(self, capabilities: Capabilities) -> list[str]:
        """SAM-PT asks single masks only (multimask_output=False throughout): no choice among multimask outputs.
        It feeds low-res logits back (after its positive-points-only first pass, as it has a negative point per
        object, and in each refinement iteration), and its refinement prompts with the mask's box. SAM 2's protocol
        needs the model's video predictor."""
        if self.sam2_vos and not capabilities.video_propagation:
            return ["a video predictor that propagates masks with memory (--vos-protocol sam2: SAM 2 models)"]
        if self.options is None:
            return []
        problems, options = [], self.options
        uses = (["SAM-PT's second pass, with the negative point"] if options.negative_points else []) + (
            [f"SAM-PT's iterative refinement, --refinement-iterations {options.refinement_iterations}"]
            if options.refinement_iterations else [])  # fmt: skip
        if not capabilities.mask_input and uses:
            problems.append(f"mask input ({'; '.join(uses)})")
        if not capabilities.single_mask_output:
            problems.append("single-mask output (every SAM-PT call asks one mask, multimask_output=False)")
        if not capabilities.boxes and self.options.refinement_iterations:
            problems.append(f"box prompts (SAM-PT's iterative refinement, --refinement-iterations "
                            f"{self.options.refinement_iterations}; 0 needs none)")  # fmt: skip
        return problems

    def sample_files(self, sample: Sample) -> list[Path]:
        """The frames, the first-frame annotation the query points come from (source resolution) and the 480p one
        that is the output's frame 0 and size."""
        video: DavisVideo = sample.data
        if self.sam2_vos:
            return [*video.frame_paths, video.first_annotation]
        if self.options is None:
            return []
        first_480p = video.sequence.annotation_path(video.sequence.frame_names[0])
        return [*video.frame_paths, *dict.fromkeys([video.first_annotation, first_480p])]

    def load_dataset(self, data_root: Path) -> Dataset:
        need_frames = self.params.masks_from != PREDICTIONS
        videos = load_davis_videos(data_root, self.params.source_resolution, need_frames)
        samples = [Sample(video.name, video) for video in videos]
        return Dataset(name="DAVIS 2017", split="val", root=find_davis_root(data_root), samples=samples,
                       files=dataset_files(videos))  # fmt: skip

    def tracker(self, device) -> PointTracker:
        return self._tracker.get(self.params.tracker, device)

    def load_inputs(self, sample: Sample) -> np.ndarray | None:
        from ..protocols.sam_pt.frames import read_working_frame

        if self.sam2_vos:  # the official predictor reads the frames itself: check them whole here (DataError)
            for path in sample.data.frame_paths:
                read_checked(path)
            return None
        return np.stack([read_working_frame(path) for path in sample.data.frame_paths])

    def predict(self, model: PromptModel, sample: Sample, frames: np.ndarray) -> dict:
        from ..protocols.sam_pt.frames import resize_mask_nearest
        from ..protocols.sam_pt.vos import segment_video

        video: DavisVideo = sample.data
        sequence = video.sequence
        n_objects = count_objects(sequence)
        if self.sam2_vos:
            from .sam2_vos import segment_video as propagate

            first_ids = read_annotation(video.first_annotation, video.first_annotation_format)
            masks = propagate(model.video_predictor(), video.frame_paths, first_ids)
            return {"masks": masks, "frame_names": list(sequence.frame_names), "num_objects": n_objects}
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
        return examples.draw(sample.data, prediction, self.options.positive_points if self.options else None)
