"""SAM's zero-shot edge detection: a promptable model -> one soft, thinned edge map per image.

Source: Kirillov et al., "Segment Anything", arXiv 2304.02643, section 7.2 and appendix D.2. SAM never
released this code; D.2 describes it in five sentences:

    "We prompt SAM with a 16x16 regular grid of foreground points, which yields 768 predicted masks (three
    per point). We do not filter by predicted IoU or stability. Redundant masks are removed by NMS. Then we
    apply a Sobel filter to the remaining masks' unthresholded probability maps and set values to zero if
    they do not intersect with the outer boundary pixels of a mask. Finally, we take a pixel-wise max over
    all the predictions, linearly normalize the result to [0,1], and apply edge NMS [13] to thin the edges."

Every step is an entry of `EdgeParams`, documented there with its source. The paper leaves open: the NMS
threshold and kind, what "outer boundary pixels" are, the Sobel variant, and which edge NMS (it cites Canny
[13]) with which parameters. The choices made here fill those gaps with the conventions of the code the
paper builds on (segment_anything's automatic mask generator) and of the BSDS literature (P. Dollar's
Structured Edge toolbox, whose edge NMS the BSDS detectors use); each is marked "paper: open" below.

Computation: the grid is decoded in batches; a first pass collects every mask's box and predicted IoU (and,
within a memory budget, its logits), box NMS picks the masks to keep, and a second pass turns each kept mask
into its boundary responses, folded into a running pixel-wise max (batches that did not fit the budget are
decoded again; decoding is deterministic). Nothing of size (masks x H x W) beyond one batch and the cache is
ever held. The Sobel filter is evaluated only at boundary pixels (the only ones that survive the masking),
which gives exactly the values of filtering the whole probability map and then masking it.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from segment_anything.utils.amg import build_point_grid, calculate_stability_score
from torchvision.ops.boxes import batched_nms

from evals.bsds.edge_nms import edge_nms, edge_orientation
from evals.bsds.edge_params import BOUNDARY_MODES, EdgeParams

def point_grid(points_per_side: int, height: int, width: int) -> np.ndarray:
    """(n*n, 2) float (x, y) pixel coordinates of AMG's regular grid on an H x W image."""
    return build_point_grid(points_per_side) * np.array([[width, height]], dtype=np.float64)


def mask_boxes(logits: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """(K, 4) XYXY boxes of the masks ``logits > threshold`` of (K, H, W) logits; [0, 0, 0, 0] when empty.

    Identical to ``amg.batched_mask_to_box(logits > threshold)`` (tested) without materialising the masks: a
    row holds a mask pixel iff its maximum logit exceeds the threshold. About twice as fast on CPU.
    """
    k, h, w = logits.shape
    rows = logits.amax(dim=2) > threshold  # K x H
    cols = logits.amax(dim=1) > threshold  # K x W
    top = rows.to(torch.uint8).argmax(dim=1)
    bottom = (h - 1) - rows.flip(1).to(torch.uint8).argmax(dim=1)
    left = cols.to(torch.uint8).argmax(dim=1)
    right = (w - 1) - cols.flip(1).to(torch.uint8).argmax(dim=1)
    boxes = torch.stack([left, top, right, bottom], dim=1)
    return boxes * rows.any(dim=1, keepdim=True)


def redundant_mask_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices (descending score) of the masks kept by AMG's box NMS: `batched_nms` with one category."""
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long)
    boxes, scores = boxes.float().cpu(), scores.float().cpu()
    return batched_nms(boxes, scores, torch.zeros(len(boxes), dtype=torch.long), iou_threshold=iou_threshold)


def _erode4(masks: torch.Tensor) -> torch.Tensor:
    """4-connected erosion of (K, H, W) bool masks; outside the image counts as inside."""
    out = masks.clone()
    out[:, 1:, :] &= masks[:, :-1, :]
    out[:, :-1, :] &= masks[:, 1:, :]
    out[:, :, 1:] &= masks[:, :, :-1]
    out[:, :, :-1] &= masks[:, :, 1:]
    return out


def _dilate4(masks: torch.Tensor) -> torch.Tensor:
    out = masks.clone()
    out[:, 1:, :] |= masks[:, :-1, :]
    out[:, :-1, :] |= masks[:, 1:, :]
    out[:, :, 1:] |= masks[:, :, :-1]
    out[:, :, :-1] |= masks[:, :, 1:]
    return out


def boundary_band(masks: torch.Tensor, mode: str = "inner", width: int = 1) -> torch.Tensor:
    """(K, H, W) bool: the boundary pixels of each mask (see `EdgeParams.boundary`)."""
    if mode not in BOUNDARY_MODES:
        raise ValueError(f"boundary must be one of {BOUNDARY_MODES}, got {mode!r}")
    band = torch.zeros_like(masks)
    if mode in ("inner", "both"):
        eroded = masks
        for _ in range(width):
            eroded = _erode4(eroded)
        band |= masks & ~eroded
    if mode in ("outer", "both"):
        dilated = masks
        for _ in range(width):
            dilated = _dilate4(dilated)
        band |= dilated & ~masks
    return band


def sobel_magnitude_at(
    maps: torch.Tensor, k: torch.Tensor, y: torch.Tensor, x: torch.Tensor, logits: bool = True
) -> torch.Tensor:
    """Sobel gradient magnitude of map k at pixels (y, x) of a (K, H, W) stack, replicated border.

    With logits=True the maps are logits and the filter runs on their sigmoid (the probability map).
    Equal to filtering the whole map and reading it at (y, x).
    """
    _, h, w = maps.shape
    ym, yp = (y - 1).clamp(min=0), (y + 1).clamp(max=h - 1)
    xm, xp = (x - 1).clamp(min=0), (x + 1).clamp(max=w - 1)

    def at(yy, xx):
        v = maps[k, yy, xx]
        return torch.sigmoid(v) if logits else v

    nw, n, ne = at(ym, xm), at(ym, x), at(ym, xp)
    wst, est = at(y, xm), at(y, xp)
    sw, s, se = at(yp, xm), at(yp, x), at(yp, xp)
    gx = ((ne + 2 * est + se) - (nw + 2 * wst + sw)) / 8
    gy = ((sw + 2 * s + se) - (nw + 2 * n + ne)) / 8
    return torch.sqrt(gx * gx + gy * gy)


def accumulate_boundary_edges(logits: torch.Tensor, params: EdgeParams, running_max: torch.Tensor) -> None:
    """Fold the boundary-masked Sobel responses of (K, H, W) mask logits into the (H, W) `running_max`."""
    if len(logits) == 0:
        return
    logits = logits.float()
    masks = logits > params.mask_threshold
    if params.fill_holes:
        filled = [ndimage.binary_fill_holes(m) for m in masks.cpu().numpy()]
        masks = torch.from_numpy(np.stack(filled)).to(logits.device)
    k, y, x = boundary_band(masks, params.boundary, params.boundary_width).nonzero(as_tuple=True)
    if len(k) == 0:
        return
    response = sobel_magnitude_at(logits, k, y, x).to(running_max.dtype)
    flat = running_max.view(-1)
    flat.scatter_reduce_(0, (y * logits.shape[2] + x).to(flat.device), response.to(flat.device), reduce="amax")


def _decode(model, points: np.ndarray, params: EdgeParams) -> tuple[torch.Tensor, torch.Tensor]:
    """(n*C, H, W) logits and (n*C,) predicted IoU for n single-point foreground prompts, point-major."""
    # numpy points: scaled to the model's input as SamPredictor.predict scales them (float64, then float32). SAM's
    # edge code is unreleased; its automatic mask generator (amg.py, _process_batch) keeps the float64 points through
    # the prompt encoder's normalisation, a difference in the last float32 bit that PromptModel.predict has no path for.
    out = model.predict(
        point_coords=points[:, None, :],
        point_labels=np.ones((len(points), 1), dtype=np.int64),
        multimask_output=params.multimask,
    )
    return out.logits.flatten(0, 1), out.iou.flatten(0, 1)


def sam_edge_response(model, image: np.ndarray, params: EdgeParams | None = None) -> tuple[np.ndarray, dict]:
    """The protocol up to, not including, edge NMS: (H, W) float32 in [0, 1] and counts of what it did."""
    params = params or EdgeParams()
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {image.shape}")
    h, w = image.shape[:2]
    model.set_image(image)
    points = point_grid(params.points_per_side, h, w)
    starts = range(0, len(points), params.points_per_batch)

    # Pass 1: boxes, scores, validity of every mask; logits of the first batches within the cache budget.
    boxes, scores, valid, cache = [], [], [], {}
    cached_bytes = 0
    for b, start in enumerate(starts):
        logits, iou = _decode(model, points[start : start + params.points_per_batch], params)
        ok = torch.ones(len(iou), dtype=torch.bool, device=iou.device)
        if params.pred_iou_thresh > 0:
            ok &= iou > params.pred_iou_thresh
        if params.stability_score_thresh > 0:
            stability = calculate_stability_score(logits, params.mask_threshold, params.stability_score_offset)
            ok &= stability >= params.stability_score_thresh
        boxes.append(mask_boxes(logits, params.mask_threshold).cpu())
        scores.append(iou.float().cpu())
        valid.append(ok.cpu())
        size = logits.numel() * logits.element_size()
        if cached_bytes + size <= params.cache_bytes:
            cache[b] = logits
            cached_bytes += size
        del logits
    boxes_t, scores_t, valid_t = torch.cat(boxes), torch.cat(scores), torch.cat(valid)
    per_batch = len(scores[0]) if scores else 0  # masks per full batch

    candidates = valid_t.nonzero(as_tuple=True)[0]
    keep = candidates[redundant_mask_nms(boxes_t[candidates], scores_t[candidates], params.nms_iou)]

    # Pass 2: boundary-masked Sobel of each kept mask, folded into a running max.
    running_max = None  # on the device of the logits
    keep_sorted = keep.sort().values
    decoded_again = 0
    for b, start in enumerate(starts):
        lo = b * per_batch
        sel = keep_sorted[(keep_sorted >= lo) & (keep_sorted < lo + per_batch)] - lo
        if len(sel) == 0:
            continue
        logits = cache.pop(b, None)
        if logits is None:
            logits, _ = _decode(model, points[start : start + params.points_per_batch], params)
            decoded_again += 1
        if running_max is None:
            running_max = torch.zeros(h, w, dtype=torch.float32, device=logits.device)
        accumulate_boundary_edges(logits[sel.to(logits.device)], params, running_max)
        del logits
    cache.clear()

    # Linear normalisation to [0, 1] (paper D.2); an all-zero map stays zero.
    edges = np.zeros((h, w), np.float32) if running_max is None else running_max.cpu().numpy()
    peak = float(edges.max()) if edges.size else 0.0
    if peak > 0:
        edges = edges / np.float32(peak)
    info = {
        "masks": int(len(scores_t)),  # decoded masks (768 by default)
        "valid": int(valid_t.sum()),  # after the (default: disabled) IoU / stability filters
        "kept": int(len(keep)),  # after box NMS
        "kept_indices": keep.tolist(),  # point-major: mask j of point i is i * C + j
        "peak": peak,  # the max response, divided out
        "batches": len(starts),
        "batches_decoded_again": decoded_again,  # second-pass decodes of batches beyond the cache budget
    }
    return edges.astype(np.float32), info


def sam_edge_map(model, image: np.ndarray, params: EdgeParams | None = None) -> np.ndarray:
    """SAM's zero-shot edge map of `image` (H x W x 3 uint8 RGB): float32 (H, W) in [0, 1], after edge NMS."""
    params = params or EdgeParams()
    edges, _ = sam_edge_response(model, image, params)
    if not params.apply_edge_nms or min(edges.shape) < 2:
        return edges
    orientation = edge_orientation(edges, params.orientation_smoothing)
    return edge_nms(edges, orientation, params.nms_radius, params.nms_border, params.nms_multiplier)
