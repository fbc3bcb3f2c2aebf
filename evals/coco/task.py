"""`--task coco`: zero-shot instance segmentation on COCO val2017, masks from box prompts, mask AP.

    python run_eval.py --task coco --model repvit --boxes coco_instances_results_vitdet.json
    python run_eval.py --task coco --model repvit      # boxes from <data-root>/coco/coco_instances_results_vitdet.json
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import Column, Dataset, Evaluator, Requirement, Sample
from ..paper import paper_values
from ..protocols.box_prompts.box_prompted import BoxPromptedTask
from ..protocols.coco_format.dataset import (
    VAL2017_ANNOTATIONS_URL,
    VAL2017_FOLDER,
    find_val2017,
    read_coco_images,
    require_image_files,
    val2017_requirements,
    val2017_root,
)
from ..protocols.box_prompts.mask_ap import MaskAPEvaluator
from ..protocols.box_prompts.options import (
    PREDICTIONS,
    BoxPromptParams,
    add_mask_protocol_arguments,
    decoding_params,
    evaluation_params,
)
from ..protocols.box_prompts.prompts import (
    EFFICIENTVIT_BOXES_NAME,
    EFFICIENTVIT_BOXES_URL,
    GROUND_TRUTH_SCORE,
    TINYSAM_BOXES_NAME,
    TINYSAM_BOXES_URL,
    attach_prompts,
    read_detection_prompts,
)
from ..protocols.coco_format.results_file import mask_detections, read_results_by_image, resolve_results_file

SECTION = "Instance segmentation (COCO) and SegInW"
# The paper's numbers (zero-shot instance segmentation on COCO val2017 from ViTDet-H boxes, mask AP in %) are in
# evals/paper_results.csv.
PAPER_AP, PAPER_APS, PAPER_APM, PAPER_APL = (paper_values("coco", key) for key in ("AP", "APs", "APm", "APl"))
GROUND_TRUTH_BOXES = "gt"
BOXES_SOURCE = (
    f"TinySAM's {TINYSAM_BOXES_URL} or EfficientViT-SAM's {EFFICIENTVIT_BOXES_URL} (both ViTDet-H on val2017); "
    "or give --boxes FILE, or --boxes gt for ground-truth boxes (an oracle, not the paper's protocol)"
)


@dataclass(frozen=True)
class CocoParams(BoxPromptParams):
    boxes_file: str | None = None  # prompts "detections": the ViTDet-H detections file
    boxes_sha256: str | None = None
    predictions_file: str | None = None  # prompts PREDICTIONS: another method's masks
    predictions_sha256: str | None = None


class CocoTask(BoxPromptedTask):
    name = "coco"
    description = "COCO val2017 instance segmentation from box prompts (the paper's: ViTDet-H detections), mask AP"
    columns = (
        Column("AP", "AP", SECTION, paper=PAPER_AP, unit="%"),
        Column("APs", "APs", SECTION, paper=PAPER_APS, unit="%"),
        Column("APm", "APm", SECTION, paper=PAPER_APM, unit="%"),
        Column("APl", "APl", SECTION, paper=PAPER_APL, unit="%"),
    )
    samples_name = "images"
    detector = "ViTDet-H"
    # tinysam_zero_shot_ins_eval.py and eval_efficientvit_sam_model.py (predict_mask_from_box): predictor.predict(box=
    # np.array(...)), the boxes scaled in float64.
    box_type = "numpy"
    demo_args = ("--boxes", GROUND_TRUTH_BOXES)
    params_type = CocoParams
    example_metric = "mean over the ground-truth objects of the best mask IoU of a detection of their category"

    params: CocoParams

    def __init__(self, params: CocoParams | None = None):
        super().__init__(params)
        self._external: tuple[Path, dict[int, list[dict]]] | None = None  # --predictions, read once

    def variant(self) -> str | None:
        return "gt-boxes" if self.params.oracle else None

    def variant_label(self) -> str | None:
        return "ground-truth boxes (oracle)" if self.params.oracle else None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("coco")
        group.add_argument("--boxes", metavar="FILE|gt",
                           help=f"box prompts: ViTDet-H detections in COCO results format, TinySAM's "
                                f"{TINYSAM_BOXES_URL} or EfficientViT-SAM's {EFFICIENTVIT_BOXES_URL} (default: "
                                f"either file in <data-root>/{VAL2017_FOLDER}/), or 'gt' for ground-truth boxes "
                                "(oracle)")  # fmt: skip
        add_mask_protocol_arguments(group)

    @classmethod
    def params_from_args(cls, args: argparse.Namespace) -> CocoParams:
        if getattr(args, "predictions", None) is not None:  # another method's masks: nothing is decoded
            from models.checkpoint import sha256_file  # imports torch: only once a run is set up

            results_file = resolve_results_file(args.predictions)
            return CocoParams(prompts=PREDICTIONS, predictions_file=str(results_file),
                              predictions_sha256=sha256_file(results_file), **evaluation_params(args))  # fmt: skip
        return CocoParams(**box_prompt_params(args.boxes, args.data_root), **decoding_params(args),
                          **evaluation_params(args))  # fmt: skip

    def requirements(self, data_root: Path) -> list[Requirement]:
        """COCO val2017's images and annotations, and for the paper's protocol the ViTDet-H boxes file."""
        requirements = val2017_requirements(data_root)
        if self.params.prompts == "detections":
            path = Path(self.params.boxes_file)
            what = (f"ViTDet-H box prompts (--boxes FILE; without it {TINYSAM_BOXES_NAME} or "
                    f"{EFFICIENTVIT_BOXES_NAME} in <data-root>/{VAL2017_FOLDER}/)")  # fmt: skip
            requirements.append(Requirement(what, path, BOXES_SOURCE, path.is_file))
        return requirements

    def prompts_file(self, sample: Sample) -> Path:
        return Path(self.params.boxes_file)

    def load_dataset(self, data_root: Path) -> Dataset:
        images_dir, annotation_file = find_val2017(data_root)
        images = read_coco_images(annotation_file, images_dir, VAL2017_ANNOTATIONS_URL)
        require_image_files(images)
        prompts_from = self.params.prompts
        if prompts_from == "detections":
            boxes_file = Path(self.params.boxes_file)
            prompted = attach_prompts(images, read_detection_prompts(boxes_file, BOXES_SOURCE), boxes_file)
        elif prompts_from == "ground truth":
            prompted = attach_prompts(images, None)
        else:  # external predictions: no prompts
            prompted = attach_prompts(images, {})
        samples = [Sample(str(p.image.image_id), p) for p in prompted]
        files = [annotation_file, *(image.path for image in images)]
        return Dataset(name="COCO", split="val2017", root=annotation_file.parent.parent, samples=samples, files=files)

    def evaluator(self) -> Evaluator:
        return MaskAPEvaluator(self.params.coco_eval)

    def read_external_prediction(self, directory: Path, sample: Sample) -> dict:
        """Another method's masks from one COCO results file (`--predictions FILE`, or a folder holding detectron2's
        coco_instances_results.json or a single .json): read once, indexed by image id. Segmentations may be
        polygons or (un)compressed RLE; `bbox` is not kept (the metric would drop it anyway)."""
        path = resolve_results_file(directory)
        if self._external is None or self._external[0] != path:
            self._external = (path, read_results_by_image(path, ("image_id", "category_id", "score", "segmentation")))
        image = sample.data.image
        entries = self._external[1].get(image.image_id, [])
        return {"detections": mask_detections(entries, image.height, image.width, f"{path}: image {image.image_id}")}


def default_boxes_file(data_root: Path) -> Path:
    """Where the paper's boxes are looked for without --boxes: TinySAM's or EfficientViT-SAM's file beside COCO
    val2017 (<data-root>/coco or <data-root> itself); where neither is, TinySAM's name where val2017 is (or goes)."""
    data_root = Path(data_root)
    for root in (data_root / VAL2017_FOLDER, data_root):
        for name in (TINYSAM_BOXES_NAME, EFFICIENTVIT_BOXES_NAME):
            if (root / name).is_file():
                return root / name
    return val2017_root(data_root) / TINYSAM_BOXES_NAME


def box_prompt_params(boxes: str | None, data_root: Path = Path("datasets")) -> dict[str, Any]:
    """The `CocoParams` fields of where the box prompts come from: the detections file (--boxes FILE, or without it
    the paper's file in its default place, `default_boxes_file`) and its sha256, or the ground-truth oracle. A
    missing file is not an error here: the run's requirements name it, with everything else that is missing."""
    from models.checkpoint import sha256_file  # imports torch: only once a run is set up

    if boxes == GROUND_TRUTH_BOXES:
        return {"prompts": "ground truth", "oracle": True, "ground_truth_score": GROUND_TRUTH_SCORE}
    path = default_boxes_file(data_root) if boxes is None else Path(boxes)
    return {"prompts": "detections", "oracle": False, "boxes_file": str(path),
            "boxes_sha256": sha256_file(path) if path.is_file() else None}  # fmt: skip
