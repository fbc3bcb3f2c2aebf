"""The davis task's metric: each sequence's stored masks scored by the official J and F (evaluate.py), then the
official global means, x100.

Per sequence (evaluate.score_sequence, davis2017-evaluation's semi-supervised protocol): objects 1..K of the first
480p annotation, every annotated frame but the first and the last, J (region IoU) and F (boundary F-measure) per
object and frame; per object Mean / Recall / Decay. Global (evaluate.DavisResult.global_scores): plain means over
all objects of all sequences, J&F = (J + F) / 2. Reported x100 as the paper's table: "J&F", "J", "F", and the
official global table x100 ("J-Recall", "J-Decay", ...); per-object numbers kept in the official 0-1 scale.
"""
from __future__ import annotations

import numpy as np

from ..base import Evaluator, Sample
from ..bootstrap import mean_interval
from .evaluate import GLOBAL_MEASURES, SequenceScores, aggregate, count_objects, score_sequence
from .io import MissingResultFrameError

# The paper's columns (RepViT-SAM table "Video object segmentation (DAVIS 2017)"): J&F, J, F.
PAPER_KEYS = {"J&F": "J&F-Mean", "J": "J-Mean", "F": "F-Mean"}


def frames_by_name(prediction: dict) -> dict[str, np.ndarray]:
    """A stored prediction's id maps by frame name: `masks` (T x H x W uint8) in the order of `frame_names`."""
    masks, names = prediction["masks"], list(prediction["frame_names"])
    if len(masks) != len(names):
        raise ValueError(f"prediction holds {len(masks)} masks for {len(names)} frame names")
    return dict(zip(names, masks))


class DavisEvaluator(Evaluator):
    def reset(self) -> None:
        self.scores: list[SequenceScores] = []

    def process(self, sample: Sample, prediction: dict) -> None:
        sequence = sample.data.sequence
        frames = frames_by_name(prediction)

        def read(frame_name: str) -> np.ndarray:
            if frame_name not in frames:
                raise MissingResultFrameError(f"sequence {sequence.name!r}: no prediction for frame {frame_name}")
            return frames[frame_name]

        self.scores.append(score_sequence(sequence, count_objects(sequence), read))

    def evaluate(self) -> dict:
        result = aggregate(self.scores)
        official = result.global_scores()
        metrics = {key: 100 * official[measure] for key, measure in PAPER_KEYS.items()}
        metrics.update({measure: 100 * official[measure] for measure in GLOBAL_MEASURES})
        metrics["num_sequences"] = len(self.scores)
        metrics["num_objects"] = len(result.objects)
        metrics["per_object"] = result.to_dict()["per_object"]
        # Per object, grouped by sequence: the 95% intervals of the tables and --compare-runs (evals/bootstrap.py).
        # J&F is the mean over objects of (J-Mean + F-Mean) / 2, so its per-object value is that object's.
        per_object = {"J&F": [100 * (o.J.mean + o.F.mean) / 2 for o in result.objects],
                      "J": [100 * o.J.mean for o in result.objects], "F": [100 * o.F.mean for o in result.objects]}
        groups = [o.sequence for o in result.objects]
        for key, values in per_object.items():
            metrics[f"{key}_ci95"] = list(mean_interval(values, groups))
        metrics["per_sample"] = {"id": [o.name for o in result.objects], "group": groups, **per_object}
        return metrics
