"""`--task coco`: zero-shot instance segmentation on COCO val2017, masks from box prompts, mask AP.

    python run_eval.py --task coco --model repvit --boxes coco_instances_results_vitdet.json
    python run_eval.py --task coco --model repvit --boxes gt                       # oracle: ground-truth boxes
    python run_eval.py --task coco --model other --predictions coco_instances_results.json   # another method's masks

The paper's protocol (SAM paper appendix D.4, which the RepViT-SAM paper follows; as TinySAM's and
EfficientViT-SAM's eval scripts run it): each ViTDet-H detection's box prompts the model, the detection keeps its
category and score, its mask becomes SAM's (prompts.py, protocol.py); COCO mask AP (metric.py). A sample is an
image (in the annotation file's order, id = str(image_id)); its stored prediction is its list of detections with
RLE masks, so the evaluator holds RLEs only.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from models.checkpoint import sha256_file

from ..base import Column, Dataset, Evaluator, Sample
from .box_prompted import BoxPromptedTask
from .dataset import find_val2017, read_coco_images, require_image_files
from .metric import MaskAPEvaluator
from .options import add_mask_protocol_arguments, decoding_params, evaluation_params
from .prompts import GROUND_TRUTH_SCORE, attach_prompts, read_detection_prompts
from .results_file import mask_detections, read_results_by_image, resolve_results_file

SECTION = "Instance segmentation (COCO) and SegInW"
# RepViT-SAM paper (arXiv 2312.05760), zero-shot instance segmentation on COCO val2017 from ViTDet-H boxes.
PAPER_AP = {"vit_h": 46.8, "vit_b": 42.5, "mobilesam": 42.7, "repvit": 44.4}
PAPER_APS = {"vit_h": 31.8, "vit_b": 29.8, "mobilesam": 27.0, "repvit": 29.1}
PAPER_APM = {"vit_h": 51.0, "vit_b": 47.0, "mobilesam": 46.5, "repvit": 48.6}
PAPER_APL = {"vit_h": 63.6, "vit_b": 56.8, "mobilesam": 61.1, "repvit": 61.4}
GROUND_TRUTH_BOXES = "gt"
MISSING_BOXES = (
    "--task coco needs box prompts: --boxes FILE, the ViTDet-H detections on val2017 in COCO results format "
    "(TinySAM's coco_instances_results_vitdet.json or EfficientViT-SAM's coco_vitdet.json), or --boxes gt for "
    "ground-truth boxes (an oracle setting)"
)


class CocoTask(BoxPromptedTask):
    name = "coco"
    description = "COCO val2017 instance segmentation from box prompts (ViTDet-H detections), mask AP"
    columns = (
        Column("AP", "AP", SECTION, paper=PAPER_AP),
        Column("APs", "APs", SECTION, paper=PAPER_APS),
        Column("APm", "APm", SECTION, paper=PAPER_APM),
        Column("APl", "APl", SECTION, paper=PAPER_APL),
    )
    demo_args = ("--boxes", GROUND_TRUTH_BOXES)
    evaluation_only_params = ("coco_eval",)  # which COCOeval implementation scores: same numbers, same masks
    example_metric = "mean over the ground-truth objects of the best mask IoU of a detection of their category"

    def __init__(self, params: dict[str, Any]):
        super().__init__(params)
        self._external: tuple[Path, dict[int, list[dict]]] | None = None  # --predictions, read once

    def variant(self) -> str | None:
        return "gt-boxes" if self.params.get("oracle") else None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("coco")
        group.add_argument("--boxes", metavar="FILE|gt",
                           help="box prompts: ViTDet-H detections in COCO results format (TinySAM's "
                                "coco_instances_results_vitdet.json, EfficientViT-SAM's coco_vitdet.json), or 'gt' "
                                "for ground-truth boxes (oracle)")  # fmt: skip
        add_mask_protocol_arguments(group)

    @classmethod
    def params_from_args(cls, args: argparse.Namespace) -> dict[str, Any]:
        if getattr(args, "predictions", None) is not None:  # another method's masks: nothing is decoded
            results_file = resolve_results_file(args.predictions)
            return {"prompts": "none: masks from --predictions", "predictions_file": str(results_file),
                    "predictions_sha256": sha256_file(results_file), **evaluation_params(args)}  # fmt: skip
        return {**box_prompt_params(args.boxes), **decoding_params(args), **evaluation_params(args)}

    def load_dataset(self, data_root: Path) -> Dataset:
        images_dir, annotation_file = find_val2017(data_root)
        images = read_coco_images(annotation_file, images_dir)
        require_image_files(images)
        prompts_from = self.params.get("prompts")
        if prompts_from == "detections":
            prompted = attach_prompts(images, read_detection_prompts(Path(self.params["boxes_file"])))
        elif prompts_from == "ground truth":
            prompted = attach_prompts(images, None)
        else:  # external predictions: no prompts
            prompted = attach_prompts(images, {})
        samples = [Sample(str(p.image.image_id), p) for p in prompted]
        files = [annotation_file, *(image.path for image in images)]
        return Dataset(name="COCO", split="val2017", root=annotation_file.parent.parent, samples=samples, files=files)

    def evaluator(self) -> Evaluator:
        return MaskAPEvaluator(self.params["coco_eval"])

    def read_external_prediction(self, directory: Path, sample: Sample) -> dict:
        """Another method's masks from one COCO results file (`--predictions FILE`, or a folder holding detectron2's
        coco_instances_results.json or a single .json): read once, indexed by image id. Segmentations may be
        polygons or (un)compressed RLE; `bbox` is not kept (the metric would drop it anyway)."""
        path = resolve_results_file(directory)
        if self._external is None or self._external[0] != path:
            self._external = (path, read_results_by_image(path, ("image_id", "category_id", "score", "segmentation")))
        image = sample.data.image
        return {"detections": mask_detections(self._external[1].get(image.image_id, []), image.height, image.width)}


def box_prompt_params(boxes: str | None) -> dict[str, Any]:
    """Where the box prompts come from, recorded in the results: the detections file and its sha256, or the
    ground-truth oracle."""
    if boxes is None:
        raise ValueError(MISSING_BOXES)
    if boxes == GROUND_TRUTH_BOXES:
        return {"prompts": "ground truth", "oracle": True,
                "note": "ORACLE: ground-truth boxes, not the paper's detector boxes; crowd annotations not prompted",
                "ground_truth_score": GROUND_TRUTH_SCORE}  # fmt: skip
    path = Path(boxes)
    if not path.is_file():
        raise FileNotFoundError(f"--boxes {path}: no such file. {MISSING_BOXES}")
    return {"prompts": "detections", "oracle": False, "boxes_file": str(path), "boxes_sha256": sha256_file(path)}
