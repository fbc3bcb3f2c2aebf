"""`--task sod`: zero-shot salient object segmentation on DUTS-TE (5,019 images), MAE.

    python run_eval.py --task sod --model repvit                             # oracle (the paper's protocol)
    python run_eval.py --task sod --model repvit --sod-protocol saliency     # GT-free saliency map (ours)
    python run_eval.py --task sod --model other --predictions DIR            # DIR/<stem>.png saliency maps
    python run_eval.py --task sod --model vit_h --predictions OUT --sod-protocol oracle  # SAM-Not-Perfect amg.py
    python run_eval.py --task sod --model repvit --data-root /data/sod --sod-dataset ECSSD

A sample is an image (id = file stem). Its stored prediction is the final map, uint8 0..255 at the mask's size
(what the metric reads: `saliency`), with small JSON metadata (number of AMG masks; oracle: the chosen mask's
index, Dice, scores; saliency: the masks' weights). The protocols and their sources are in protocols.py, the
metric in evaluator.py, the dataset layout in dataset.py.

The oracle protocol selects each image's mask WITH THE GROUND TRUTH: its number is an upper bound, recorded as
`"oracle": true` in the protocol parameters and the metrics; saliency runs are a different row, never mixed.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.capabilities import Capabilities

from ..base import Column, Dataset, Evaluator, Requirement, Sample, Task
from ..errors import DataError, UsageError
from ..paper import paper_values
from ..params import TaskParams, evaluation_only
from ..protocols.amg import AmgParams
from .amg_folders import read_amg_folder, require_scores
from .dataset import (
    DEFAULT_DATASET,
    DUTS_TE_URL,
    find_sod_folders,
    load_sod_dataset,
    mask_size,
    read_mask_reference,
    read_rgb,
)
from .folders import read_gray
from .protocols import (
    AMG_PARAMS,
    BOUNDARY_CONNECTIVITY_SIGMA,
    EXTERNAL,
    NO_MASK_MAE,
    PROTOCOLS,
    REFERENCE_CODE,
    mask_to_map,
    quantize,
    saliency_map,
    select_best_dice_mask,
)

# The metric (scipy) and the report's examples (segment_anything) are imported where they are used, so that the
# command line starts without them.
if TYPE_CHECKING:
    from models.prompt_model import PromptModel

SECTION = "Salient object segmentation (DUTS-TE) and anomaly segmentation (MVTec AD)"
# The paper's MAE (zero-shot salient object segmentation on DUTS-TE, 0-1, lower is better): evals/paper_results.csv.
PAPER_MAE = paper_values("sod", "mae")
PROTOCOL_WORDS = {"oracle": "oracle protocol (mask chosen with the ground truth)",
                  "saliency": "saliency protocol (no ground truth)"}  # fmt: skip
DEMO_POINTS_PER_SIDE = 4  # demo only (CPU, untrained weights): 16 points instead of 32 x 32

ORACLE_NOTE = (
    "ORACLE (upper bound): per image, the AMG mask with the best Dice against the ground truth is kept (Ji et al. "
    "2023, SAM-Not-Perfect scripts/sam_dice_f1_mae.py); it looks at the ground truth, it is not a saliency method. "
    "The RepViT-SAM paper does not name its salient-object protocol; this is the most plausible published one."
)
SALIENCY_NOTE = (
    "GT-free saliency map (this suite's rule, not the paper's): weighted vote of the AMG masks, weight = predicted "
    "IoU x stability score x exp(-BndCon^2 / 2) (boundary connectivity, Zhu et al. CVPR 2014), divided by its max"
)


@dataclass(frozen=True)
class SodParams(TaskParams):
    """Defaults: the paper's protocol (oracle on DUTS-TE, SAM's automatic mask generator with its defaults)."""

    dataset: str = DEFAULT_DATASET
    protocol: str = "oracle"  # oracle, saliency (from AMG masks) or EXTERNAL (finished maps, --predictions DIR)
    oracle: bool = True
    # SamAutomaticMaskGenerator's arguments (AMG_PARAMS: SAM-Not-Perfect amg.py's, every default); None: the AMG
    # masks are read from `predictions_dir` (SAM-Not-Perfect's amg.py output) or the maps are finished (EXTERNAL)
    amg: AmgParams | None = AMG_PARAMS
    predictions_dir: str | None = None
    no_mask_mae: float | None = NO_MASK_MAE  # oracle: an image's MAE when the AMG finds no mask
    boundary_connectivity_sigma: float | None = None  # saliency: the weight's sigma (BOUNDARY_CONNECTIVITY_SIGMA)
    reported_mae: str = evaluation_only("ji2023")  # the MAE reported: "ji2023" (oracle) or "pysodmetrics"
    paper_comparable: bool = True


def sod_params(
    protocol: str = "oracle",
    dataset: str = DEFAULT_DATASET,
    amg: dict | None = None,
    predictions_dir: Path | None = None,
) -> SodParams:
    """Every parameter of a run. `protocol`: oracle, saliency or external (--predictions DIR of finished maps);
    `amg`: SamAutomaticMaskGenerator arguments overriding AMG_PARAMS (a name that is not one is a UsageError);
    `predictions_dir`: with oracle / saliency, SAM-Not-Perfect's amg.py output folders are read from it instead of
    running a model."""
    if protocol not in (*PROTOCOLS, EXTERNAL):
        raise UsageError(f"unknown SOD protocol {protocol!r}; known: {', '.join((*PROTOCOLS, EXTERNAL))}")
    amg_params = AMG_PARAMS.replace(**(amg or {}))
    common = dict(dataset=dataset, protocol=protocol, oracle=protocol == "oracle",
                  predictions_dir=None if predictions_dir is None else str(predictions_dir))  # fmt: skip
    if protocol == EXTERNAL:
        return SodParams(**common, amg=None, no_mask_mae=None, reported_mae="pysodmetrics", paper_comparable=False)
    if predictions_dir is None:
        if amg_params.points_per_side < 1 or amg_params.points_per_batch < 1:
            raise UsageError("--sod-amg-points-per-side and --sod-amg-points-per-batch must be positive")
        default_amg = amg_params.replace(points_per_batch=AMG_PARAMS.points_per_batch) == AMG_PARAMS  # speed only
    else:
        amg_params, default_amg = None, False  # unknown settings
    paper_comparable = protocol == "oracle" and dataset == DEFAULT_DATASET and default_amg
    if protocol == "oracle":
        return SodParams(**common, amg=amg_params, paper_comparable=paper_comparable)
    return SodParams(**common, amg=amg_params, no_mask_mae=None, boundary_connectivity_sigma=BOUNDARY_CONNECTIVITY_SIGMA,
                     reported_mae="pysodmetrics", paper_comparable=paper_comparable)  # fmt: skip


def sod_notes(params: SodParams) -> dict[str, Any]:
    """The protocol of a run in words (`Task.protocol_notes`; sources: protocols.py)."""
    if params.protocol == EXTERNAL:
        return {"maps": "<stem>.png, 8-bit, the mask's size"}
    if params.amg is not None:
        notes: dict[str, Any] = {"image_decoding": "cv2.imread, BGR -> RGB (SAM-Not-Perfect scripts/amg.py)"}
    else:
        notes = {"amg_masks_from": f"{params.predictions_dir}/<stem>/<i>.png + metadata.csv (SAM-Not-Perfect "
                                   "scripts/amg.py)"}  # fmt: skip
    if params.protocol == "oracle":
        return {
            **notes,
            "note": ORACLE_NOTE,
            "reference": REFERENCE_CODE + " scripts/amg.py, scripts/sam_dice_f1_mae.py",
            "selection": "best Dice (2 sum(gt pred) / (sum gt + sum pred + 1e-8)); strictly greater replaces, from 0; "
                         "ties: first in AMG output order",
            "gt_normalisation": "PIL convert('L'); gt / (gt.max() + 1e-8) > 0.5",
            "pred_normalisation": "mask * 255, PIL bilinear resize to the mask's size if different, min-max "
                                  "(/ 255 if constant)",
        }  # fmt: skip
    return {
        **notes,
        "note": SALIENCY_NOTE,
        "saliency_rule": {
            "weight": "predicted_iou * stability_score * exp(-BndCon^2 / (2 sigma^2))",
            "boundary_connectivity": "mask pixels on the 1-pixel image frame / sqrt(mask area) "
                                     "(Zhu et al. CVPR 2014, eq. 1)",
            "combination": "sum of weight x mask over the masks, divided by its maximum; no mask: zeros",
            "resize": "cv2.INTER_LINEAR to the mask's size when the image's differs",
            "quantisation": "rint(255 x) to uint8",
        },
    }  # fmt: skip


class SODTask(Task):
    name = "sod"
    description = "DUTS-TE salient object segmentation from SAM's automatic masks, MAE"
    columns = (Column("mae", "DUTS MAE", SECTION, paper=PAPER_MAE, higher_is_better=False, digits=3, unit="0-1"),)
    samples_name = "images"
    demo_args = ("--sod-amg-points-per-side", str(DEMO_POINTS_PER_SIDE))
    example_metric = "minus the image's MAE (the MAE the run reports, for this image alone)"

    params_type = SodParams
    params: SodParams

    def __init__(self, params: SodParams | None = None):
        super().__init__(params)
        self.protocol = self.params.protocol

    def protocol_notes(self) -> dict[str, Any]:
        return sod_notes(self.params)

    def variant(self) -> str | None:
        """oracle / saliency (labelled in every run name and table row), plus the dataset when not DUTS-TE and
        the AMG grid when not the default 32x32."""
        dataset = self.params.dataset
        if self.protocol == EXTERNAL:
            return None if dataset == DEFAULT_DATASET else dataset
        label = self.protocol if dataset == DEFAULT_DATASET else f"{self.protocol}-{dataset}"
        points = (self.params.amg or AMG_PARAMS).points_per_side
        return label if points == AMG_PARAMS.points_per_side else f"{label}-amg{points}"

    def variant_label(self) -> str | None:
        """`variant` in words: "oracle protocol (mask chosen with the ground truth), 4x4 point grid (paper: 32x32)"."""
        dataset, parts = self.params.dataset, []
        if self.protocol != EXTERNAL:
            parts.append(PROTOCOL_WORDS.get(self.protocol, f"{self.protocol} protocol"))
        if dataset != DEFAULT_DATASET:
            parts.append(f"dataset {dataset} (paper: {DEFAULT_DATASET})")
        points, paper_points = (self.params.amg or AMG_PARAMS).points_per_side, AMG_PARAMS.points_per_side
        if self.protocol != EXTERNAL and points != paper_points:
            parts.append(f"{points}x{points} point grid (paper: {paper_points}x{paper_points})")
        return ", ".join(parts) or None

    def paper_comparable(self) -> bool:
        return self.params.paper_comparable

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("sod")
        group.add_argument("--sod-dataset", default=DEFAULT_DATASET,
                           help="dataset folder under --data-root in the DUTS-TE layout (ECSSD, DUT-OMRON, HKU-IS, "
                                "PASCAL-S, ...; see evals/sod/dataset.py)")
        group.add_argument("--sod-protocol", choices=PROTOCOLS,
                           help="oracle: best-Dice AMG mask chosen with the ground truth (the paper's, an upper "
                                "bound); saliency: GT-free weighted vote of the AMG masks. Default: oracle with a "
                                "model; with --predictions, DIR holds finished <stem>.png maps unless a protocol "
                                "is given (then SAM-Not-Perfect amg.py folders <stem>/<i>.png)")
        group.add_argument("--sod-amg-points-per-side", type=int, default=AMG_PARAMS.points_per_side,
                           help="AMG point grid (SAM default 32; lower only for quick checks)")
        group.add_argument("--sod-amg-points-per-batch", type=int, default=AMG_PARAMS.points_per_batch,
                           help="AMG points per decoder batch (speed / memory only)")  # fmt: skip

    @classmethod
    def params_from_args(cls, args: argparse.Namespace) -> SodParams:
        predictions = getattr(args, "predictions", None)
        protocol = args.sod_protocol or (EXTERNAL if predictions is not None else "oracle")
        amg = {"points_per_side": args.sod_amg_points_per_side, "points_per_batch": args.sod_amg_points_per_batch}
        return sod_params(protocol, args.sod_dataset, amg, predictions)

    def requirements(self, data_root: Path) -> list[Requirement]:
        name = self.params.dataset

        def present() -> bool:
            try:
                return find_sod_folders(data_root, name) is not None
            except DataError:
                return False

        source = f"{DUTS_TE_URL} (unpack into {data_root})" if name == DEFAULT_DATASET else "the dataset's own release"
        return [Requirement(f"{name} images and masks", Path(data_root) / name, source, present)]

    def capability_problems(self, capabilities: Capabilities) -> list[str]:
        needs_masks = self.params.amg is not None  # oracle / saliency from a model's automatic masks
        return ["automatic masks (the SOD protocols start from them)"] if needs_masks and not capabilities.automatic_masks else []

    def load_dataset(self, data_root: Path) -> Dataset:
        return load_sod_dataset(data_root, self.params.dataset)

    def sample_files(self, sample: Sample) -> list[Path]:
        # The oracle picks its mask with the ground truth; the saliency protocol reads the mask's size.
        return [sample.data.image_path, sample.data.mask_path]

    def load_inputs(self, sample: Sample) -> np.ndarray:
        return read_rgb(sample.data.image_path)

    def predict(self, model: PromptModel, sample: Sample, image: np.ndarray) -> dict:
        if self.params.amg is None:
            raise ValueError(f"SOD protocol {self.protocol!r} with these parameters scores saved predictions, no model")
        records = model.generate(image, **self.params.amg.to_dict())
        return self.prediction_from_masks(records, sample)

    def prediction_from_masks(self, records: list[dict], sample: Sample) -> dict:
        """The stored prediction from AMG records ({"segmentation", "predicted_iou", "stability_score", ...})."""
        if self.protocol == "oracle":
            maps = [record["map"] if "map" in record else mask_to_map(record["segmentation"]) for record in records]
            choice = select_best_dice_mask(maps, read_mask_reference(sample.data.mask_path))
            chosen = records[choice.index] if choice.index is not None else {}
            return {
                "saliency": choice.saliency, "num_masks": len(records), "chosen_mask": choice.index,
                "chosen_dice": choice.dice, "chosen_mae_ji2023": choice.mae,
                "chosen_predicted_iou": _optional_float(chosen.get("predicted_iou")),
                "chosen_stability_score": _optional_float(chosen.get("stability_score")),
            }  # fmt: skip
        if self.protocol == "saliency":
            height, width = records[0]["segmentation"].shape if records else mask_size(sample.data.mask_path)
            saliency, weights = saliency_map(records, (height, width))
            return {"saliency": quantize(saliency, mask_size(sample.data.mask_path)), "num_masks": len(records),
                    "weights": [round(w, 6) for w in weights]}  # fmt: skip
        raise ValueError(f"protocol {self.protocol!r} reads finished maps, not AMG masks")

    def evaluator(self) -> Evaluator:
        from .evaluator import SODEvaluator

        return SODEvaluator(self.protocol)

    def read_external_prediction(self, directory: Path, sample: Sample) -> dict:
        """external: `DIR/<stem>.png`, an 8-bit saliency map of the mask's size (any method's); oracle / saliency:
        `DIR/<stem>/<i>.png` + metadata.csv, SAM-Not-Perfect's amg.py output, reduced by the protocol."""
        directory = Path(directory)
        if self.protocol == EXTERNAL:
            path = directory / f"{sample.id}.png"
            if not path.is_file():
                raise DataError(f"no prediction {path} for image {sample.data.image_path.name}")
            saliency = read_gray(path)
            expected = mask_size(sample.data.mask_path)
            if saliency.shape != expected:
                raise DataError(f"{path}: map is {saliency.shape[1]}x{saliency.shape[0]}, its mask "
                                 f"{sample.data.mask_path} {expected[1]}x{expected[0]} (W x H)")  # fmt: skip
            return {"saliency": saliency, "source": str(path)}
        folder = directory / sample.id
        records = read_amg_folder(folder)
        if self.protocol == "saliency":
            require_scores(records, folder)
        return self.prediction_from_masks(records, sample)

    def example_score(self, sample: Sample, prediction: dict) -> float:
        """-MAE of the image (examples.py): higher is better."""
        from . import examples

        return -examples.image_mae(self.protocol, sample.data, prediction)

    def draw_example(self, sample: Sample, prediction: dict) -> dict:
        from . import examples

        return examples.draw(self.protocol, self.params.amg, sample.data, prediction)


def _optional_float(value) -> float | None:
    return None if value is None else float(value)
