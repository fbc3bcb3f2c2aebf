"""Another method's masks for the prompts of a prompt file (`--predictions FILE` with `--prompts FILE`): any
interactive method, run outside samzero on a frozen prompt file, is scored here exactly as a model run on it is.

Format (JSON, version 1):
    {"format": "samzero-interactive-masks", "version": 1,
     "images": {"<image id>": {"<annotation id>": {"box": <mask> | null,
                                                    "clicks": [<mask after click 1>, <mask after click 2>, ...]}}}}
Each mask answers the prompt file's prompts of that object: "box" its box, "clicks"[k - 1] its first k clicks. A
mask is any COCO segmentation at the image's size (compressed or uncompressed RLE, or polygons), as in COCO
results files.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from ..protocols.coco_format.rle import compressed_rle, decode_mask
from .efficientvit import MIN_AREA, FrozenPrompts, iou_percent
from .instances import AnnotatedImage
from .prompt_file import object_entries, read_versioned

FORMAT = "samzero-interactive-masks"
VERSION = 1


def read_mask_file(path: Path) -> dict[int, dict[int, dict]]:
    """{image id: {annotation id: {"box": mask | None, "clicks": [mask, ...]}}}, masks as the file gives them; a
    DataError naming the file for anything that is not a version-1 mask file."""
    content = read_versioned(path, FORMAT, VERSION, "mask file", "see evals/interactive/mask_file.py")
    masks: dict[int, dict[int, dict]] = {}
    for image_id, annotation_id, entry, where in object_entries(path, content):
        if not isinstance(entry, dict) or not isinstance(entry.get("clicks", []), list):
            raise DataError(f"{where}: expected {{\"box\": mask or null, \"clicks\": [mask, ...]}}, got {str(entry)[:80]}")
        masks.setdefault(image_id, {})[annotation_id] = {"box": entry.get("box"), "clicks": entry.get("clicks", [])}
    return masks


def score_masks(path: Path, masks: dict[int, dict], annotated: AnnotatedImage, prompts: dict[int, FrozenPrompts],
                prompt_types: list[str], clicks: int) -> list[dict]:  # fmt: skip
    """The task's object records for one image from its saved masks: the objects the protocol prompts (area >= 1),
    the prompts they answered, and the IoU of each mask with the ground truth."""
    image = annotated.image
    records = []
    for instance in annotated.instances:
        if instance.area < MIN_AREA:
            continue
        where = f"{path}: image {image.image_id}, annotation {instance.annotation_id}"
        saved, prompt = masks.get(instance.annotation_id), prompts.get(instance.annotation_id)
        if saved is None or prompt is None:
            missing = "mask file" if saved is None else "prompt file (--prompts)"
            raise DataError(f"{where}: not in the {missing}; every object of area >= {MIN_AREA:g} is scored")
        truth = instance.mask(image.height, image.width)
        record = {"annotation_id": instance.annotation_id, "area": instance.area, "box": None, "box_iou": None,
                  "box_mask": None, "clicks": [], "ious": [], "mask": None}  # fmt: skip
        if "box" in prompt_types:
            if saved["box"] is None or prompt.box is None:
                raise DataError(f"{where}: no box mask, or no box in the prompt file, for --prompt-types box")
            record.update(box=list(prompt.box), box_mask=_mask(saved["box"], image, where))
            record["box_iou"] = iou_percent(decode_mask(record["box_mask"]), truth)
        if "point" in prompt_types and clicks:
            if len(saved["clicks"]) < clicks or len(prompt.clicks) < clicks:
                raise DataError(f"{where}: {len(saved['clicks'])} click masks and {len(prompt.clicks)} prompt-file "
                                f"clicks; --clicks {clicks} scores the first {clicks} of each")  # fmt: skip
            answers = [_mask(m, image, f"{where}, click {k + 1}") for k, m in enumerate(saved["clicks"][:clicks])]
            record.update(clicks=[list(c) for c in prompt.clicks[:clicks]], mask=answers[-1],
                          ious=[iou_percent(decode_mask(m), truth) for m in answers])  # fmt: skip
        records.append(record)
    return records


def _mask(segmentation, image, where: str) -> dict:
    try:
        return compressed_rle(segmentation, image.height, image.width)
    except (ValueError, TypeError) as error:
        raise DataError(f"{where}: {error}") from None
