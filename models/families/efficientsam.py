"""EfficientSAM (Xiong et al., "EfficientSAM: Leveraged Masked Image Pretraining for Efficient Segment Anything",
CVPR 2024): SAMI-pretrained ViT-Tiny / ViT-Small image encoders with a point-prompt decoder.

Official code: github.com/yformer/EfficientSAM, commit d525f62 (2024-12-24); not on PyPI. Our re-implementation is
models/efficient_sam.py (official module and attribute names, so that the official checkpoints load strictly):
- `efficient_sam/build_efficient_sam.py`: `build_efficient_sam_vitt` (patch embedding width 192, 3 heads) and
  `build_efficient_sam_vits` (384, 6 heads), both through `efficient_sam.py::build_efficient_sam` (12 blocks,
  1024x1024 input, 6 decoder points, 3 multimask outputs), which loads the checkpoint's `["model"]` entry;
- `efficient_sam/efficient_sam_encoder.py::ImageEncoderViT`, `efficient_sam_decoder.py::PromptEncoder` and
  `MaskDecoder`, `two_way_transformer.py`, `mlp.py::MLPBlock`; `efficient_sam.py::EfficientSam` (preprocessing,
  `get_rescaled_pts`, `predict_masks`, `forward`).
The official repository has no predictor class and no automatic mask generator module: its inference API is
`EfficientSam.forward(images, points, labels)` (EfficientSAM_example.py, notebooks/EfficientSAM_example.ipynb), which
`EfficientSamPromptModel` reproduces split into `set_image` / `predict`:
- preprocessing: the RGB image as torchvision's `ToTensor` gives it (float in [0, 1]), resized to 1024x1024 bilinear
  (aspect ratio NOT kept, no padding), normalised with ImageNet's mean / std inside the model;
- prompts are points: foreground 1, background 0, a box as its two corners labelled 2 (top-left) and 3
  (bottom-right) (the official notebook's box prompt); points then box corners in one query when both are given.
  Coordinates are scaled by 1024 / W and 1024 / H (negative ones become -1); each query is padded to 6 points with
  label -1, and points past the 6th are dropped (so a query holds at most 6 points, or 4 with a box);
- outputs: the decoder always makes 3 masks per query (256x256 low-resolution logits, bicubic upscaling to the image
  size; the official examples binarise with logits >= 0, the tasks here with > 0: equal except at exactly 0).
  `multimask_output=False` returns the single mask the official example and notebooks use: the first of the 3 after
  sorting by predicted IoU, descending (the model's own single-mask token, `predict_masks(multimask_output=False)`,
  is used by no official script), with its IoU and its low-resolution logits;
- no mask input (`mask_input` is refused).

Automatic masks (`generate`): the official "segment everything" of
notebooks/EfficientSAM_segment_everything_example.ipynb (`run_everything_ours`; the repository ships no generator
module), over SamAutomaticMaskGenerator's argument names: a points_per_side^2 grid at (0.5 + i / n * W,
0.5 + j / n * H), one foreground point per query; of its 3 masks (upscaled to the image) the best by predicted IoU is
kept when its IoU > pred_iou_thresh and its stability score (segment_anything's, offset stability_score_offset) >
stability_score_thresh; mask = logits >= 0 (the notebook's); holes and islands under min_mask_region_area pixels
removed, then box NMS at box_nms_thresh preferring unchanged masks (the notebook's `process_small_region`,
segment_anything's `postprocess_small_regions`; run even when min_mask_region_area is 0, since it is the notebook's
only NMS); records in NMS order. Defaults where a caller passes nothing: the notebook's (32 points per side, IoU 0.7,
stability 0.9, offset 1.0, NMS 0.7, min area 100). The notebook decodes all points in one batch and upscales all 3
masks; we decode points_per_batch points at a time and upscale only the best (the same computation per query and
mask: tests/test_parity_efficientsam.py compares the masks with the notebook's own code, bit for bit). Not in the
notebook, refused: crops (`crop_n_layers` > 0), `point_grids`. Protocols that pass SAM's settings (UVO: all of
evals/protocols/amg.py's AMG_DEFAULTS) get those thresholds instead of the notebook's.

Capabilities (what differs from SAM): no mask input; boxes as corner points; at most 6 prompt points per query; the
single-mask output is the best of three; the encoder input is the stretched 1024x1024 image.

Checkpoints (README "Model" and `build_efficient_sam.py`): weights/efficient_sam_vitt.pt and
weights/efficient_sam_vits.pt of the repository, the latter published only inside weights/efficient_sam_vits.pt.zip
(over GitHub's 100 MB file limit; EfficientSAM_example.py extracts it); each a dict whose "model" entry is the state
dict.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.utils.amg import (
    area_from_rle,
    batched_mask_to_box,
    box_xyxy_to_xywh,
    calculate_stability_score,
    coco_encode_rle,
    mask_to_rle_pytorch,
    remove_small_regions,
    rle_to_mask,
)
from torchvision.ops.boxes import batched_nms

from ..efficient_sam import EfficientSam, build_efficient_sam
from ..prompt_model import MaskPrediction, PromptModel, check_image
from ..capabilities import Capabilities
from ..registry import ModelFamily, ModelVariant

OFFICIAL_COMMIT = "d525f622e6f640acf5a0fc37c7ca1f243da5bde0"
RAW_URL = "https://github.com/yformer/EfficientSAM/raw/main/weights/"
BOX_LABELS = (2, 3)  # top-left, bottom-right corner

# notebooks/EfficientSAM_segment_everything_example.ipynb: GRID_SIZE, the thresholds of
# get_predictions_given_embeddings_and_queries and process_small_region; points_per_batch is ours (memory only).
EVERYTHING_DEFAULTS = {
    "points_per_side": 32,
    "points_per_batch": 64,
    "pred_iou_thresh": 0.7,
    "stability_score_thresh": 0.9,
    "stability_score_offset": 1.0,
    "box_nms_thresh": 0.7,
    "min_mask_region_area": 100,
    "output_mode": "binary_mask",
}
# SamAutomaticMaskGenerator's other arguments: accepted, but the notebook has no crops and no custom grid, so
# crop_n_layers must be 0 and point_grids None (the other crop settings then do nothing, as in SAM's generator).
NO_CROP_ARGUMENTS = ("crop_n_layers", "crop_nms_thresh", "crop_overlap_ratio", "crop_n_points_downscale_factor",
                     "point_grids")  # fmt: skip


def to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """H x W x 3 uint8 -> 1 x 3 x H x W float32 in [0, 1], as torchvision's ToTensor."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).to(device).float().div(255)[None]


def best_by_iou(masks: torch.Tensor, iou: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The official examples' single mask: masks Q x 3 x h x w, iou Q x 3 -> the first after a descending sort by
    IoU (Q x 1 x h x w, Q x 1)."""
    first = torch.argsort(iou, dim=-1, descending=True)[:, :1]
    return torch.take_along_dim(masks, first[..., None, None], dim=1), torch.take_along_dim(iou, first, dim=1)


class EfficientSamPromptModel(PromptModel):
    """The official `EfficientSam.forward` inference split into `set_image` (preprocessing and encoder, once per
    image) and `predict` (the decoder on that embedding); `generate` is the official notebook's segment-everything.
    See the module docstring for the prompt conventions and what `multimask_output=False` returns."""

    def __init__(self, network: EfficientSam, variant: ModelVariant | None, provenance: dict):
        super().__init__(network, variant, provenance)
        self.features: torch.Tensor | None = None
        self.original_size: tuple[int, int] | None = None

    # ------------------------------------------------------------------------------------------ the image encoder

    @property
    def input_size(self) -> int:
        return self.network.image_encoder.img_size

    def encoder_example(self, seed: int = 0) -> torch.Tensor:
        size = self.input_size
        return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed)).to(self.device)

    def decode_once(self) -> Callable[[], object]:
        network, device, size = self.network, self.device, self.input_size
        grid = network.prompt_encoder.image_embedding_size
        embedding = torch.randn(1, network.prompt_encoder.embed_dim, *grid, generator=torch.Generator().manual_seed(0))
        embedding = embedding.to(device)
        points = torch.tensor([[[[0.5 * size, 0.375 * size]]]], device=device)
        labels = torch.ones(1, 1, 1, dtype=torch.int, device=device)

        def decode():  # the 256x256 low-resolution masks: no upscaling to an image size
            return network.predict_masks(embedding, points, labels, True, size, size)

        return decode

    # ------------------------------------------------------------------------------------------------ the prompts

    def _embed(self, image: np.ndarray) -> torch.Tensor:
        check_image(image)
        return self.encoder(self.network.preprocess(to_tensor(image, self.device)))

    @torch.inference_mode()
    def set_image(self, image: np.ndarray) -> None:
        self.features = self._embed(image)
        self.original_size = tuple(image.shape[:2])

    @property
    def image_size(self) -> tuple[int, int]:
        return self.original_size

    def embedding(self) -> torch.Tensor:
        return self.features

    @torch.inference_mode()
    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        boxes: np.ndarray | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
    ) -> MaskPrediction:
        if mask_input is not None:
            raise ValueError("EfficientSAM takes no mask input (capabilities.mask_input is False)")
        if self.features is None:
            raise RuntimeError("call set_image before predict")
        device = self.device
        coords, labels = [], []
        if point_coords is not None:
            coords.append(torch.as_tensor(point_coords, dtype=torch.float, device=device))
            labels.append(torch.as_tensor(point_labels, dtype=torch.int, device=device))
        if boxes is not None:
            corners = torch.as_tensor(boxes, dtype=torch.float, device=device).reshape(-1, 2, 2)
            coords.append(corners)
            labels.append(torch.tensor(BOX_LABELS, dtype=torch.int, device=device).expand(len(corners), 2))
        if not coords:
            raise ValueError("predict needs point_coords or boxes")
        coords, labels = torch.cat(coords, dim=1), torch.cat(labels, dim=1)
        height, width = self.original_size
        low_res, iou = self.network.predict_masks(self.features, coords[None], labels[None], True, height, width)
        low_res, iou = low_res[0], iou[0]  # queries x 3 x 256 x 256, queries x 3
        if not multimask_output:
            low_res, iou = best_by_iou(low_res, iou)
        logits = F.interpolate(low_res, (height, width), mode="bicubic")
        return MaskPrediction(logits=logits, iou=iou, low_res=low_res)

    # ---------------------------------------------------------------------------------------- automatic masks

    @torch.inference_mode()
    def generate(self, image: np.ndarray, **params) -> list[dict]:
        """The official notebook's "segment everything" (see the module docstring), SAM's record format."""
        unknown = set(params) - set(EVERYTHING_DEFAULTS) - set(NO_CROP_ARGUMENTS)
        if unknown:
            raise TypeError(f"unexpected automatic mask generator arguments: {', '.join(sorted(unknown))}")
        if params.get("crop_n_layers", 0) != 0 or params.get("point_grids") is not None or (
            "points_per_side" in params and params["points_per_side"] is None
        ):
            raise ValueError("EfficientSAM's automatic masks (the official notebook's) have no crops and no custom "
                             "point grids: crop_n_layers must be 0, point_grids None and points_per_side a number")
        p = {**EVERYTHING_DEFAULTS, **{k: v for k, v in params.items() if k in EVERYTHING_DEFAULTS}}
        if p["output_mode"] not in ("binary_mask", "uncompressed_rle", "coco_rle"):
            raise ValueError(f"unknown output_mode {p['output_mode']!r}")
        features = self._embed(image)
        height, width = image.shape[:2]
        n = p["points_per_side"]
        # The notebook's grid, in Python floats (float64 from there on, as the notebook's numpy array).
        grid = [[0.5 + i / n * width, 0.5 + j / n * height] for i in range(n) for j in range(n)]
        points = torch.tensor(grid, dtype=torch.float64, device=self.device)
        batch = p["points_per_batch"] or len(points)
        kept_masks, kept_iou, kept_stability, kept_points = [], [], [], []
        for start in range(0, len(points), batch):
            chunk = points[start : start + batch]
            labels = torch.ones(1, len(chunk), 1, device=self.device)
            low_res, iou = self.network.predict_masks(features, chunk.reshape(1, -1, 1, 2), labels, True, height, width)
            low_res, iou = best_by_iou(low_res[0], iou[0])  # the upscaling is per mask: only the best is needed
            iou = iou[:, 0]
            keep = iou > p["pred_iou_thresh"]
            logits = F.interpolate(low_res[keep], (height, width), mode="bicubic")[:, 0]
            stability = calculate_stability_score(logits, 0.0, p["stability_score_offset"])
            stable = stability > p["stability_score_thresh"]
            kept_masks.append((logits[stable] >= 0.0).cpu())
            kept_iou.append(iou[keep][stable].cpu())
            kept_stability.append(stability[stable].cpu())
            kept_points.append(chunk[keep][stable].cpu())
        masks = torch.cat(kept_masks)
        if len(masks) == 0:
            return []
        masks, boxes, keep = remove_small_regions_and_duplicates(masks, p["min_mask_region_area"], p["box_nms_thresh"])
        iou, stability, points = torch.cat(kept_iou), torch.cat(kept_stability), torch.cat(kept_points)
        records = []
        for i in keep.tolist():
            rle = mask_to_rle_pytorch(masks[i : i + 1])[0]
            if p["output_mode"] == "binary_mask":
                segmentation = rle_to_mask(rle)
            else:
                segmentation = coco_encode_rle(rle) if p["output_mode"] == "coco_rle" else rle
            records.append({
                "segmentation": segmentation,
                "area": area_from_rle(rle),
                "bbox": box_xyxy_to_xywh(boxes[i]).tolist(),
                "predicted_iou": iou[i].item(),
                "point_coords": [points[i].tolist()],
                "stability_score": stability[i].item(),
                "crop_box": [0, 0, width, height],
            })  # fmt: skip
        return records


def remove_small_regions_and_duplicates(masks: torch.Tensor, min_area: int, nms_thresh: float):
    """The notebook's `process_small_region` (segment_anything's `postprocess_small_regions`): holes, then islands
    under `min_area` pixels removed; box NMS with score 1 for unchanged masks, 0 for changed ones. Returns the
    processed masks, their boxes (XYXY) and the kept indices in NMS order."""
    processed, scores = [], []
    for mask in masks.numpy():
        mask, holes_changed = remove_small_regions(mask, min_area, mode="holes")
        mask, islands_changed = remove_small_regions(mask, min_area, mode="islands")
        processed.append(torch.as_tensor(mask))
        scores.append(float(not (holes_changed or islands_changed)))
    processed = torch.stack(processed)
    boxes = batched_mask_to_box(processed)
    keep = batched_nms(boxes.float(), torch.as_tensor(scores), torch.zeros_like(boxes[:, 0]), iou_threshold=nms_thresh)
    return processed, boxes, keep


FAMILY = ModelFamily("efficientsam", official=f"yformer/EfficientSAM @ {OFFICIAL_COMMIT[:7]}",
                     prompt_model=EfficientSamPromptModel)  # fmt: skip
CAPABILITIES = Capabilities(multimask_outputs=3, mask_input=False, boxes=True, automatic_masks=True,
                            encoder_input_size=1024, encoder_returns_tensor=True)  # fmt: skip
NOTES = ("no mask input; boxes as two corner points; at most 6 points per prompt; single mask = best of 3 by IoU; "
         "automatic masks: the official notebook's segment-everything")  # fmt: skip


@FAMILY.register(display="EfficientSAM-Ti", checkpoint="efficient_sam_vitt.pt", url=RAW_URL + "efficient_sam_vitt.pt",
                 signature=("image_encoder.pos_embed", (1, 197, 192)), capabilities=CAPABILITIES,
                 state_dict_key="model", notes=NOTES)  # fmt: skip
def efficientsam_ti() -> EfficientSam:
    return build_efficient_sam(encoder_patch_embed_dim=192, encoder_num_heads=3)


@FAMILY.register(display="EfficientSAM-S", checkpoint="efficient_sam_vits.pt",
                 url=RAW_URL + "efficient_sam_vits.pt.zip",
                 signature=("image_encoder.pos_embed", (1, 197, 384)), capabilities=CAPABILITIES,
                 state_dict_key="model",
                 notes=NOTES + "; efficient_sam_vits.pt is published inside efficient_sam_vits.pt.zip: unzip it into "
                       "weights/")  # fmt: skip
def efficientsam_s() -> EfficientSam:
    return build_efficient_sam(encoder_patch_embed_dim=384, encoder_num_heads=6)
