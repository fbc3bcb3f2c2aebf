"""SAM's automatic mask generator settings, the protocols' shared starting point (SOD, UVO).

`SamAutomaticMaskGenerator.__init__`'s defaults in segment-anything 1.0 (automatic_mask_generator.py), written out as
data so that the command line shows them without importing torch; tests/test_amg_defaults.py holds them equal to the
installed package's signature. The protocols that use automatic masks (SAM-Not-Perfect's amg.py for salient
objects, SAM-PT's vis_eval_root.yaml for UVO) keep them all. Every family's `generate` takes these arguments.
"""
from __future__ import annotations

AMG_DEFAULTS: dict = {
    "points_per_side": 32,
    "points_per_batch": 64,
    "pred_iou_thresh": 0.88,
    "stability_score_thresh": 0.95,
    "stability_score_offset": 1.0,
    "box_nms_thresh": 0.7,
    "crop_n_layers": 0,
    "crop_nms_thresh": 0.7,
    "crop_overlap_ratio": 512 / 1500,
    "crop_n_points_downscale_factor": 1,
    "point_grids": None,
    "min_mask_region_area": 0,
    "output_mode": "binary_mask",
}
