"""TinySAM (Shu et al., "TinySAM: Pushing the Envelope for Efficient Segment Anything Model", arXiv 2312.13789,
AAAI 2025): MobileSAM's network distilled further, with a hierarchical automatic mask generator.

Official code: github.com/xinghaochen/TinySAM, commit 11589bc (2025-01-19), package `tinysam` (not on PyPI).

Pieces (official file -> what we use):
- `tinysam/build_sam.py::build_sam_vit_t` (registry key `vit_t`) and `modeling/tiny_vit_sam.py::TinyViT`: the same
  files as MobileSAM's at 34bbbfd (byte for byte), so the network is MobileSAM's: models/tiny_vit.py behind SAM's
  prompt encoder and decoder (models/sam_assembly.py), and the state-dict layout is identical to `mobile_sam.pt`'s
  (tests/data/parity/tinysam_layout.tsv equals mobile_sam_layout.tsv). Both variants therefore share a signature:
  a TinySAM file and a MobileSAM file cannot be told apart by their keys, only by the file they are loaded from.
- `modeling/mask_decoder.py::MaskDecoder`: SAM's, except that `forward` has no `multimask_output` and always returns
  the three multimask outputs (mask tokens 1-3; token 0, SAM's single-mask output, is never returned), and
  `modeling/sam.py` / `predictor.py` drop the argument likewise. With `multimask_output=True`, segment_anything's
  decoder and SamPredictor compute exactly that, so `TinySamPromptModel` drives them and refuses
  `multimask_output=False` (TinySAM has no single-mask output; its COCO evaluation keeps the best of the three by
  predicted IoU, our COCO `--mask-selection best`).
- `modeling/prompt_encoder.py`, `transformer.py`, `common.py`, `utils/amg.py`, `utils/transforms.py`: segment-anything
  1.0's (only comments differ, and `apply_image_torch`'s size bug is fixed, which the predictor never calls).
- `hierarchical_mask_generator.py::SamHierarchicalMaskGenerator.hierarchical_generate`: the automatic masks;
  re-implemented here (`HierarchicalMaskGenerator`), see its docstring.

Preprocessing: SAM's (longest side resized to 1024, ImageNet mean / std in 0..255, zero padding to 1024 x 1024).

Checkpoint: a plain state dict (`build_sam_vit_t` loads `torch.load(f)` strictly). The file the official demos,
`demo.py` and `demo_hierachical_everything.py`, and the COCO evaluation script load is `weights/tinysam.pth`, published
as release 1.0 (the arXiv v1 model, COCO AP 41.9). Since 2025-01-19 the README links `tinysam_42.3.pth` (release 3.0,
the AAAI model, COCO AP 42.3; same network by the README's FLOPs): pass it with `--checkpoint`. The official builder
calls `.eval()` before loading, so TinyViT's cached attention biases stay at their initial zeros unless `.eval()` is
called again (the COCO evaluation and the hierarchical demo do; `demo.py` does not); our TinyViT has no cache.
Q-TinySAM (`tinysam_w8a8.pth`, the 8-bit post-training quantised model, `demo_quant.py`) is not provided.

What differs from SAM (capabilities): no single-mask output (see above); automatic masks by the hierarchical
strategy with its own threshold `high_score_thresh` (default 8.5), no crops.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.modeling import Sam
from segment_anything.utils.amg import (
    MaskData,
    area_from_rle,
    batch_iterator,
    batched_mask_to_box,
    box_xyxy_to_xywh,
    build_point_grid,
    calculate_stability_score,
    coco_encode_rle,
    mask_to_rle_pytorch,
    rle_to_mask,
)
from torchvision.ops.boxes import batched_nms

from ..errors import SamzeroError
from ..prompt_model import MaskPrediction, check_image
from ..capabilities import Capabilities
from ..registry import ModelFamily
from ..sam_assembly import assemble_sam
from ..sam_prompt_model import SamPromptModel
from ..tiny_vit import build_tiny_vit_5m_encoder

OFFICIAL_COMMIT = "11589bc1d98c16cff046c31d5ad4cd90a30f0897"

# SamHierarchicalMaskGenerator.__init__'s defaults: SamAutomaticMaskGenerator's (evals/protocols/amg.py), plus
# high_score_thresh. tests/test_parity_tinysam.py holds them equal to the official signature (recorded in
# tests/data/parity/tinysam.json).
HIERARCHICAL_DEFAULTS: dict[str, Any] = {
    "points_per_side": 32,
    "points_per_batch": 64,
    "pred_iou_thresh": 0.88,
    "high_score_thresh": 8.5,
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
OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")
# The first pass samples points_per_side // COARSENING points per side.
COARSENING = 4


class SingleMaskUnavailable(SamzeroError):
    """A request for TinySAM's single-mask output, which its decoder does not have."""


class HierarchicalMaskGenerator:
    """TinySAM's "hierarchical segmenting everything" strategy (`hierarchical_generate` of the official
    SamHierarchicalMaskGenerator), our implementation.

    1. Prompt a sparse grid of points_per_side // 4 points per side (segment_anything's `build_point_grid`), one
       foreground point each, three masks per point; keep masks with predicted IoU > pred_iou_thresh and stability
       score >= stability_score_thresh (as SAM's generator). Pixels where any kept mask's logit exceeds
       high_score_thresh are "covered".
    2. Around each sparse point, at steps of (W // points_per_side, H // points_per_side) pixels: the 4 x 4 block of
       offsets -1, 0, 1, 2 per axis, less the point itself, where an offset of 2 is taken only if it stays inside the
       image (x + 2 * step < W). Each of these points whose pixel (coordinates truncated to integers) is not covered
       is prompted as in 1 (without the coverage).
    3. Box NMS (box_nms_thresh, by predicted IoU) over the masks of both passes (second pass first), optional
       small-region clean-up (min_mask_region_area, as SAM's generator), records.

    As the official code: no crops (the whole image is the only crop); the SAM generator's filter of boxes near a
    crop's edge is then a no-op and is left out. Records carry SamAutomaticMaskGenerator's keys; `crop_box` (the whole
    image) is ours, the official records omit it. Where the official code would fail (every second-pass point
    covered: an empty grid), the second pass is skipped.
    """

    def __init__(self, predictor, **params: Any) -> None:
        unknown = sorted(set(params) - set(HIERARCHICAL_DEFAULTS))
        if unknown:
            raise TypeError(f"unknown parameter(s) of TinySAM's hierarchical generator: {', '.join(unknown)}")
        p = {**HIERARCHICAL_DEFAULTS, **params}
        if p["point_grids"] is not None or p["points_per_side"] is None or p["points_per_side"] < COARSENING:
            raise ValueError(f"TinySAM's hierarchical generator samples its own grids: it needs points_per_side >= "
                             f"{COARSENING} and no point_grids (got {p['points_per_side']}, "
                             f"{'point_grids' if p['point_grids'] is not None else 'no point_grids'})")  # fmt: skip
        if p["crop_n_layers"] != 0:
            raise ValueError("TinySAM's hierarchical generator runs no crops (crop_n_layers must be 0; the official "
                             "code ignores it)")  # fmt: skip
        if p["output_mode"] not in OUTPUT_MODES:
            raise ValueError(f"unknown output_mode {p['output_mode']!r}; one of {', '.join(OUTPUT_MODES)}")
        self.predictor = predictor
        self.params = p

    @torch.no_grad()
    def generate(self, image: np.ndarray) -> list[dict]:
        p = self.params
        height, width = image.shape[:2]
        self.predictor.set_image(image)
        sparse_grid = build_point_grid(p["points_per_side"] // COARSENING)
        sparse, covered = self._prompt_grid(sparse_grid, (height, width), coverage=True)
        dense_grid = self._uncovered_neighbours(sparse_grid, covered, (height, width))
        data = self._prompt_grid(dense_grid, (height, width))[0] if len(dense_grid) else MaskData()
        data.cat(sparse)
        return self._records(data, (height, width))

    def _prompt_grid(
        self, grid: np.ndarray, size: tuple[int, int], coverage: bool = False
    ) -> tuple[MaskData, torch.Tensor | None]:
        """Masks of every point of `grid` (N x 2, (x, y) in 0..1) kept by the IoU and stability filters, as RLEs; with
        `coverage`, also the H x W map of pixels where a kept mask's logit exceeds high_score_thresh."""
        p, predictor = self.params, self.predictor
        threshold = predictor.model.mask_threshold
        height, width = size
        points = grid * np.array([[width, height]])
        data = MaskData()
        covered = torch.zeros(size, dtype=torch.bool, device=predictor.device) if coverage else None
        for (batch,) in batch_iterator(p["points_per_batch"], points):
            coords = torch.as_tensor(predictor.transform.apply_coords(batch, size), device=predictor.device)
            labels = torch.ones(len(coords), dtype=torch.int, device=predictor.device)
            logits, iou, _ = predictor.predict_torch(coords[:, None], labels[:, None], multimask_output=True,
                                                     return_logits=True)  # fmt: skip
            found = MaskData(masks=logits.flatten(0, 1), iou_preds=iou.flatten(0, 1),
                             points=torch.as_tensor(batch.repeat(logits.shape[1], axis=0)))  # fmt: skip
            del logits
            if p["pred_iou_thresh"] > 0.0:
                found.filter(found["iou_preds"] > p["pred_iou_thresh"])
            found["stability_score"] = calculate_stability_score(found["masks"], threshold, p["stability_score_offset"])
            if p["stability_score_thresh"] > 0.0:
                found.filter(found["stability_score"] >= p["stability_score_thresh"])
            if coverage:
                covered |= (found["masks"] > p["high_score_thresh"]).any(dim=0)
            masks = found["masks"] > threshold
            found["boxes"] = batched_mask_to_box(masks)
            found["rles"] = mask_to_rle_pytorch(masks)
            del found["masks"], masks
            data.cat(found)
        return data, covered

    def _uncovered_neighbours(self, grid: np.ndarray, covered: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
        """Step 2: the second pass's points (M x 2, (x, y) in 0..1), in the official order."""
        height, width = size
        step_y, step_x = height // self.params["points_per_side"], width // self.params["points_per_side"]
        covered = covered.cpu().numpy()
        points = []
        for gx, gy in grid:
            x, y = gx * width, gy * height
            offsets = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]
            right, below = x + step_x * 2 < width, y + step_y * 2 < height
            if right:
                offsets += [(2, dy) for dy in (-1, 0, 1)]
            if below:
                offsets += [(dx, 2) for dx in (-1, 0, 1)]
            if right and below:
                offsets.append((2, 2))
            for dx, dy in offsets:
                px, py = x + step_x * dx, y + step_y * dy
                if not covered[int(py), int(px)]:
                    points.append([px / width, py / height])
        return np.array(points).reshape(-1, 2)

    def _records(self, data: MaskData, size: tuple[int, int]) -> list[dict]:
        p = self.params
        height, width = size
        if len(data["rles"]) == 0:
            return []
        keep = batched_nms(data["boxes"].float(), data["iou_preds"], torch.zeros_like(data["boxes"][:, 0]),
                           iou_threshold=p["box_nms_thresh"])  # fmt: skip
        data.filter(keep)
        if p["min_mask_region_area"] > 0:
            nms = max(p["box_nms_thresh"], p["crop_nms_thresh"])
            data = SamAutomaticMaskGenerator.postprocess_small_regions(data, p["min_mask_region_area"], nms)
        encode = {"binary_mask": rle_to_mask, "coco_rle": coco_encode_rle, "uncompressed_rle": lambda rle: rle}
        return [
            {
                "segmentation": encode[p["output_mode"]](rle),
                "area": area_from_rle(rle),
                "bbox": box_xyxy_to_xywh(data["boxes"][i]).tolist(),
                "predicted_iou": data["iou_preds"][i].item(),
                "point_coords": [data["points"][i].tolist()],
                "stability_score": data["stability_score"][i].item(),
                "crop_box": [0, 0, width, height],
            }
            for i, rle in enumerate(data["rles"])
        ]


class TinySamPromptModel(SamPromptModel):
    """SamPromptModel with TinySAM's decoder outputs (the three multimask masks only) and its hierarchical generator."""

    def predict(self, point_coords=None, point_labels=None, boxes=None, mask_input=None,
                multimask_output: bool = True) -> MaskPrediction:  # fmt: skip
        if not multimask_output:
            raise SingleMaskUnavailable(
                "TinySAM's decoder has no single-mask output (its official MaskDecoder always returns the three "
                "multimask masks): use a protocol with multimask output, e.g. COCO's --mask-selection best"
            )
        return super().predict(point_coords, point_labels, boxes, mask_input, multimask_output=True)

    def generate(self, image: np.ndarray, **params) -> list[dict]:
        check_image(image)
        return HierarchicalMaskGenerator(self.predictor_class(self.network), **params).generate(image)


FAMILY = ModelFamily("tinysam", official=f"xinghaochen/TinySAM @ {OFFICIAL_COMMIT[:7]}",
                     prompt_model=TinySamPromptModel)  # fmt: skip


@FAMILY.register(display="TinySAM", checkpoint="tinysam.pth",
                 url="https://github.com/xinghaochen/TinySAM/releases/download/1.0/tinysam.pth",
                 # MobileSAM's key layout: this signature is MobileSAM's too (see the module docstring).
                 signature=("image_encoder.patch_embed.seq.0.c.weight", (32, 3, 3, 3)),
                 capabilities=Capabilities(multimask_outputs=3, single_mask_output=False),
                 state_dict_key=None,
                 notes="TinyViT-5M (MobileSAM's network); no single-mask output; automatic masks: TinySAM's "
                       "hierarchical generator")  # fmt: skip
def tinysam() -> Sam:
    return assemble_sam(build_tiny_vit_5m_encoder())
