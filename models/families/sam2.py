"""SAM 2 and SAM 2.1 (Ravi et al., "SAM 2: Segment Anything in Images and Videos", 2024): Hiera image encoders with
an FPN neck, SAM's prompt encoder, a mask decoder reading two high-resolution feature levels, and (for video) a
memory attention / memory encoder.

Official code: github.com/facebookresearch/sam2, commit 2b90b9f (2024-12-17), package `sam2/`, used as is: the
hydra configs `configs/sam2/sam2_hiera_{t,s,b+,l}.yaml` and `configs/sam2.1/sam2.1_hiera_{t,s,b+,l}.yaml`,
`build_sam.py::build_sam2` (with its default `apply_postprocessing=True`: a single-mask request falls back to the
best of the multimask outputs when the single mask is unstable, as every official image example runs it),
`SAM2ImagePredictor`, `SAM2AutomaticMaskGenerator` and, for DAVIS, `SAM2VideoPredictor`
(evals/davis/sam2_vos.py). The repository does not publish to PyPI; PyPI `sam2` 1.1.0 (uploaded by a third party)
holds the repository's `sam2/` package at that commit file for file (checked with `diff -r`), and is what the lock
installs (`make install` builds it without its optional CUDA extension, see the Makefile).

Pieces (official file -> what we use):
- preprocessing (`utils/transforms.py::SAM2Transforms`): the image resized to 1024 x 1024 (aspect ratio NOT kept,
  no padding), ImageNet mean / std on [0, 1]; prompt coordinates scaled by 1024 / W and 1024 / H; masks bilinearly
  resized from 256 x 256 to the image size;
- `SAM2ImagePredictor.set_image` (encoder, `_prepare_backbone_features`, `no_mem_embed` added to the lowest-
  resolution level) and `_predict` (box corners labelled 2 / 3 put before the points, the decoder with the two
  high-resolution feature levels). `predict` here takes B prompts at once through `_predict`, the batched form the
  official `predict` calls with B = 1; low-resolution logits come back clamped to [-32, 32] as the official ones.
- `generate`: `SAM2AutomaticMaskGenerator` with the caller's SamAutomaticMaskGenerator arguments. Where a caller
  leaves one out, SAM 2's own default applies, which differs from SAM's in `pred_iou_thresh` (0.8, SAM 0.88) and
  adds `mask_threshold` (0.0), `use_m2m` (False) and `multimask_output` (True); the protocols here pass SAM's values
  explicitly (evals/protocols/amg.py), so the generator's algorithm is SAM 2's and the thresholds are the protocol's.

The optional CUDA extension `sam2._C` (connected components) is used only to fill holes / remove sprinkles in
masks (`max_hole_area`, `min_mask_region_area` of the generator, the video predictor's `fill_hole_area=8`); without
it the official code warns and skips that step. The lock's build never has it (CPU and CUDA alike), so the
post-processing is skipped everywhere, and our numbers equal the official code's run without the extension.

Checkpoints: `{"model": state_dict}` files at dl.fbaipublicfiles.com/segment_anything_2/ (072824/ for SAM 2,
092824/ for SAM 2.1; checkpoints/download_ckpts.sh). The official loader loads strictly too; we check every key and
shape first (models/checkpoint.py) to name what is wrong. SAM 2 and SAM 2.1 of one size share their image encoder:
a SAM 2 file named as SAM 2.1 lacks 2.1's keys (`no_obj_embed_spatial`, `obj_ptr_tpos_proj.*`) and is refused by
the strict key check, which names both variants.

Capabilities (what differs from SAM): the encoder returns a dict of feature levels (only the eager backend); the
encoder input is the stretched 1024 x 1024 image; a video predictor (`video_predictor`, DAVIS `--vos-protocol
sam2`).
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Callable

import numpy as np
import torch

from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from sam2.build_sam import build_sam2, build_sam2_video_predictor
from sam2.modeling.sam2_base import SAM2Base
from sam2.sam2_image_predictor import SAM2ImagePredictor

from ..prompt_model import MaskPrediction, PromptModel, check_image
from ..capabilities import Capabilities
from ..registry import ModelFamily, ModelVariant

OFFICIAL_COMMIT = "2b90b9f5ceec907a1c18123530e92e794ad901a4"
SAM2_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/072824/"
SAM2_1_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"
CAPABILITIES = Capabilities(encoder_returns_tensor=False, video_propagation=True)


@contextmanager
def scripted_transforms():
    """sam2's SAM2Transforms (built by its predictors and generator) calls torch.jit.script, which PyTorch now
    deprecates with a FutureWarning per call: the official code's business, silenced around those calls only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script", category=FutureWarning)
        yield


class Sam2PromptModel(PromptModel):
    """The official `SAM2ImagePredictor` behind the prompt interface (see the module docstring)."""

    def __init__(self, network: SAM2Base, variant: ModelVariant | None, provenance: dict):
        super().__init__(network, variant, provenance)
        with scripted_transforms():
            self.predictor = SAM2ImagePredictor(network)  # the official defaults: mask threshold 0, no hole filling
        self._video_predictor = None  # `video_predictor()`, built on first use

    def encoder_example(self, seed: int = 0) -> torch.Tensor:
        size = self.network.image_size
        return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed)).to(self.device)

    def decode_once(self) -> Callable[[], object]:
        network, device = self.network, self.device
        gen = torch.Generator().manual_seed(0)
        prompt_encoder, decoder = network.sam_prompt_encoder, network.sam_mask_decoder
        grid = prompt_encoder.image_embedding_size
        embedding = torch.randn(1, prompt_encoder.embed_dim, *grid, generator=gen).to(device)
        # The two high-resolution levels the decoder reads (after conv_s0 / conv_s1: 1/4 and 1/8 of the width).
        high_res = [torch.randn(1, decoder.transformer_dim // 8, 4 * grid[0], 4 * grid[1], generator=gen).to(device),
                    torch.randn(1, decoder.transformer_dim // 4, 2 * grid[0], 2 * grid[1], generator=gen).to(device)]  # fmt: skip
        size = network.image_size
        points = (torch.tensor([[[0.5 * size, 0.375 * size]]], device=device), torch.ones(1, 1, dtype=torch.int, device=device))
        dense_pe = prompt_encoder.get_dense_pe()

        def decode():
            sparse, dense = prompt_encoder(points=points, boxes=None, masks=None)
            return decoder(image_embeddings=embedding, image_pe=dense_pe, sparse_prompt_embeddings=sparse,
                           dense_prompt_embeddings=dense, multimask_output=True, repeat_image=False,
                           high_res_features=high_res)  # fmt: skip

        return decode

    @torch.inference_mode()
    def set_image(self, image: np.ndarray) -> None:
        check_image(image)
        self.predictor.set_image(image)

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.predictor._orig_hw[0])

    def embedding(self) -> torch.Tensor:
        return self.predictor.get_image_embedding()

    @torch.inference_mode()
    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        boxes: np.ndarray | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
    ) -> MaskPrediction:
        # The official `predict`'s prompt preparation (`_prep_prompts`) for B prompts, then its `_predict`.
        mask_input, coords, labels, box = self.predictor._prep_prompts(
            point_coords, point_labels, boxes, mask_input, normalize_coords=True
        )
        logits, iou, low_res = self.predictor._predict(coords, labels, box, mask_input, multimask_output,
                                                       return_logits=True)  # fmt: skip
        return MaskPrediction(logits=logits, iou=iou, low_res=low_res)

    def generate(self, image: np.ndarray, **params) -> list[dict]:
        check_image(image)
        with scripted_transforms():
            generator = SAM2AutomaticMaskGenerator(self.network, **params)
        return generator.generate(image)

    def video_predictor(self):
        """The official `SAM2VideoPredictor` as tools/vos_inference.py builds it (evals/davis/sam2_vos.py:
        `apply_postprocessing=False`, `non_overlap_masks=true`), holding this model's weights and sharing its image
        encoder (timed, and run by the chosen backend and precision). Built on the first call, once per model: each
        video gets its own `init_state`, so one predictor serves every video."""
        if self._video_predictor is None:
            with scripted_transforms():
                predictor = build_sam2_video_predictor(CONFIGS[self.variant.name], ckpt_path=None, device=str(self.device),
                                                       mode="eval", apply_postprocessing=False,
                                                       hydra_overrides_extra=["++model.non_overlap_masks=true"])  # fmt: skip
            own = {k: v for k, v in self.network.state_dict().items() if not k.startswith("image_encoder.")}
            missing, unexpected = predictor.load_state_dict(own, strict=False)
            if unexpected or any(not k.startswith("image_encoder.") for k in missing):
                raise RuntimeError(f"SAM 2 video predictor layout differs: missing {missing[:5]}, unexpected {unexpected[:5]}")
            self._video_predictor = predictor
        self._video_predictor.image_encoder = self.encoder  # the current one, should a backend have replaced it
        return self._video_predictor

FAMILY = ModelFamily("sam2", official=f"facebookresearch/sam2 @ {OFFICIAL_COMMIT[:7]} (PyPI sam2 1.1.0, the same code)",
                     prompt_model=Sam2PromptModel)  # fmt: skip

# --model -> the official hydra config (relative to the sam2 package) that builds it.
CONFIGS: dict[str, str] = {}


def build(config: str) -> SAM2Base:
    """The official image model (`build_sam2` with its defaults) with its constructors' initialisation, on CPU."""
    return build_sam2(config, ckpt_path=None, device="cpu", mode="eval")


def _register(name: str, display: str, config: str, checkpoint: str, url: str, signature) -> None:
    CONFIGS[name] = config
    FAMILY.register(name=name, display=display, checkpoint=checkpoint, url=url + checkpoint, signature=signature,
                    capabilities=CAPABILITIES,
                    notes="automatic masks: SAM2AutomaticMaskGenerator")(lambda: build(config))  # fmt: skip


# The last trunk block of each size has a width only that size has at that index (Hiera stages t [1, 2, 7, 2],
# s [1, 2, 11, 2], b+ [2, 3, 16, 3], l [2, 6, 36, 4]; widths 96 / 96 / 112 / 144, doubling per stage).
SIZES = {
    "t": ("Hiera-T", "tiny", ("image_encoder.trunk.blocks.11.norm1.weight", (768,))),
    "s": ("Hiera-S", "small", ("image_encoder.trunk.blocks.15.norm1.weight", (768,))),
    "b+": ("Hiera-B+", "base_plus", ("image_encoder.trunk.blocks.23.norm1.weight", (896,))),
    "l": ("Hiera-L", "large", ("image_encoder.trunk.blocks.47.norm1.weight", (1152,))),
}
for size, (label, file, signature) in SIZES.items():
    _register(f"sam2.1_hiera_{size}", f"SAM 2.1 {label}", f"configs/sam2.1/sam2.1_hiera_{size}.yaml",
              f"sam2.1_hiera_{file}.pt", SAM2_1_URL, signature)  # fmt: skip
for size, (label, file, signature) in SIZES.items():
    _register(f"sam2_hiera_{size}", f"SAM 2 {label}", f"configs/sam2/sam2_hiera_{size}.yaml",
              f"sam2_hiera_{file}.pt", SAM2_URL, signature)  # fmt: skip
