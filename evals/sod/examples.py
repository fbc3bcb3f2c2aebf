"""The report's SOD examples: each image ranked by minus its MAE, drawn as image / predicted map / ground truth.

The MAE is the one the run reports (evaluator.py), for the image alone: oracle runs SAM-Not-Perfect's
(`reference_map_mae`; 1 when no mask was chosen), saliency and external runs PySODMetrics'. The run's `mae` is the
mean of these over the images.
"""
from __future__ import annotations

import numpy as np
from segment_anything.utils.amg import build_point_grid

from .. import visual
from ..protocols.amg import AmgParams
from .dataset import SODImage, read_mask_reference
from .folders import read_gray
from .metrics import mean_absolute_error
from .prepare import PreparedPair
from .protocols import NO_MASK_MAE, reference_map_mae


def image_mae(protocol: str, image: SODImage, prediction: dict) -> float:
    saliency = prediction["saliency"]
    if protocol == "oracle":
        if prediction.get("chosen_mask") is None:
            return NO_MASK_MAE
        return reference_map_mae(saliency, read_mask_reference(image.mask_path))
    return mean_absolute_error(PreparedPair(saliency, read_gray(image.mask_path)))


def point_grid(points_per_side: int, height: int, width: int) -> np.ndarray:
    """The automatic mask generator's prompts (x, y) in pixels of the image."""
    return build_point_grid(points_per_side) * np.array([width, height])


def draw(protocol: str, amg: AmgParams | None, image: SODImage, prediction: dict) -> dict[str, np.ndarray]:
    """`amg`: the run's automatic-mask-generator parameters (None: the masks came from elsewhere)."""
    truth = read_gray(image.mask_path)
    rgb = visual.read_rgb(image.image_path)
    rgb = visual.blank(*truth.shape) if rgb is None else visual.resize_to(rgb, truth.shape)
    prompts = {"image": rgb}
    if amg is not None:
        grid = point_grid(amg.points_per_side, *truth.shape)
        prompts = {f"image and the {amg.points_per_side}x{amg.points_per_side} point grid":
                   visual.draw_points(rgb, grid, 0)}  # fmt: skip
    predicted = "chosen mask (oracle: best Dice with the ground truth)" if protocol == "oracle" else "saliency map"
    saliency = np.asarray(prediction["saliency"])
    if saliency.size and saliency.max() > 0:
        panel = visual.as_rgb(saliency)
    else:  # no mask chosen / an all-zero map: said in words, not drawn black
        predicted = "chosen mask: none" if protocol == "oracle" else "saliency map: empty (all zero)"
        panel = visual.no_mask(*(saliency.shape if saliency.ndim == 2 and saliency.size else truth.shape))
    return {**prompts, predicted: panel, "ground truth": visual.as_rgb(truth)}
