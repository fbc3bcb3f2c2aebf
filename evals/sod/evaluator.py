"""`--task sod` metric: the stored uint8 maps against the ground-truth masks.

Every protocol gets PySODMetrics' numbers (evals.sod.metrics: MAE, max/mean/adaptive F-measure, S-measure,
max/mean/adaptive E-measure, weighted F-measure; masks read with cv2.imread grayscale as its examples do) and the
MAE as SAM-Not-Perfect's scripts/sam_dice_f1_mae.py computes it (evals.sod.protocols.reference_map_mae; masks read
with PIL convert("L")). The reported `mae` is:
    oracle     the reference's: mean over images of the chosen mask's MAE, 1 where no mask was chosen
    saliency   PySODMetrics' (the standard SOD MAE)
    external   PySODMetrics'
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..base import Evaluator, Sample
from ..bootstrap import mean_interval
from .dataset import read_mask_reference
from .folders import read_gray
from .metrics import SODMetrics
from .protocols import NO_MASK_MAE, reference_map_mae

MAE_DEFINITIONS = {
    "ji2023": "SAM-Not-Perfect scripts/sam_dice_f1_mae.py: mean over images of mean |pred - gt|, gt = mask/max > 0.5, "
              "pred = map min-max stretched (/255 if constant); MAE 1 for an image with no mask of Dice > 0",
    "pysodmetrics": "PySODMetrics MAE: mean over images of mean |pred - gt|, gt = mask > 128, pred = map/255 "
                    "min-max stretched per image unless constant",
}  # fmt: skip


class SODEvaluator(Evaluator):
    def __init__(self, protocol: str):
        self.protocol = protocol
        self.reported_mae = "ji2023" if protocol == "oracle" else "pysodmetrics"

    def reset(self) -> None:
        self.metrics = SODMetrics()
        self.ids: list[str] = []
        self.reference_mae: list[float] = []
        self.chosen_dice: list[float] = []
        self.without_mask: list[str] = []
        self.s_measure_nan: list[str] = []

    def process(self, sample: Sample, prediction: dict) -> None:
        saliency = prediction["saliency"]
        try:
            scores = self.metrics.update(saliency, read_gray(sample.data.mask_path))
        except (ValueError, TypeError) as error:
            raise type(error)(f"{sample.id}: {error}") from error
        self.ids.append(sample.id)
        if math.isnan(scores.s_measure):
            self.s_measure_nan.append(sample.id)
        if self.protocol == "oracle" and prediction.get("chosen_mask") is None:
            self.without_mask.append(sample.id)
            self.reference_mae.append(NO_MASK_MAE)
        else:
            self.reference_mae.append(reference_map_mae(saliency, read_mask_reference(sample.data.mask_path)))
        if self.protocol == "oracle":
            self.chosen_dice.append(float(prediction.get("chosen_dice", 0.0)))

    def evaluate(self) -> dict:
        pysod = self.metrics.results()
        reference_mae = float(np.mean(np.array(self.reference_mae, dtype=np.float64)))
        results = {
            "mae": reference_mae if self.reported_mae == "ji2023" else pysod["mae"],
            "mae_definition": MAE_DEFINITIONS[self.reported_mae],
            "protocol": self.protocol,
            "mae_pysodmetrics": pysod["mae"],
            "mae_ji2023": reference_mae,
            **{key: value for key, value in pysod.items() if key != "mae"},
            "num_images": len(self.metrics),
        }
        # Per image (its own group): the reported MAE's 95% interval for the tables, the pairs of --compare-runs.
        per_image = self.metrics.per_image
        reported = self.reference_mae if self.reported_mae == "ji2023" else per_image["mae"]
        results["mae_ci95"] = list(mean_interval(reported, self.ids))
        results["per_sample"] = {"id": self.ids, "group": self.ids, "mae": [float(v) for v in reported],
                                 "s_measure": per_image["s_measure"], "w_f": per_image["weighted_f"]}  # fmt: skip
        if self.protocol == "oracle":
            results["oracle"] = True
            results["mean_best_dice"] = float(np.mean(self.chosen_dice))
            results["images_without_mask"] = len(self.without_mask)
            results["images_without_mask_ids"] = self.without_mask[:20]
        if self.s_measure_nan:
            warnings.warn(
                f"S-measure is NaN for {len(self.s_measure_nan)} image(s) (an empty quadrant: the foreground "
                f"centroid on the last row or column; PySODMetrics gives NaN there too), so the mean S-measure is "
                f"NaN: {', '.join(self.s_measure_nan[:5])}",
                RuntimeWarning,
                stacklevel=2,
            )
            results["s_measure_nan_images"] = self.s_measure_nan
        return results
