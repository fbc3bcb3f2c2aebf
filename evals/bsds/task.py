"""`--task bsds`: zero-shot edge detection on BSDS500 (SAM paper section 7.2, appendix D.2), ODS / OIS / AP / R50.

    python run_eval.py --task bsds --model repvit                      # 200 test images
    python run_eval.py --task bsds --model mine --predictions DIR      # any method's maps: DIR/<name>.{mat,png,npy}

A sample is an image; the protocol (edges.py) turns 768 point-prompted masks into one soft edge map, stored per
image; the metric is the BSDS boundary benchmark (image_evaluation.py, summary.py) over all images at the end,
spread over the CPU cores. `--tables` draws the precision-recall figure of every run (results/bsds/pr_curves.png).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..base import Column, Dataset, DatasetLayoutError, Evaluator, Requirement, Sample, Task
from ..images import read_rgb
from ..paper import paper_values
from ..params import TaskParams, evaluation_only
from .dataset import BSDS500_URL, CANONICAL_ROOT, find_bsds, read_bsds
from .edge_params import EdgeParams
from .protocol import DEFAULT_MAX_DIST, DEFAULT_THRESHOLD_COUNT

# The protocol (torch), the benchmark (numba, scipy) and the figures (matplotlib) are imported where they are used,
# so that the command line starts without them.
if TYPE_CHECKING:
    from models.prompt_model import PromptModel

SECTION = "Zero-shot edge detection (BSDS500)"
# The paper's numbers (RepViT-SAM README, "Zero-shot edge detection" table) are in evals/paper_results.csv.
PAPER = {key: paper_values("bsds", key) for key in ("ODS", "OIS", "AP")}
# EdgeParams fields exposed on the command line as --bsds-<field with dashes>.
CLI_EDGE_PARAMS = ("points_per_side", "points_per_batch", "nms_iou", "boundary", "boundary_width", "apply_edge_nms")


@dataclass(frozen=True)
class BsdsParams(TaskParams):
    split: str = "test"
    edges: EdgeParams = field(default_factory=EdgeParams)  # the protocol (edge_params.py)
    # The benchmark's (protocol.py): scoring only, the stored edge maps stay valid when they change.
    thresholds: int = evaluation_only(DEFAULT_THRESHOLD_COUNT)
    max_dist: float = evaluation_only(DEFAULT_MAX_DIST)
    thin: bool = evaluation_only(True)
    workers: int | None = evaluation_only(None)  # benchmark processes (None: one per core)


class BsdsTask(Task):
    name = "bsds"
    description = "BSDS500 zero-shot edge detection, boundary benchmark ODS / OIS / AP / R50"
    columns = (
        *(Column(key, key, SECTION, PAPER[key], digits=3, unit="0-1") for key in ("ODS", "OIS", "AP")),
        Column("R50", "R50", SECTION, digits=3, unit="0-1"),
    )
    samples_name = "images"
    # Demo: 8x8 points (192 masks) instead of 16x16, so that the bundled 5 images take about a minute on CPU.
    demo_args = ("--bsds-points-per-side", "8", "--bsds-points-per-batch", "16")
    params_type = BsdsParams
    params: BsdsParams
    example_metric = "per-image F (the bench's best F over thresholds, eval_bdry_img.txt)"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("bsds")
        defaults = EdgeParams()
        group.add_argument("--bsds-split", default="test", help="BSDS500 split (the paper: test, 200 images)")
        group.add_argument("--bsds-points-per-side", type=int, default=defaults.points_per_side, help="point grid (paper: 16)")
        group.add_argument("--bsds-points-per-batch", type=int, default=defaults.points_per_batch, help="points per decoder call")
        group.add_argument("--bsds-nms-iou", type=float, default=defaults.nms_iou, help="box NMS threshold on the masks")
        group.add_argument("--bsds-boundary", choices=("inner", "outer", "both"), default=defaults.boundary,
                           help="which pixels are a mask's 'outer boundary' (evals/bsds/edges.py)")  # fmt: skip
        group.add_argument("--bsds-boundary-width", type=int, default=defaults.boundary_width,
                           help="width in pixels of the mask boundary band where edges are kept")  # fmt: skip
        group.add_argument("--bsds-no-edge-nms", dest="bsds_apply_edge_nms", action="store_false",
                           help="skip the final edge NMS (thinning)")  # fmt: skip
        group.add_argument("--bsds-thresholds", type=int, default=DEFAULT_THRESHOLD_COUNT, help="benchmark thresholds")
        group.add_argument("--bsds-max-dist", type=float, default=DEFAULT_MAX_DIST, help="match tolerance, fraction of the diagonal")
        group.add_argument("--bsds-workers", type=int, help="processes for the benchmark (default: one per core)")

    @classmethod
    def params_from_args(cls, args: argparse.Namespace) -> BsdsParams:
        edges = EdgeParams(**{name: getattr(args, f"bsds_{name}") for name in CLI_EDGE_PARAMS})
        return BsdsParams(split=args.bsds_split, edges=edges, thresholds=args.bsds_thresholds,
                          max_dist=args.bsds_max_dist, workers=args.bsds_workers)  # fmt: skip

    def variant(self) -> str | None:
        """Runs with protocol settings other than the paper's (a coarser grid, other NMS ...) are labelled."""
        paper = EdgeParams().to_dict()
        edges = self.params.edges.to_dict()
        changed = [name for name in CLI_EDGE_PARAMS if edges[name] != paper[name]]
        if self.params.thresholds != DEFAULT_THRESHOLD_COUNT or self.params.max_dist != DEFAULT_MAX_DIST:
            changed.append("bench")
        changed = [name for name in changed if name != "points_per_batch"]  # speed only
        return "custom-" + "-".join(changed) if changed else None

    def variant_label(self) -> str | None:
        """The settings `variant` names, in words: "8x8 point grid (paper: 16x16)", "no edge NMS", ..."""
        if self.variant() is None:
            return None
        edges, paper = self.params.edges.to_dict(), EdgeParams().to_dict()
        grid = paper["points_per_side"]
        words = {
            "points_per_side": lambda n: f"{n}x{n} point grid (paper: {grid}x{grid})",
            "nms_iou": lambda v: f"mask NMS at IoU {v:g} (default: {paper['nms_iou']:g})",
            "boundary": lambda v: f"'{v}' mask boundary (default: {paper['boundary']})",
            "boundary_width": lambda v: f"boundary width {v} (default: {paper['boundary_width']})",
            "apply_edge_nms": lambda v: "no edge NMS (thinning)" if not v else "edge NMS (thinning)",
        }  # fmt: skip
        parts = [words[name](edges[name]) for name in words if edges[name] != paper[name]]
        if self.params.thresholds != DEFAULT_THRESHOLD_COUNT:
            parts.append(f"benchmark at {self.params.thresholds} thresholds (paper: {DEFAULT_THRESHOLD_COUNT})")
        if self.params.max_dist != DEFAULT_MAX_DIST:
            parts.append(f"match distance {self.params.max_dist:g} (paper: {DEFAULT_MAX_DIST:g})")
        return ", ".join(parts)

    def requirements(self, data_root: Path) -> list[Requirement]:
        def present() -> bool:
            try:
                return find_bsds(data_root, self.params.split) is not None
            except DatasetLayoutError:
                return False

        return [Requirement(f"BSDS500 ({self.params.split} split: images and groundTruth)",
                            Path(data_root) / CANONICAL_ROOT, f"{BSDS500_URL} (unpack into {data_root})", present)]  # fmt: skip

    def load_dataset(self, data_root: Path) -> Dataset:
        root, images = read_bsds(data_root, self.params.split)
        samples = [Sample(image.name, image) for image in images]
        files = [f for image in images for f in image.files]
        return Dataset(name="BSDS500", split=self.params.split, root=root, samples=samples, files=files)

    def sample_files(self, sample: Sample) -> list[Path]:
        return [sample.data.image]

    def load_inputs(self, sample: Sample) -> np.ndarray:
        return read_rgb(sample.data.image)

    def predict(self, model: PromptModel, sample: Sample, image: np.ndarray) -> dict:
        from .edges import sam_edge_map

        return {"edges": sam_edge_map(model, image, self.params.edges)}

    def read_external_prediction(self, directory: Path, sample: Sample) -> dict:
        """A soft edge map (.png 8-bit, .npy or .mat float), a ucm2 .mat or a .mat cell of segmentations, as the
        official bench reads them (io.py)."""
        from .io import find_prediction, read_prediction

        return {"edges": read_prediction(find_prediction(directory, sample.id))}

    def evaluator(self) -> Evaluator:
        from .evaluator import BoundaryEvaluator

        return BoundaryEvaluator(self.params.thresholds, self.params.max_dist, self.params.workers)

    @classmethod
    def write_figures(cls, results: dict[str, dict], directory: Path) -> list[Path]:
        from ..tables import row_label
        from .figures import write_pr_figure

        curves = {row_label(run, result): result["metrics"] for run, result in sorted(results.items())}
        return [write_pr_figure(curves, directory / "pr_curves.png")] if curves else []

    def example_score(self, sample: Sample, prediction: dict) -> float:
        """The bench's per-image F at the run's thresholds (examples.py): the run's `per_sample` F of the image."""
        from . import examples

        params = self.params
        return examples.image_f(prediction["edges"], sample.data.ground_truth, params.thresholds,
                                params.max_dist, params.thin)  # fmt: skip

    def draw_example(self, sample: Sample, prediction: dict) -> dict:
        from . import examples

        return examples.draw(sample.data.image, sample.data.ground_truth, prediction["edges"])
