"""SAM's automatic mask generator settings, the protocols' shared starting point (SOD, UVO).

`AmgParams`'s defaults are `SamAutomaticMaskGenerator.__init__`'s in segment-anything 1.0
(automatic_mask_generator.py), written out as data so that the command line shows them without importing torch;
tests/test_amg_defaults.py holds them equal to the installed package's signature. The protocols that use automatic
masks (SAM-Not-Perfect's amg.py for salient objects, SAM-PT's vis_eval_root.yaml for UVO) keep them all. Every
family's `generate` takes these arguments: `model.generate(image, **amg.to_dict())`.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..params import Params


@dataclass(frozen=True)
class AmgParams(Params):
    """SamAutomaticMaskGenerator's arguments (each default: its signature, segment-anything 1.0)."""

    points_per_side: int = 32  # the point grid: points_per_side x points_per_side prompts on the image
    points_per_batch: int = 64  # prompts per decoder call: speed and memory only
    pred_iou_thresh: float = 0.88  # keep masks whose predicted IoU is above this
    stability_score_thresh: float = 0.95  # keep masks whose stability score is at least this
    stability_score_offset: float = 1.0  # the logit offset of the stability score
    box_nms_thresh: float = 0.7  # the box NMS between the masks of one crop
    crop_n_layers: int = 0  # crop layers (0: the whole image only)
    crop_nms_thresh: float = 0.7  # the box NMS between the masks of different crops
    crop_overlap_ratio: float = 512 / 1500  # the crops' overlap
    crop_n_points_downscale_factor: int = 1  # the point grid's reduction per crop layer
    point_grids: list | None = None  # explicit point grids instead of points_per_side
    min_mask_region_area: int = 0  # small disconnected regions and holes removed below this area (0: none)
    output_mode: str = "binary_mask"  # the records' "segmentation": binary_mask, uncompressed_rle or coco_rle


# The same defaults as keyword arguments (the demo app's sliders start from them).
AMG_DEFAULTS: dict = AmgParams().to_dict()
