"""Grounding-DINO on a closed list of category names: the caption, the token-span -> category map and the top-k
selection, exactly as SysCV/sam-hq evaluates SegInW (the "Grounded SAM" protocol).

Sources (github.com/SysCV/sam-hq, folder seginw/):
- test_ap_on_seginw.py, ``main``: the model's caption is ``" . ".join(cat_list) + ' .'`` with ``cat_list`` the
  names of the annotation file's categories in file order (``dataset.coco.dataset['categories']``), as written (the
  uncased BERT tokenizer lowercases).
- test_ap_on_seginw.py, ``PostProcessSeginw.__init__``: ``build_captions_and_token_span(cat_list, False)`` and
  ``create_positive_map_from_span(tokenlizer(captions), tokenspanlist)``, both from
  GroundingDINO/groundingdino/util/vl_utils.py: each category's words are character spans of a second caption
  (words joined by single spaces, " ." after each category), mapped to token indices with ``char_to_token``; the
  category's row of the "positive map" is 1 on the tokens from its first word's first token to its last word's
  last token, divided by (number of those tokens + 1e-6).
- test_ap_on_seginw.py, ``PostProcessSeginw.forward``: ``prob = sigmoid(pred_logits) @ positive_map.T`` (queries x
  categories: the MEAN of the per-token probabilities over the category's tokens, not the max), then the top
  ``num_select`` = 100 (``--num_select`` default) over the flattened queries x categories, no score threshold; a
  selected entry's query gives the box (index // number of categories) and its category the label (index % number
  of categories); boxes cxcywh -> xyxy (groundingdino/util/box_ops.py ``box_cxcywh_to_xyxy``), times the original
  image's [w, h, w, h]. A query may thus appear several times, once per category.

Pure torch: the tokenizer (any `transformers` fast tokenizer: ``char_to_token``) and the logits come from outside.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

# GroundingDINO_SwinB.py (seginw/GroundingDINO/groundingdino/config) ``max_text_len = 256``; vl_utils.py
# ``create_positive_map_from_span(..., max_text_len=256)``: the width of the logits and of the positive map.
MAX_TEXT_LEN = 256
# test_ap_on_seginw.py ``--num_select`` default 100: detections kept per image.
NUM_SELECT = 100
# vl_utils.py create_positive_map_from_span: ``positive_map / (positive_map.sum(-1)[:, None] + 1e-6)``.
POSITIVE_MAP_EPS = 1e-6
# test_ap_on_seginw.py main: ``caption = " . ".join(cat_list) + ' .'``.
CATEGORY_SEPARATOR = " . "
CAPTION_END = " ."


def detection_caption(category_names: list[str]) -> str:
    """The text the model reads: ``"Airplane . Body . Cockpit . Engine . Wing ."`` (sam-hq's logs print these)."""
    return CATEGORY_SEPARATOR.join(category_names) + CAPTION_END


def caption_token_spans(category_names: list[str]) -> tuple[str, list[list[tuple[int, int]]]]:
    """(span caption, character spans of each category's words), as vl_utils.build_captions_and_token_span(cat_list,
    force_lowercase=False): names are split on single spaces, each word stripped, empty words dropped.

    Differences, none of which a SegInW name meets: a name without any word is an error (sam-hq fails with a
    KeyError); a name with "/" keeps its full text, where sam-hq draws one of its parts or the full name at random and
    then fails with a KeyError unless it drew the full name (so every run of sam-hq that completes used it). Two
    categories with the same name both get the spans of the last one, as sam-hq's name-keyed dict does.
    """
    spans_by_name: dict[str, list[tuple[int, int]]] = {}
    caption = ""
    for name in category_names:
        spans = []
        for word in (part.strip() for part in name.strip().split(" ")):
            if not word:
                continue
            if caption:
                caption += " "
            spans.append((len(caption), len(caption) + len(word)))
            caption += word
        if not spans:
            raise ValueError(f"category name {name!r} has no word to ground")
        caption += CAPTION_END
        spans_by_name[name] = spans
    return caption, [spans_by_name[name] for name in category_names]


def _char_to_token(encoding, index: int):
    try:
        return encoding.char_to_token(index)
    except Exception:  # noqa: BLE001 - vl_utils.py: a bare ``except`` around the fallback look-ups
        return None


def positive_map_from_spans(
    encoding, spans: list[list[tuple[int, int]]], max_text_len: int = MAX_TEXT_LEN
) -> torch.Tensor:
    """categories x max_text_len float map, rows normalised (vl_utils.create_positive_map_from_span): for each word
    span [beg, end), the tokens of characters beg and end - 1 (if a character has no token, e.g. a space, the next
    one or two characters for beg, the previous one or two for end); a word whose look-up fails adds nothing.
    ``encoding`` is the tokenizer's output for the span caption (`caption_token_spans`)."""
    positive_map = torch.zeros((len(spans), max_text_len), dtype=torch.float)
    for row, word_spans in enumerate(spans):
        for beg, end in word_spans:
            beg_pos = encoding.char_to_token(beg)
            end_pos = encoding.char_to_token(end - 1)
            if beg_pos is None:
                beg_pos = _char_to_token(encoding, beg + 1)
                if beg_pos is None:
                    beg_pos = _char_to_token(encoding, beg + 2)
            if end_pos is None:
                end_pos = _char_to_token(encoding, end - 2)
                if end_pos is None:
                    end_pos = _char_to_token(encoding, end - 3)
            if beg_pos is None or end_pos is None:
                continue
            positive_map[row, beg_pos : end_pos + 1].fill_(1)  # past max_text_len: cut, as the original slice
    return positive_map / (positive_map.sum(-1)[:, None] + POSITIVE_MAP_EPS)


def box_cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """groundingdino/util/box_ops.py box_cxcywh_to_xyxy."""
    x_c, y_c, w, h = boxes.unbind(-1)
    return torch.stack([(x_c - 0.5 * w), (y_c - 0.5 * h), (x_c + 0.5 * w), (y_c + 0.5 * h)], dim=-1)


@dataclass(frozen=True)
class GroundedDetections:
    """The selected detections of one image, best first."""

    scores: torch.Tensor  # K, float32
    labels: torch.Tensor  # K, index into the category list
    boxes_xyxy: torch.Tensor  # K x 4, float32 pixels of the original image, not clipped
    queries: torch.Tensor  # K, the decoder query each detection comes from


def select_top_detections(
    logits: torch.Tensor, pred_boxes: torch.Tensor, positive_map: torch.Tensor, image_size: tuple[int, int],
    num_select: int = NUM_SELECT,
) -> GroundedDetections:  # fmt: skip
    """PostProcessSeginw.forward for one image: `logits` 1 x Q x max_text_len (the last decoder layer's
    ``pred_logits``), `pred_boxes` 1 x Q x 4 (normalised cxcywh), `image_size` (height, width) of the original image.

    Where queries x categories has fewer than `num_select` entries all are kept (sam-hq's ``torch.topk`` would fail;
    the real model has 900 queries)."""
    if logits.ndim != 3 or logits.shape[0] != 1 or pred_boxes.shape[:2] != logits.shape[:2]:
        shapes = f"{tuple(logits.shape)}, {tuple(pred_boxes.shape)}"
        raise ValueError(f"expected 1 x Q x T logits and 1 x Q x 4 boxes, got {shapes}")
    prob_to_token = logits.sigmoid()
    prob = prob_to_token @ positive_map.to(prob_to_token.device).T  # 1 x Q x C
    num_categories = prob.shape[2]
    scores, indexes = torch.topk(prob.view(1, -1), min(num_select, prob[0].numel()), dim=1)
    queries = indexes // num_categories
    labels = indexes % num_categories
    boxes = torch.gather(box_cxcywh_to_xyxy(pred_boxes), 1, queries.unsqueeze(-1).repeat(1, 1, 4))
    height, width = image_size
    # orig_size is an int64 tensor in sam-hq (``torch.as_tensor([int(h), int(w)])``): float32 boxes x int64 -> float32
    scale = torch.as_tensor([width, height, width, height], dtype=torch.int64, device=boxes.device)
    boxes = boxes * scale[None, None, :]
    return GroundedDetections(scores=scores[0], labels=labels[0], boxes_xyxy=boxes[0], queries=queries[0])
