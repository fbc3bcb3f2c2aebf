"""EdgeSAM (Zhou et al., "EdgeSAM: Prompt-In-the-Loop Distillation for On-Device Deployment of SAM", arXiv 2312.06660):
SAM's prompt encoder and mask decoder behind a RepViT-M1 image encoder distilled from SAM ViT-H.

Official code: chongzhou96/EdgeSAM, commit b53372c (package `edge_sam`, not on PyPI); the registry key `edge_sam`
(`build_sam.py::build_edge_sam`) builds both released checkpoints, which differ only in their training data
("all the EdgeSAM variants only differ in the number of training images", official README):

    --model edgesam      edge_sam.pth      EdgeSAM     (1% of SA-1B)
    --model edgesam_3x   edge_sam_3x.pth   EdgeSAM-3x  (3% of SA-1B)

Both have the same key layout, so they share one signature: the file name is the only evidence of which is which.
Each file is a plain state dict (the official `scripts/convert_weights.py` writes one, `build_edge_sam` loads one).

What reproduces which official file:
- image encoder: models/repvit.py `RepViTStageFusionEncoder` <- edge_sam/modeling/rep_vit.py `RepViT("m1",
  fuse=True, upsample_mode="bicubic")`, re-implemented with the official keys. Unlike RepViT-SAM's it keeps stride 32
  and merges the stride-16 and stride-32 stages (1x1 projections, bicubic x2 upsampling) before SAM's neck; its
  RepVGG token mixers carry a BatchNorm per branch. The official inference never folds these branches (the fold
  methods exist in the file but nothing calls them), so no `fuse` is registered: the network runs as the official
  predictor runs it, and `--no-fuse` changes nothing.
- prompt encoder, mask decoder, `Sam` (preprocessing: ResizeLongestSide(1024), ImageNet mean/std on 0..255 RGB, zero
  padding to 1024x1024; postprocessing: bilinear upscaling to 1024, crop, bilinear to the original size):
  segment_anything's, as for SAM. edge_sam/modeling/{prompt_encoder,mask_decoder,transformer,sam}.py are SAM's
  with training-only additions (LoRA, distillation targets, an optional detection head, label -2 / box labels for
  batched training) and the same key layout (4 mask tokens, as SAM's); the one inference difference is the decoder's
  `num_multimask_outputs` in place of `multimask_output`, reproduced by `EdgeSamPredictor` below.
- predictor: `EdgeSamPredictor` <- edge_sam/predictor.py `SamPredictor`. Same image preprocessing and prompt
  transforms as SAM's; what differs:
  * `num_multimask_outputs` 1, 3 or 4 instead of SAM's bool: 3 = SAM's multimask output (mask tokens 1-3), 1 = the
    single-mask token 0, 4 = all four tokens (token 0 first). The official `predict` defaults to 3;
  * point label -2 (a point to ignore: EdgeSAM's evaluation gives one where it finds too few wrong pixels to sample
    a refinement click) embeds as a zero token, as EdgeSAM's `PromptEncoder._embed_points` makes it (SAM's adds
    the point's positional encoding);
  * `use_stability_score`: replaces the decoder's predicted IoU by the stability score of the 256x256 low-res
    logits (threshold 0, offset 1.0). EdgeSAM did not distil the IoU head, so the official README recommends the
    stability score for choosing a mask (its web demo asks for 4 masks scored by stability). The official
    `predict` defaults to False, its `predict_torch` to True (the automatic mask generator relies on that).
  `EdgeSamPromptModel` drives it with the `predict` defaults: `predict(multimask_output=True)` gives 3 masks and
  the decoder's IoU, as SAM; `EdgeSamPromptModel.configure(num_multimask_outputs=4, use_stability_score=True)`
  switches to the web demo's setting (and says so in `capabilities.multimask_outputs`).
- automatic mask generator: `EdgeSamAutomaticMaskGenerator` <- edge_sam/automatic_mask_generator.py, which is
  segment_anything's except for one call: it asks the predictor for 3 masks per point with the default
  `use_stability_score=True` of `predict_torch`. So each mask's "predicted_iou" (filtered by `pred_iou_thresh`,
  0.88 by default, and reported in the records) is the stability score of its low-res logits at offset 1.0 (the
  predictor's, whatever `stability_score_offset` says), not the IoU head's output; the second filter (the
  full-resolution stability score with the generator's offset and `stability_score_thresh`), NMS, crops and the
  defaults are SAM's. (The official file also makes NMS categories with `zeros_like` on the boxes' device, which
  does not change results.)

Capabilities: as SAM (3 masks per multimask prompt with the official default, mask input, boxes, automatic masks,
1024 input, one embedding tensor); 1 or 4 masks and stability scores through `configure`.
"""
from __future__ import annotations

import dataclasses

import torch
from segment_anything import SamAutomaticMaskGenerator, SamPredictor
from segment_anything.modeling import Sam
from segment_anything.utils.amg import calculate_stability_score

from ..capabilities import Capabilities
from ..registry import ModelFamily
from ..repvit import build_repvit_m1_edgesam_encoder
from ..sam_assembly import assemble_sam
from ..sam_prompt_model import SamPromptModel

MULTIMASK_CHOICES = (1, 3, 4)  # EdgeSAM's `num_multimask_outputs`
STABILITY_OFFSET = 1.0  # the official predictor's fixed `stability_score_offset`


def decode(sam: Sam, features: torch.Tensor, sparse: torch.Tensor, dense: torch.Tensor, num_masks: int):
    """Low-res mask logits and IoU predictions of `num_masks` (1, 3 or 4) outputs of SAM's decoder, as EdgeSAM's
    `MaskDecoder.forward(num_multimask_outputs=...)` selects them: 1 -> token 0, 3 -> tokens 1-3, 4 -> all."""
    if num_masks not in MULTIMASK_CHOICES:
        raise ValueError(f"num_multimask_outputs must be one of {MULTIMASK_CHOICES}, got {num_masks}")
    decoder, dense_pe = sam.mask_decoder, sam.prompt_encoder.get_dense_pe()
    if num_masks == 4:
        return decoder.predict_masks(features, dense_pe, sparse, dense)  # every mask token, no selection
    return decoder(features, dense_pe, sparse, dense, multimask_output=num_masks == 3)


class EdgeSamPredictor(SamPredictor):
    """EdgeSAM's predictor behind segment_anything's interface: `predict_torch(..., multimask_output)` returns
    `num_multimask_outputs` masks for a multimask request (else 1), scored by the decoder's IoU or, with
    `use_stability_score`, by the low-res logits' stability. Image preprocessing and transforms are SAM's."""

    def __init__(self, sam_model: Sam, num_multimask_outputs: int = 3, use_stability_score: bool = False) -> None:
        super().__init__(sam_model)
        if num_multimask_outputs not in MULTIMASK_CHOICES:
            raise ValueError(f"num_multimask_outputs must be one of {MULTIMASK_CHOICES}, got {num_multimask_outputs}")
        self.num_multimask_outputs = num_multimask_outputs
        self.use_stability_score = use_stability_score
        self.stability_score_offset = STABILITY_OFFSET

    @torch.no_grad()
    def predict_torch(
        self,
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not self.is_image_set:
            raise RuntimeError("An image must be set with .set_image(...) before mask prediction.")
        points = (point_coords, point_labels) if point_coords is not None else None
        sparse, dense = self.model.prompt_encoder(points=points, boxes=boxes, masks=mask_input)
        if point_labels is not None:  # label -2, a point to ignore, embeds as zeros (prompt_encoder.py:91)
            sparse[:, : point_labels.shape[1]][point_labels == -2] = 0.0
        num_masks = self.num_multimask_outputs if multimask_output else 1
        low_res, scores = decode(self.model, self.features, sparse, dense, num_masks)
        if self.use_stability_score:
            scores = calculate_stability_score(low_res, self.model.mask_threshold, self.stability_score_offset)
        masks = self.model.postprocess_masks(low_res, self.input_size, self.original_size)
        if not return_logits:
            masks = masks > self.model.mask_threshold
        return masks, scores, low_res


class EdgeSamAutomaticMaskGenerator(SamAutomaticMaskGenerator):
    """EdgeSAM's automatic mask generator: SAM's, with the predictor scoring each point's 3 masks by the stability
    of their low-res logits instead of the IoU head (see the module docstring). Same arguments as SAM's."""

    def __init__(self, model: Sam, *args, **kwargs) -> None:
        super().__init__(model, *args, **kwargs)
        self.predictor = EdgeSamPredictor(model, num_multimask_outputs=3, use_stability_score=True)


class EdgeSamPromptModel(SamPromptModel):
    predictor_class = EdgeSamPredictor
    generator_class = EdgeSamAutomaticMaskGenerator

    def configure(
        self, num_multimask_outputs: int | None = None, use_stability_score: bool | None = None
    ) -> EdgeSamPromptModel:
        """Set the official predictor's options for every later `predict` (None: unchanged). Defaults, as the
        official `predict`: 3 masks per multimask prompt, the decoder's IoU predictions."""
        if num_multimask_outputs is not None:
            if num_multimask_outputs not in MULTIMASK_CHOICES:
                raise ValueError(
                    f"num_multimask_outputs must be one of {MULTIMASK_CHOICES}, got {num_multimask_outputs}"
                )
            self.predictor.num_multimask_outputs = num_multimask_outputs
            self.capabilities = dataclasses.replace(self.capabilities, multimask_outputs=num_multimask_outputs)
        if use_stability_score is not None:
            self.predictor.use_stability_score = bool(use_stability_score)
        return self


FAMILY = ModelFamily("edgesam", official="chongzhou96/EdgeSAM @ b53372c", prompt_model=EdgeSamPromptModel)

# The official `predict` defaults: 3 masks for a multimask prompt; everything else as SAM.
CAPABILITIES = Capabilities(multimask_outputs=3, mask_input=True, boxes=True, automatic_masks=True,
                            encoder_input_size=1024, encoder_returns_tensor=True)  # fmt: skip
# A key only EdgeSAM's encoder has (its stride-32 stage's projection); both variants share it (same layout).
SIGNATURE = ("image_encoder.fuse_stage3.op_list.0.weight", (256, 384, 1, 1))
NOTES = ("EdgeSAM's predictor (num_multimask_outputs 1/3/4, 3 by default; optional stability score) and its automatic "
         "mask generator (predicted_iou = stability score of the low-res logits)")  # fmt: skip
URL = "https://huggingface.co/spaces/chongzhou/EdgeSAM/resolve/main/weights/"


@FAMILY.register(display="EdgeSAM", checkpoint="edge_sam.pth", url=URL + "edge_sam.pth", signature=SIGNATURE,
                 capabilities=CAPABILITIES, state_dict_key=None, notes=NOTES)  # fmt: skip
def edgesam() -> Sam:
    return assemble_sam(build_repvit_m1_edgesam_encoder())


@FAMILY.register(display="EdgeSAM-3x", checkpoint="edge_sam_3x.pth", url=URL + "edge_sam_3x.pth", signature=SIGNATURE,
                 capabilities=CAPABILITIES, state_dict_key=None, notes=NOTES)  # fmt: skip
def edgesam_3x() -> Sam:
    return assemble_sam(build_repvit_m1_edgesam_encoder())
