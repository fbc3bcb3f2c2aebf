"""SAM's automatic mask generator doing less work for the same records.

`FastSamAutomaticMaskGenerator` takes the arguments of segment-anything 1.0's `SamAutomaticMaskGenerator` and returns
its records bit for bit, in the same order (tests/test_fast_amg.py). Only `_process_batch` is replaced. The official
one decodes every point of a batch with its own copy of the image side, upsamples all three candidates of every point
to 1024x1024 and then to the image, and only then filters by predicted IoU. Here, on the official batches of points:
- the decoder's first block computes the image side once (models/shared_image_decoder.py);
- the predicted IoUs come first; only the points with a candidate above the threshold are upscaled in the decoder
  and upsampled, a few points at a time, and only their candidates that pass the filter are kept;
- from the stability score on, the official steps run on the same values; the masks' RLEs are encoded as
  `mask_to_rle_pytorch` encodes them, with the change points split by mask once (`mask_to_rle`).

Why the upsampling of a subset gives the same bits: bilinear interpolation computes each output value of a plane from
four input values with weights that depend only on the output coordinate and the sizes; but ATen picks the kernel
from the input's shape (on CPU with 1 thread, a channels-last kernel for C == 3, a generic one otherwise, which differ
in the last bit). A point's three candidates are upsampled together, as the official B x 3 x 256 x 256 batch, so
the same kernel runs on the same planes.
Not done, because it would not be exact: regrouping points into other batches (the token side's small matrix
products are not batch-invariant), or one interpolation in place of the two (256 -> 1024, crop, -> image size).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.utils.amg import (
    MaskData,
    batched_mask_to_box,
    calculate_stability_score,
    is_box_near_crop_edge,
    uncrop_masks,
)

from .shared_image_decoder import SharedImageDecoding, shares_image_side

MULTIMASK = slice(1, None)  # MaskDecoder.forward with multimask_output=True: tokens 1-3, as the generator asks


class FastSamAutomaticMaskGenerator(SamAutomaticMaskGenerator):
    """SamAutomaticMaskGenerator (same arguments, same records) that decodes the image side once per batch and
    upsamples only the points with a candidate above the predicted-IoU threshold, `upsample_points` at a time (on
    the CPU, where this is checked; elsewhere the official steps run)."""

    upsample_points = 6  # 18 candidates: a 72 MiB float intermediate at 1024x1024

    def _process_batch(
        self, points: np.ndarray, im_size: Tuple[int, ...], crop_box: list, orig_size: Tuple[int, ...]
    ) -> MaskData:
        predictor, sam = self.predictor, self.predictor.model
        if not shares_image_side(sam.mask_decoder, predictor.device):
            return super()._process_batch(points, im_size, crop_box, orig_size)
        orig_h, orig_w = orig_size

        # SamPredictor.predict_torch's calls on the official batch, the decoder split at its IoU head
        transformed_points = predictor.transform.apply_coords(points, im_size)
        in_points = torch.as_tensor(transformed_points, device=predictor.device)
        in_labels = torch.ones(in_points.shape[0], dtype=torch.int, device=in_points.device)
        sparse, dense = sam.prompt_encoder(points=(in_points[:, None, :], in_labels[:, None]), boxes=None, masks=None)
        decoding = SharedImageDecoding(sam.mask_decoder, predictor.features, sam.prompt_encoder.get_dense_pe(),
                                       sparse, dense)  # fmt: skip
        iou_preds = decoding.iou_pred[:, MULTIMASK]
        passes_iou = iou_preds > self.pred_iou_thresh if self.pred_iou_thresh > 0.0 else torch.ones_like(iou_preds, dtype=torch.bool)  # fmt: skip
        data = MaskData(iou_preds=iou_preds.flatten(0, 1),
                        points=torch.as_tensor(points.repeat(iou_preds.shape[1], axis=0)))  # fmt: skip
        data.filter(passes_iou.flatten())

        # The surviving points' masks, a few points at a time; the binary masks of those stable enough
        scores, stable, masks = [], [], []
        surviving_points = passes_iou.any(dim=1).nonzero().flatten()
        for chunk in surviving_points.split(self.upsample_points) if len(surviving_points) else ():
            low_res = decoding.low_res_masks(chunk)[:, MULTIMASK]
            logits = sam.postprocess_masks(low_res, predictor.input_size, predictor.original_size)[passes_iou[chunk]]
            score = calculate_stability_score(logits, sam.mask_threshold, self.stability_score_offset)
            keep = score >= self.stability_score_thresh if self.stability_score_thresh > 0.0 else torch.ones_like(score, dtype=torch.bool)  # fmt: skip
            scores.append(score)
            stable.append(keep)
            masks.append(logits[keep] > sam.mask_threshold)
        if masks:
            data["stability_score"] = torch.cat(scores)
            data.filter(torch.cat(stable))
            data["masks"] = torch.cat(masks)
        else:  # the dtypes and shapes the official steps give an empty batch
            data["stability_score"] = torch.zeros(0, dtype=torch.float32, device=predictor.device)
            data["masks"] = torch.zeros((0, *im_size), dtype=torch.bool, device=predictor.device)

        # The official steps from here on
        data["boxes"] = batched_mask_to_box(data["masks"])
        keep_mask = ~is_box_near_crop_edge(data["boxes"], crop_box, [0, 0, orig_w, orig_h])
        if not torch.all(keep_mask):
            data.filter(keep_mask)
        data["masks"] = uncrop_masks(data["masks"], crop_box, orig_h, orig_w)
        data["rles"] = mask_to_rle(data["masks"])
        del data["masks"]
        return data


def mask_to_rle(masks: torch.Tensor) -> list[dict]:
    """`mask_to_rle_pytorch(masks)`, the same RLEs. It selects each mask's change points from those of all masks, one
    pass over them per mask: noise-like masks (untrained weights) have ~10^5 and made it a quarter of a batch's time.
    `nonzero` lists them mask by mask, so here they are split once by their count per mask."""
    b, h, w = masks.shape
    columns = masks.permute(0, 2, 1).flatten(1)  # Fortran order, as COCO's RLE
    changes = (columns[:, 1:] ^ columns[:, :-1]).nonzero()
    per_mask = changes[:, 1].split(torch.bincount(changes[:, 0], minlength=b).tolist())
    rles = []
    for first, change_points in zip(columns[:, 0].tolist(), per_mask):
        bounds = np.concatenate([[0], change_points.numpy() + 1, [h * w]])
        rles.append({"size": [h, w], "counts": ([0] if first else []) + np.diff(bounds).tolist()})
    return rles
