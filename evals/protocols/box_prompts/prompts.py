"""Box prompts: a detector's boxes (the paper's protocol) or the ground-truth boxes (an oracle), one list per image.

Detections files (COCO results format, ``[{image_id, category_id, bbox: [x, y, w, h], score}, ...]``), both of
ViTDet-H on COCO val2017, as the SAM paper (appendix D.4) prompts SAM with:
- TinySAM's ``coco_instances_results_vitdet.json`` (xinghaochen/TinySAM README, "Evaluation": a release asset,
  TINYSAM_BOXES_URL; read by eval/tinysam_zero_shot_ins_eval.py, default ``--vit_det_file_path
  json_files/coco_instances_results_vitdet.json``);
- EfficientViT-SAM's ``coco_vitdet.json`` (mit-han-lab/efficientvit, applications/efficientvit_sam/README.md,
  "pre-generated files": https://huggingface.co/mit-han-lab/efficientvit-sam/tree/main/source_json_file, the file
  EFFICIENTVIT_BOXES_URL; read by eval_efficientvit_sam_model.py ``--prompt_type box_from_detector
  --source_json_file``).
Every detection of the file is a prompt (neither reference filters by score or count); its category and score are
kept as they are and only its mask comes from SAM. A segmentation the file may carry (ViTDet's own mask) is ignored.

Ground-truth boxes (``--boxes gt``) are an oracle, not the paper's protocol: every non-crowd annotation's box, with
its category and score 1.0. Crowd annotations (``iscrowd=1``) are not prompted: they mark regions of many objects
that COCOeval ignores (a detection matching a crowd region is neither true nor false positive: pycocotools
cocoeval.py, evaluateImg, ``gtIg`` / ``iscrowd``), so a mask for them could only be ignored or be a false positive.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import DataError
from ..coco_format.dataset import CocoImage, box_problem
from ..coco_format.results_file import by_image, read_results

GROUND_TRUTH_SCORE = 1.0  # every ground-truth prompt ranks equally; COCOeval then keeps the file's order
TINYSAM_BOXES_NAME = "coco_instances_results_vitdet.json"
TINYSAM_BOXES_URL = "https://github.com/xinghaochen/TinySAM/releases/download/2.0/coco_instances_results_vitdet.json"
EFFICIENTVIT_BOXES_NAME = "coco_vitdet.json"
EFFICIENTVIT_BOXES_URL = (
    "https://huggingface.co/mit-han-lab/efficientvit-sam/resolve/main/source_json_file/coco_vitdet.json"
)


@dataclass(frozen=True)
class BoxPrompt:
    bbox: tuple[float, float, float, float]  # COCO [x, y, w, h] as the source gives it
    category_id: int
    score: float

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        """[x0, y0, x0 + w, y0 + h], not clipped to the image: TinySAM's eval script
        (``[b[0], b[1], b[0] + b[2], b[1] + b[3]]``) and EfficientViT-SAM's ``bbox_xywh_to_xyxy`` both pass the
        box to SamPredictor this way, and SamPredictor's ResizeLongestSide only scales it."""
        x, y, w, h = self.bbox
        return (x, y, x + w, y + h)


@dataclass(frozen=True)
class PromptedImage:
    """A sample of the box-prompted task: an image and the boxes to segment on it."""

    image: CocoImage
    prompts: tuple[BoxPrompt, ...]


def ground_truth_prompts(image: CocoImage) -> tuple[BoxPrompt, ...]:
    return tuple(
        BoxPrompt(tuple(box.bbox), box.category_id, GROUND_TRUTH_SCORE) for box in image.ground_truth if not box.iscrowd
    )


def read_detection_prompts(path: Path, source: str | None = None) -> dict[int, tuple[BoxPrompt, ...]]:
    """{image_id: box prompts in file order} from a COCO results file of boxes. Every box must be four finite numbers
    with a positive width and height (a negative one would prompt SAM with an inverted box): a DataError names the
    file and the detection otherwise. `source`: where a whole copy of the file comes from (named in errors)."""
    detections = read_results(path, ("image_id", "category_id", "bbox", "score"), source)
    for index, detection in enumerate(detections):
        problem = box_problem(detection["bbox"], allow_empty=False)
        if problem:
            raise DataError(f"{path}: detection #{index} (image {detection['image_id']}): {problem}")
    return {
        image_id: tuple(BoxPrompt(tuple(d["bbox"]), d["category_id"], d["score"]) for d in entries)
        for image_id, entries in by_image(detections).items()
    }


def attach_prompts(images: list[CocoImage], detections: dict[int, tuple[BoxPrompt, ...]] | None,
                   source: Path | None = None) -> list[PromptedImage]:  # fmt: skip
    """Each image with its detections (none if the detector found nothing), or its ground-truth boxes if
    `detections` is None. Detections of images that are not in the annotation file are an error naming `source`, the
    boxes file (a file for another split or dataset, e.g. LVIS)."""
    if detections is None:
        return [PromptedImage(image, ground_truth_prompts(image)) for image in images]
    unknown = set(detections) - {image.image_id for image in images}
    if unknown:
        shown = ", ".join(str(i) for i in sorted(unknown)[:5])
        listed_by = f"the annotation file {images[0].annotation_file}" if images else "the annotation file"
        raise DataError(
            f"{source or 'the boxes file'}: detections for {len(unknown)} images that {listed_by} does not list "
            f"(e.g. image ids {shown}): is it for another split or dataset?"
        )
    return [PromptedImage(image, detections.get(image.image_id, ())) for image in images]
