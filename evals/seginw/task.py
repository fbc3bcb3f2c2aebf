"""`--task seginw`: zero-shot instance segmentation on the 25 SegInW datasets from Grounding-DINO boxes, mask AP.

    python run_eval.py --detect seginw --detector-weights weights/grounding-dino-base --out boxes/seginw   # once
    python run_eval.py --task seginw --model repvit --seginw-boxes boxes/seginw
    python run_eval.py --task seginw --model repvit --seginw-boxes gt                 # oracle: ground-truth boxes
    python run_eval.py --task seginw --model other --predictions DIR                  # DIR/<Dataset>.json masks
    python run_eval.py --task seginw --model repvit --seginw-boxes B --seginw-datasets Fruits,Hand   # a subset

The protocol is sam-hq's "Grounded SAM" evaluation (SysCV/sam-hq seginw/test_ap_on_seginw.py, run by test_seginw.sh
with GroundingDINO_SwinB.py and groundingdino_swinb_cogcoor.pth), whose ViT-H mean (48.7) is the RepViT-SAM paper's:
- datasets: the 25 of seginw.zip, ``<Dataset>/valid/_annotations_min1cat.coco.json`` (datasets.py);
- prompts: per image the top 100 Grounding-DINO Swin-B detections over queries x categories, caption = all category
  names joined by " . ", no score threshold (detectors/phrase_grounding.py), each keeping its category and score;
  made once per dataset by `run_eval.py --detect seginw` (detect.py) and read from ``--seginw-boxes DIR``;
- masks: one SAM mask per box (``predictor.predict_torch(boxes=..., multimask_output=False)``; masks = logits > 0,
  ``Sam.mask_threshold``), the box transformed by ``predictor.transform.apply_boxes_torch`` in float32 (`box_type`;
  evals/protocols/box_prompts/protocol.py 'single'); the image for SAM read by ``cv2.imread`` + BGR -> RGB
  (test_ap_on_seginw.py, as evals/protocols/coco_format/dataset.py);
- metric: COCO mask AP per dataset, and the plain mean over the datasets (evaluator.py).
A sample is an image, id ``"<Dataset>/<image_id>"``; its stored prediction is its detections with RLE masks.
Anything else than the 25 datasets, sam-hq's detector or single-mask output is a labelled variant (`variant`).
"""
from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..base import Column, Dataset, Evaluator, Requirement, Sample
from ..detectors.options import add_detector_arguments
from ..detectors.weights import transformers_requirement, weights_requirement
from ..errors import DataError, MissingResources
from ..params import FileIdentity
from ..protocols.box_prompts.box_prompted import BoxPromptedTask
from ..protocols.box_prompts.options import (
    BoxPromptParams,
    add_mask_protocol_arguments,
    decoding_params,
    evaluation_params,
)
from ..protocols.box_prompts.prompts import attach_prompts, read_detection_prompts
from ..protocols.box_prompts.protocol import MASK_SELECTIONS
from ..protocols.coco_format.dataset import read_coco_images, require_image_files
from ..protocols.coco_format.results_file import mask_detections, read_results_by_image
from .datasets import (
    SEGINW_DATASETS,
    SEGINW_TREE,
    SEGINW_URL,
    annotation_file,
    datasets_requirement,
    dataset_name,
    find_seginw_root,
    images_dir,
    is_full_benchmark,
    parse_dataset_names,
    require_datasets,
)
from .evaluator import SegInWEvaluator
from .reference import PAPER_MEAN_AP
from .sample_data import SAMPLE_DATASETS
from .sources import (
    DEFAULT_BOXES_DIR,
    GROUND_TRUTH_BOXES,
    box_source_params,
    boxes_requirement,
    detection_command,
    predictions_file,
    predictions_params,
)

# The command line imports every task module: the detection stage (torch, torchvision, transformers) is imported by
# `detect` only, the model interface and pycocotools where they are used (evals/protocols/box_prompts/box_prompted.py).

SECTION = "Instance segmentation (COCO) and SegInW"  # shared with evals/coco/task.py: one table, side by side
# test_ap_on_seginw.py: ``predictor.predict_torch(..., multimask_output=False)``.
PAPER_MASK_SELECTION = "single"
SUBSET_NAMES_SHOWN = 3  # a subset of up to this many datasets is named in the run name, a larger one hashed


@dataclass(frozen=True)
class SegInWParams(BoxPromptParams):
    datasets: tuple[str, ...] = SEGINW_DATASETS
    mask_selection: str = PAPER_MASK_SELECTION
    # prompts "detections": DIR/<Dataset>.json, each dataset's file, the detector provenance.json records for each
    # file (copied as it is; None: not recorded for that very file), and whether all are the paper's
    # (sources.paper_boxes)
    boxes_dir: str | None = None
    boxes_files: dict[str, FileIdentity] | None = None
    boxes_detector: dict[str, dict | None] | None = None
    paper_boxes: bool | None = None
    # prompts PREDICTIONS: another method's masks, each dataset's file
    predictions_dir: str | None = None
    predictions_files: dict[str, FileIdentity] | None = None


class SegInWTask(BoxPromptedTask):
    name = "seginw"
    description = "SegInW (25 datasets) instance segmentation from box prompts (the paper's: Grounding-DINO), mean AP"
    columns = (Column("mean_AP", "SegInW mean AP", SECTION, paper=PAPER_MEAN_AP, unit="%"),)
    samples_name = "images"
    detector = "Grounding-DINO Swin-B"
    # test_ap_on_seginw.py: predictor.predict_torch(boxes=predictor.transform.apply_boxes_torch(the detector's float32
    # boxes)), the boxes scaled in float32.
    box_type = "torch"
    mask_selection_option = "--seginw-mask-selection"
    demo_args = ("--seginw-boxes", GROUND_TRUTH_BOXES, "--seginw-datasets", ",".join(SAMPLE_DATASETS))
    params_type = SegInWParams
    example_metric = "mean over the ground-truth objects of the best mask IoU of a detection of their category"

    params: SegInWParams

    def __init__(self, params: SegInWParams | None = None):
        super().__init__(params)
        self._external: dict[str, tuple[Path, dict[int, list[dict]]]] = {}  # --predictions, read once per dataset

    def variant(self) -> str | None:
        """'+'-joined labels of every departure from the paper's protocol: gt-boxes (oracle), other-detector (box
        files that provenance.json shows were not made by Grounding-DINO Swin-B with top-100 selection), mask-<sel>
        (not single-mask output), subset-... (not the 25 datasets)."""
        params, parts = self.params, []
        if params.oracle:
            parts.append("gt-boxes")
        if not self.paper_detector():
            parts.append("other-detector")
        if params.mask_selection != PAPER_MASK_SELECTION:
            parts.append(f"mask-{params.mask_selection}")
        datasets = params.datasets
        if not is_full_benchmark(datasets):
            parts.append(subset_label(datasets))
        return "+".join(parts) or None

    def variant_label(self) -> str | None:
        """`variant` in words: "ground-truth boxes (oracle), subset: 2 of 25 datasets (Fruits, Hand)", ..."""
        params, parts = self.params, []
        if params.oracle:
            parts.append("ground-truth boxes (oracle)")
        if not self.paper_detector():
            parts.append(f"boxes of another detector (not {self.detector}, top 100)")
        if params.mask_selection != PAPER_MASK_SELECTION:
            parts.append(f"mask selection '{params.mask_selection}' (paper: {PAPER_MASK_SELECTION})")
        datasets = params.datasets
        if not is_full_benchmark(datasets):
            parts += subset_words(datasets)
        return ", ".join(parts) or None

    def paper_detector(self) -> bool:
        return self.params.paper_boxes is not False

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("seginw")
        group.add_argument("--seginw-boxes", metavar="DIR|gt",
                           help="box prompts: DIR/<Dataset>.json Grounding-DINO Swin-B detections in COCO "
                                "results format, made once by `python run_eval.py --detect seginw --out DIR` "
                                f"(default DIR: {DEFAULT_BOXES_DIR}), or 'gt' for ground-truth boxes "
                                "(oracle)")  # fmt: skip
        group.add_argument("--seginw-datasets", metavar="A,B,...",
                           help="evaluate these dataset folders only (none: the 25 SegInW datasets); a subset is a "
                                "labelled run, not comparable to the paper's mean")  # fmt: skip
        group.add_argument("--seginw-mask-selection", choices=MASK_SELECTIONS, default=PAPER_MASK_SELECTION,
                           help="SegInW's mask per box (--mask-selection is COCO's): single, sam-hq's "
                                "multimask_output=False (the paper's); best / refine as for COCO (labelled "
                                "runs)")  # fmt: skip
        add_mask_protocol_arguments(group)  # --box-batch and --coco-eval (and COCO's --mask-selection)
        add_detector_arguments(group)  # --detector-weights, for --detect seginw

    @classmethod
    def params_from_args(cls, args: argparse.Namespace) -> SegInWParams:
        datasets = parse_dataset_names(args.seginw_datasets)
        if getattr(args, "predictions", None) is not None:  # another method's masks: nothing is decoded
            return SegInWParams(datasets=datasets, **predictions_params(args.predictions, datasets),
                                **evaluation_params(args))  # fmt: skip
        decoding = {**decoding_params(args), "mask_selection": args.seginw_mask_selection}
        return SegInWParams(datasets=datasets, **box_source_params(args.seginw_boxes, datasets), **decoding,
                            **evaluation_params(args))  # fmt: skip

    @classmethod
    def detect(cls, args: argparse.Namespace) -> list[Path]:
        """`run_eval.py --detect seginw`: the Grounding-DINO box files into --out (detect.py), once the datasets, the
        detector's weights and `transformers` are all there (else everything missing in one message)."""
        datasets = parse_dataset_names(args.seginw_datasets)
        requirements = [datasets_requirement(args.data_root, datasets), weights_requirement(args.detector_weights),
                        transformers_requirement()]  # fmt: skip
        missing = [f"--detect seginw: {r.describe()}" for r in requirements if not r.is_met()]
        if missing:
            raise MissingResources(missing)
        from .detect import detect_seginw  # torch, torchvision and transformers: only now

        return detect_seginw(args.data_root, args.detector_weights, args.out, datasets, device=args.device,
                             overwrite=args.overwrite)  # fmt: skip

    def requirements(self, data_root: Path) -> list[Requirement]:
        """The datasets (sam-hq's seginw.zip) and, for box prompts from a detector, every dataset's box file with the
        command that makes them."""
        datasets = self.params.datasets
        requirements = [datasets_requirement(data_root, datasets)]
        if self.params.prompts == "detections":
            requirements.append(boxes_requirement(Path(self.params.boxes_dir), datasets, data_root))
        return requirements

    def prompts_file(self, sample: Sample) -> Path:
        return Path(self.params.boxes_files[dataset_name(sample.data.image.annotation_file)].file)

    def load_dataset(self, data_root: Path) -> Dataset:
        names = self.params.datasets
        root = find_seginw_root(data_root)
        require_datasets(root, names)
        samples, files = [], []
        for name in names:
            annotations = annotation_file(root, name)
            images = read_coco_images(annotations, images_dir(root, name), SEGINW_URL)
            require_image_files(images, SEGINW_TREE)
            prompted = self._attach_prompts(name, images, data_root)
            samples += [Sample(f"{name}/{p.image.image_id}", p) for p in prompted]
            files += [annotations, *(image.path for image in images)]
        return Dataset(name="SegInW", split="valid", root=root, samples=samples, files=files)

    def _attach_prompts(self, name: str, images: list, data_root: Path) -> list:
        prompts_from = self.params.prompts
        if prompts_from == "ground truth":
            return attach_prompts(images, None)
        if prompts_from != "detections":  # external predictions: no prompts
            return attach_prompts(images, {})
        path = Path(self.params.boxes_files[name].file)
        command = detection_command(data_root, Path(self.params.boxes_dir), (name,))
        prompts = read_detection_prompts(path, f"the command `{command} --overwrite`")
        try:
            return attach_prompts(images, prompts, path)
        except DataError as err:  # detections of images the dataset does not have
            raise DataError(f"{path} does not match {name}'s annotation file: {err}") from None

    def evaluator(self) -> Evaluator:
        return SegInWEvaluator(self.params.coco_eval)

    def read_external_prediction(self, directory: Path, sample: Sample) -> dict:
        """Another method's masks: DIR/<Dataset>.json (or sam-hq's seginw-<Dataset>_val.json), COCO segm results,
        read once per dataset."""
        image = sample.data.image
        name = dataset_name(image.annotation_file)
        if name not in self._external:
            path = predictions_file(directory, name)
            keys = ("image_id", "category_id", "score", "segmentation")
            self._external[name] = (path, read_results_by_image(path, keys))
        path, by_image = self._external[name]
        entries = by_image.get(image.image_id, [])
        return {"detections": mask_detections(entries, image.height, image.width, f"{path}: image {image.image_id}")}


def subset_words(datasets: tuple[str, ...]) -> list[str]:
    """A subset in words: "subset: 2 of 25 datasets (Fruits, Hand)"; folders that are not SegInW datasets (the
    bundled sample's) are said to be so."""
    def named(names: list[str]) -> str:
        return f" ({', '.join(names)})" if len(names) <= SUBSET_NAMES_SHOWN else ""

    ours = [name for name in datasets if name in SEGINW_DATASETS]
    others = [name for name in datasets if name not in SEGINW_DATASETS]
    words = [f"subset: {len(ours)} of {len(SEGINW_DATASETS)} datasets{named(ours)}"] if ours else []
    if others:
        words.append(f"{len(others)} dataset{'s' * (len(others) > 1)} not in SegInW{named(others)}")
    return words


def subset_label(datasets: tuple[str, ...]) -> str:
    """'subset-A,B' for a few datasets, else 'subset-<N>-<hash of the sorted names>' (a run name stays short)."""
    if len(datasets) <= SUBSET_NAMES_SHOWN:
        return "subset-" + ",".join(datasets)
    digest = hashlib.sha256(",".join(sorted(datasets)).encode()).hexdigest()[:8]
    return f"subset-{len(datasets)}-{digest}"
