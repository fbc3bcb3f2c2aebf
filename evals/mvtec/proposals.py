"""SAA+'s text-guided region proposals: Grounding DINO boxes of several prompts, filtered and pooled.

Reference: caoyunkang/Segment-Any-Anomaly@SAA-plus, SAA/model.py ``bbox_suppression`` (the filter of one
prompt's boxes) and ``ensemble_text_guided_mask_proposal`` (the pool over prompts, the largest box area, and the
conversion to pixel corners). The filters, in SAA+'s order, on the detector's query boxes:
    1. score: the box's highest token probability > box threshold;
    2. area: w x h (normalised to the image) < max_area and > min_area (0: drops degenerate boxes);
    3. phrase: the caption's tokens whose probability > text threshold, decoded, must not contain the prompt's
       filter phrase (such a box names the object, not a defect).
A kept box's logit is its highest token probability. All arithmetic stays in float32 tensors, as in SAA+.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .grounding import GroundingResult


@dataclass
class Proposals:
    """Boxes kept over all the prompts of one pass, in prompt order then query order."""

    boxes: torch.Tensor  # K x 4 float32, cx, cy, w, h normalised
    logits: list[float] = field(default_factory=list)  # highest token probability per box
    phrases: list[str] = field(default_factory=list)
    prompt_indices: list[int] = field(default_factory=list)  # which prompt produced each box

    @property
    def largest_area(self) -> torch.Tensor:
        """SAA+'s ``max_box_area``: the largest normalised w x h of the kept boxes, 1 when none was kept. (For an
        object pass without a box, SAA+'s `forward` then stops with a TypeError: visual_saliency_calculation indexes
        the list ``[empty mask]`` it gets as object masks; its single-object saliency does not read them, so we go
        on, with this area 1: tests/data/protocols/mvtec/make_reference.py.)"""
        if len(self.boxes) == 0:
            return torch.tensor(1.0)
        return (self.boxes[:, 2] * self.boxes[:, 3]).max()

    def pixel_corners(self, height: int, width: int) -> torch.Tensor:
        """K x 4 float32 (x0, y0, x1, y1) in pixels, computed as SAA+ does (scale, then shift by half the size)."""
        corners = self.boxes * torch.tensor([width, height, width, height], dtype=torch.float32)
        corners[:, :2] -= corners[:, 2:] / 2
        corners[:, 2:] += corners[:, :2]
        return corners


def filter_boxes(result: GroundingResult, filter_phrase: str, box_threshold: float, text_threshold: float,
                 max_area: torch.Tensor | float, min_area: float, decode: Callable[[list[int]], str],
                 ) -> tuple[torch.Tensor, list[float], list[str]]:  # fmt: skip
    """The boxes of one caption that pass the three filters, with their logits and phrases."""
    probabilities, boxes = result.probabilities, result.boxes
    areas = boxes[:, 2] * boxes[:, 3]
    best = probabilities.max(dim=1).values if probabilities.shape[1] else torch.zeros(len(boxes))
    keep = (best > box_threshold) & (areas < max_area) & (areas > min_area)
    kept_boxes, kept_logits, kept_phrases = [], [], []
    for box, token_probabilities in zip(boxes[keep], probabilities[keep]):
        positions = torch.nonzero(token_probabilities > text_threshold).flatten().tolist()
        phrase = decode([result.input_ids[i] for i in positions])
        if filter_phrase in phrase:
            continue
        kept_boxes.append(box)
        kept_logits.append(token_probabilities.max().item())
        kept_phrases.append(phrase)
    stacked = torch.stack(kept_boxes) if kept_boxes else torch.zeros((0, 4), dtype=torch.float32)
    return stacked, kept_logits, kept_phrases


def pool_proposals(results: Sequence[GroundingResult], filter_phrases: Sequence[str], box_threshold: float,
                   text_threshold: float, max_area: torch.Tensor | float, min_area: float,
                   decode: Callable[[list[int]], str]) -> Proposals:  # fmt: skip
    """Every caption's filtered boxes, pooled (SAA+ ensemble_text_guided_mask_proposal)."""
    pooled = Proposals(boxes=torch.zeros((0, 4), dtype=torch.float32))
    parts = [pooled.boxes]
    for index, (result, filter_phrase) in enumerate(zip(results, filter_phrases, strict=True)):
        boxes, logits, phrases = filter_boxes(result, filter_phrase, box_threshold, text_threshold, max_area,
                                              min_area, decode)  # fmt: skip
        parts.append(boxes)
        pooled.logits += logits
        pooled.phrases += phrases
        pooled.prompt_indices += [index] * len(logits)
    pooled.boxes = torch.cat(parts)
    return pooled


def defect_max_area(object_proposals: Proposals, max_defect_area_fraction: float) -> torch.Tensor:
    """SAA/model.py forward: ``defect_max_area = object_area * defect_area_threshold`` (float32)."""
    return object_proposals.largest_area.float() * max_defect_area_fraction


def logits_array(proposals: Proposals) -> np.ndarray:
    return np.array(proposals.logits, dtype=np.float32)
