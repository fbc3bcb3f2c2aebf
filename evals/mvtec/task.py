"""`--task mvtec`: zero-shot anomaly segmentation on MVTec AD with SAA+'s hybrid prompts, F_p (pixel F1-max).

    python run_eval.py --detect mvtec                           # once: Grounding DINO boxes + saliency maps
    python run_eval.py --task mvtec --model repvit              # per SAM model, reads the prompt cache
    python run_eval.py --task mvtec --model repvit --mvtec-color-order rgb   # SAM sees RGB (not SAA+'s BGR)
    python run_eval.py --task mvtec --model other --predictions DIR          # any method's anomaly maps

A sample is a test image (id "<category>/<defect>/<name>", categories in SAA+'s order). Its stored prediction is
the 400 x 400 float32 anomaly map (`anomaly_map`) with the rescored box confidences, the k_mask chosen boxes and
the mask areas. The protocol (protocol.py, saa_prompts.py): detector boxes and saliency from the prompt cache
(detect.py, prompt_cache.py), SAM masks and the map (anomaly_map.py); the metric in evaluator.py.

The paper's number for a model is F_p over the 15 categories with SAA+'s defaults; a run on other categories,
with `rgb`, or with a prompt cache made from untrained weights is a labelled variant, never the paper's row (and a
cache made with another detector than Grounding DINO Swin-T is not compared with the paper either).
"""
from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.capabilities import Capabilities

from ..base import Column, Dataset, Evaluator, Requirement, Sample, Task
from ..errors import DataError, MissingResources, UsageError
from ..paper import paper_values
from ..params import Params, TaskParams, evaluation_only
from . import examples
from .categories import CATEGORIES, parse_categories
from .dataset import load_mvtec_dataset, read_bgr
from .evaluator import METRIC_DEFINITION, MVTecEvaluator
from .external import FORMAT_NOTE, read_external_map
from .options import (
    add_detection_arguments,
    dataset_requirement,
    default_prompt_dir,
    detection_requirements,
    prompt_cache_requirement,
)
from .prompt_cache import PromptCache, PromptCacheError, identity_sha256
from .protocol import (
    COLOR_ORDERS,
    DEFAULT_COLOR_ORDER,
    EVAL_RESOLUTION,
    MASK_THRESHOLD,
    MULTIMASK_OUTPUT,
    RESCORE_TEMPERATURE,
    known_saliency_weights,
)
from .saa_prompts import CategoryPrompts, category_prompts

# The command line imports this module for --help: the SAM stage (anomaly_map.py) and the detection stage
# (detect.py: Grounding DINO, WideResNet-50-2) import torch, so they are imported where they are used.
if TYPE_CHECKING:
    from models.prompt_model import PromptModel

# The title of the paper's table of salient object and anomaly segmentation: the same string as evals/sod/task.py's
# SECTION (tasks do not import each other), so that the tables (evals/tables.py groups columns by equal section
# titles) put MVTec F_p beside DUTS-TE MAE, as the paper does.
SECTION = "Salient object segmentation (DUTS-TE) and anomaly segmentation (MVTec AD)"

# The paper's F_p (zero-shot anomaly segmentation on MVTec AD with SAA+, pixel F1-max in %): evals/paper_results.csv.
PAPER_F1_MAX = paper_values("mvtec", "f1_max")
PAPER_DETECTOR_BACKBONE = "Swin-T"  # SAA+'s Grounding DINO (mvtec_params: the paper's numbers need it)
REFERENCE = "caoyunkang/Segment-Any-Anomaly, branch SAA-plus (run_MVTec.py -> eval_SAA.py, SAA/model.py)"
SAMPLE_DATA = Path(__file__).resolve().parent.parent.parent / "datasets" / "sample"
SAMPLE_PROMPTS = SAMPLE_DATA / "mvtec_anomaly_detection" / "saa_prompts"  # the demo's cache (sample_data.py)
SAMPLE_CATEGORIES = ("tile", "bottle")
SUBSET_NAMES_SHOWN = 3  # a subset of up to this many categories is named in the run's label; larger ones hashed


def subset_label(categories: tuple[str, ...]) -> str | None:
    if tuple(categories) == CATEGORIES:
        return None
    if len(categories) <= SUBSET_NAMES_SHOWN:
        return "+".join(categories)
    digest = hashlib.sha256(",".join(categories).encode()).hexdigest()[:6]
    return f"{len(categories)}categories-{digest}"


def manifest_section(cache: PromptCache, manifest: dict, key: str) -> dict:
    """A part of the cache's manifest that must be a mapping (a DataError naming the file otherwise)."""
    section = manifest.get(key, {})
    if not isinstance(section, dict):
        raise PromptCacheError(f"{cache.manifest_path}: {key!r} is a {type(section).__name__}, expected a mapping "
                               "(the manifest `--detect mvtec` writes)")  # fmt: skip
    return section


@dataclass(frozen=True)
class PromptCacheIdentity(Params):
    """What a run knows of the prompt cache it reads (detector boxes, saliency maps): from its manifest.json, which
    `--detect mvtec` writes (detect.py detection_manifest); every field None while the cache is not there yet."""

    identity_sha256: str | None = None  # prompt_cache.identity_sha256: the manifest less its volatile keys, hashed
    trained: bool | None = None  # manifest "trained": detector and saliency backbone from trained weights
    detector_backbone: str | None = None  # manifest "detector" "backbone" (SAA+: Swin-T)
    detector_weights_sha256: str | None = None  # manifest "detector" "weights_sha256"
    saliency_weights_sha256: str | None = None  # manifest "saliency" "weights_sha256"
    saliency_weights: str | None = None  # which published file that is (protocol.known_saliency_weights)
    # manifest "protocol": the detection stage's settings as the cache's maker recorded them (protocol.py
    # detection_protocol, prose included), copied as they are
    protocol: dict[str, Any] | None = None


@dataclass(frozen=True)
class MVTecParams(TaskParams):
    protocol: str = "saa_plus"  # or "external" (any method's maps, `predictions_dir`)
    categories: tuple[str, ...] = CATEGORIES
    eval_resolution: int = EVAL_RESOLUTION
    predictions_dir: str | None = None  # external
    # saa_plus (sources: protocol.py): SAM's input colour order, the text prompts per category (saa_prompts.py), SAM's
    # outputs, the rescoring temperature and the identity of the prompt cache (detector boxes, saliency maps) read
    color_order: str | None = None
    prompts: dict[str, CategoryPrompts] | None = None  # category -> its prompts
    multimask_output: bool | None = None
    mask_threshold: float | None = None
    rescore_temperature: float | None = None
    prompt_cache: PromptCacheIdentity | None = None
    prompt_cache_dir: str | None = evaluation_only(None)  # where the cache is: its identity is `prompt_cache`
    paper_comparable: bool = False


def mvtec_params(color_order: str = DEFAULT_COLOR_ORDER, categories: tuple[str, ...] = CATEGORIES,
                 prompt_dir: Path | None = None, predictions_dir: Path | None = None,
                 missing_ok: bool = False) -> MVTecParams:  # fmt: skip
    """Every parameter of a run. With `predictions_dir`: score those maps (external). Otherwise the SAA+ protocol,
    reading the prompt cache at `prompt_dir`, which must exist and match this protocol (checked here, before any
    model loads). `missing_ok`: a cache that is not there yet gives params without its identity (the command line
    then lists it among the run's missing requirements, `MVTecTask.requirements`); a broken one is still an error."""
    if color_order not in COLOR_ORDERS:
        raise UsageError(f"unknown colour order {color_order!r}; one of {', '.join(COLOR_ORDERS)}")
    categories = tuple(categories)
    if predictions_dir is not None:
        return MVTecParams(protocol="external", categories=categories, predictions_dir=str(predictions_dir))
    if prompt_dir is None:
        raise UsageError("the SAA+ protocol needs a prompt cache folder (--mvtec-prompts)")
    cache = PromptCache(prompt_dir)
    present = cache.exists() or not missing_ok
    manifest = cache.manifest() if present else {}
    prompts = {category: category_prompts(category) for category in categories}
    made_with = manifest_section(cache, manifest, "prompts")
    stale = [c for c in categories if made_with.get(c) != prompts[c].to_dict()] if present else []
    if stale:
        raise PromptCacheError(f"{prompt_dir} was made with other prompts for {', '.join(stale)}; make it again "
                               f"(into another --mvtec-prompts folder, or delete this one)")  # fmt: skip
    detector, saliency = manifest_section(cache, manifest, "detector"), manifest_section(cache, manifest, "saliency")
    prompt_cache = PromptCacheIdentity(
        identity_sha256=identity_sha256(manifest) if present else None,
        trained=manifest.get("trained"),
        detector_backbone=detector.get("backbone"),
        detector_weights_sha256=detector.get("weights_sha256"),
        saliency_weights_sha256=saliency.get("weights_sha256"),
        saliency_weights=known_saliency_weights(saliency.get("weights_sha256")) if present else None,
        protocol=manifest.get("protocol"),
    )  # fmt: skip
    paper_comparable = (
        color_order == DEFAULT_COLOR_ORDER and categories == CATEGORIES and manifest.get("trained") is True
        and prompt_cache.detector_backbone == PAPER_DETECTOR_BACKBONE
    )  # fmt: skip
    return MVTecParams(categories=categories, color_order=color_order, prompts=prompts,
                       multimask_output=MULTIMASK_OUTPUT, mask_threshold=MASK_THRESHOLD,
                       rescore_temperature=RESCORE_TEMPERATURE, prompt_cache=prompt_cache,
                       prompt_cache_dir=str(prompt_dir), paper_comparable=paper_comparable)  # fmt: skip


def mvtec_notes(params: MVTecParams) -> dict[str, Any]:
    """The protocol of a run in words (`Task.protocol_notes`)."""
    notes = {"dataset": "MVTec AD", "metric": METRIC_DEFINITION}
    if params.protocol == "external":
        return {**notes, "maps": FORMAT_NOTE}
    return {
        **notes,
        "reference": REFERENCE,
        "color_order_note": "bgr: SAM gets cv2's BGR array as SAA+ gives it (SamPredictor reads it as RGB); "
                            "rgb: SAM gets RGB. The detector always gets RGB, the saliency backbone BGR (as SAA+).",
        "sam_prompt": "defect boxes (x0, y0, x1, y1 pixels)",
        "rescoring": f"box logit x exp({params.rescore_temperature:g} x mean saliency in the mask), 1 for an empty mask",
        "anomaly_map": "k_mask best: sum(score x mask) / (1 + count), float64; cv2 bilinear to "
                       f"{params.eval_resolution}x{params.eval_resolution}; all zeros without a defect box",
    }  # fmt: skip


class MVTecTask(Task):
    name = "mvtec"
    description = "MVTec AD zero-shot anomaly segmentation with SAA+ hybrid prompts, pixel F1-max (F_p)"
    columns = (Column("f1_max", "MVTec F_p", SECTION, paper=PAPER_F1_MAX, digits=2, unit="%"),)
    samples_name = "images"
    demo_args = ("--mvtec-prompts", str(SAMPLE_PROMPTS), "--mvtec-categories", ",".join(SAMPLE_CATEGORIES))
    example_metric = "pixel F1-max of the image's map (defective images; good ones have no anomalous pixel)"
    params_type = MVTecParams

    params: MVTecParams

    def __init__(self, params: MVTecParams | None = None):
        super().__init__(params)
        self.categories = self.params.categories
        self.cache = PromptCache(self.params.prompt_cache_dir) if self.params.prompt_cache_dir is not None else None

    def protocol_notes(self) -> dict[str, Any]:
        return mvtec_notes(self.params)

    def variant(self) -> str | None:
        parts = []
        if self.params.color_order not in (None, DEFAULT_COLOR_ORDER):
            parts.append(self.params.color_order)
        subset = subset_label(self.categories)
        if subset is not None:
            parts.append(subset)
        if self.params.protocol == "saa_plus" and self.params.prompt_cache.trained is not True:
            parts.append("untrained-prompts")
        return "-".join(parts) or None

    def variant_label(self) -> str | None:
        """`variant` in words: "RGB input (SAA+: BGR), subset: 2 of 15 categories (tile, bottle), prompts from an
        untrained detector" (and a prompt cache of another detector than SAA+'s, which `variant` does not name)."""
        params, parts = self.params, []
        if params.color_order not in (None, DEFAULT_COLOR_ORDER):
            parts.append(f"{params.color_order.upper()} input (SAA+: {DEFAULT_COLOR_ORDER.upper()})")
        if self.categories != CATEGORIES:
            named = f" ({', '.join(self.categories)})" if len(self.categories) <= SUBSET_NAMES_SHOWN else ""
            parts.append(f"subset: {len(self.categories)} of {len(CATEGORIES)} categories{named}")
        if params.protocol == "saa_plus":
            cache = params.prompt_cache
            if cache.trained is not True:
                parts.append("prompts from an untrained detector")
            elif cache.detector_backbone != PAPER_DETECTOR_BACKBONE:
                parts.append(f"prompts from another detector than SAA+'s (Grounding DINO {PAPER_DETECTOR_BACKBONE})")
        return ", ".join(parts) or None

    def paper_comparable(self) -> bool:
        return self.params.paper_comparable

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("mvtec")
        group.add_argument("--mvtec-prompts", type=Path,
                           help="the SAA+ prompt cache (detector boxes + saliency maps) written by --detect mvtec "
                                "and read by every SAM model's run (default: <out>/mvtec/saa_prompts)")
        group.add_argument("--mvtec-color-order", choices=COLOR_ORDERS, default=DEFAULT_COLOR_ORDER,
                           help="channel order of the image given to SAM: bgr reproduces SAA+ (cv2's BGR array, "
                                "read by SAM as RGB); rgb is what SAM expects (a labelled variant)")
        group.add_argument("--mvtec-categories",
                           help="comma-separated subset of the 15 categories (default: all; a subset is a "
                                "labelled variant)")
        add_detection_arguments(group)  # fmt: skip

    @classmethod
    def params_from_args(cls, args: argparse.Namespace) -> MVTecParams:
        categories = parse_categories(args.mvtec_categories)
        predictions = getattr(args, "predictions", None)
        if predictions is not None:
            return mvtec_params(args.mvtec_color_order, categories, predictions_dir=predictions)
        prompt_dir = args.mvtec_prompts or default_prompt_dir(args.out)
        return mvtec_params(args.mvtec_color_order, categories, prompt_dir=prompt_dir, missing_ok=True)

    @classmethod
    def detect(cls, args: argparse.Namespace) -> list[Path]:
        """`run_eval.py --detect mvtec`: SAA+'s detector boxes and saliency maps into the prompt cache (detect.py),
        once the dataset, the detector's and the saliency backbone's weights and `transformers` are all there (else
        everything missing in one message)."""
        parse_categories(args.mvtec_categories)  # a UsageError before anything else
        weights = None if getattr(args, "untrained", False) else args.mvtec_saliency_weights
        requirements = detection_requirements(args.data_root, args.mvtec_detector, weights)
        missing = [f"--detect mvtec: {r.describe()}" for r in requirements if not r.is_met()]
        if missing:
            raise MissingResources(missing)
        from .detect import detect_from_args  # torch, torchvision and transformers: only now

        return detect_from_args(args)

    def requirements(self, data_root: Path) -> list[Requirement]:
        """MVTec AD and, for SAA+'s protocol, the prompt cache with the command that makes it."""
        requirements = [dataset_requirement(data_root)]
        if self.params.protocol == "saa_plus":
            requirements.append(prompt_cache_requirement(Path(self.params.prompt_cache_dir), data_root,
                                                         self.categories))  # fmt: skip
        return requirements

    def capability_problems(self, capabilities: Capabilities) -> list[str]:
        """SAA+ prompts SAM with boxes only (one mask each, multimask_output=False: no multimask, no mask input)."""
        if self.params.protocol != "saa_plus":
            return []
        problems = [] if capabilities.boxes else ["box prompts (SAA+ prompts SAM with every defect box of the prompt cache)"]
        if not capabilities.single_mask_output:
            problems.append("single-mask output (SAA+ asks one mask per box, multimask_output=False)")
        return problems

    def load_dataset(self, data_root: Path) -> Dataset:
        return load_mvtec_dataset(data_root, self.categories)

    def sample_files(self, sample: Sample) -> list[Path]:
        """The image and its prompt-cache entry (its boxes and saliency map); not the mask, read only for scoring.
        An entry that is not there is named here, with the command that makes it, before any prediction."""
        if self.cache is None:
            return []
        entry = self.cache.path(sample.id)
        if not entry.is_file():
            raise PromptCacheError(self.cache.missing_entry_message(sample.id))
        return [sample.data.image_path, entry]

    def load_inputs(self, sample: Sample) -> tuple[np.ndarray, dict] | None:
        """The BGR image (SAA+'s cv2.imread) and its prompt-cache entry, both checked: an entry for an image of
        another size is a DataError naming both files."""
        if self.cache is None:
            return None
        bgr, entry = read_bgr(sample.data.image_path), self.cache.load(sample.id)
        size = tuple(int(v) for v in entry["image_size"])
        if size != bgr.shape[:2]:
            raise DataError(f"{self.cache.path(sample.id)}: prompts for an image of {size} pixels (H, W), but "
                            f"{sample.data.image_path} has {bgr.shape[:2]}: the prompt cache "
                            "belongs to other data; make it again from this dataset (--detect mvtec)")  # fmt: skip
        return bgr, entry

    def predict(self, model: PromptModel, sample: Sample, inputs: tuple[np.ndarray, dict] | None) -> dict:
        if self.cache is None or inputs is None:
            raise ValueError("this MVTec run scores saved anomaly maps (--predictions); it has no prompt cache")
        from .anomaly_map import anomaly_map  # torch: only once a model runs

        bgr, entry = inputs
        k_mask = self.params.prompts[sample.data.category].k_mask
        result = anomaly_map(model, bgr, entry, k_mask, self.params.color_order)
        return {
            "anomaly_map": result.anomaly_map,
            "num_defect_boxes": int(len(result.scores)),
            "box_scores": [float(s) for s in result.scores],
            "selected_boxes": result.selected,
            "mask_areas": result.mask_areas,
        }

    def evaluator(self) -> Evaluator:
        return MVTecEvaluator(EVAL_RESOLUTION)

    def read_external_prediction(self, directory: Path, sample: Sample) -> dict:
        return read_external_map(directory, sample)

    def example_score(self, sample: Sample, prediction: dict) -> float | None:
        """Pixel F1-max of a defective image's own map (examples.py); None for a good image."""
        return examples.image_f1_max(sample.data, prediction)

    def draw_example(self, sample: Sample, prediction: dict) -> dict:
        """The image with its cached defect boxes when the run read a prompt cache that is still there."""
        boxes = None
        if self.cache is not None and self.cache.has(sample.id) and self.cache.entry_problem(sample.id) is None:
            boxes = self.cache.load(sample.id)["defect_boxes"].reshape(-1, 4)
        return examples.draw(sample.data, prediction, boxes)
