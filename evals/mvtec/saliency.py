"""SAA+'s saliency prompt: how unlike the rest of the image each place is, from ImageNet WideResNet-50-2 features.

Reference: caoyunkang/Segment-Any-Anomaly@SAA-plus, SAA/modelinet.py ``ModelINet`` (the feature extractor) and
SAA/model.py ``single_object_similarity`` (the map). Every MVTec AD category has one object per image
(saa_prompts.py), so SAA+ always takes this single-object branch of ``visual_saliency_calculation``; its input
``object_masks`` (SAM masks of the object boxes) is not used by it, which is why the map does not depend on SAM.

    image (BGR, as read) --cv2.resize bilinear--> 256 x 256 --(x - 255 mean) / (255 std), ImageNet RGB
    statistics applied to the BGR channels as they are--> WideResNet-50-2 layer1 (64 x 64), layer2, layer3
    (nearest-upsampled to 64 x 64) --concat (1792), L2-normalise--> per position: mean of its 400 largest
    distances 0.5 (1 - cos) to all positions --> 64 x 64 map --cv2.resize bilinear--> image size

The prompt cache stores the 64 x 64 map; `upsample` makes the image-size map the rescoring reads.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.checkpoint import sha256_file

from ..errors import DataError
from .protocol import (  # noqa: F401  (known_saliency_weights: where the callers of this module look for it)
    DEFAULT_SALIENCY_WEIGHTS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    SALIENCY_INPUT_SIZE,
    SALIENCY_TOP_N,
    SALIENCY_WEIGHTS_URL,
    known_saliency_weights,
)

DOWNLOAD_HINT = (
    "download timm's wide_resnet50_2 ImageNet weights (what SAA+ loads through timm), e.g.\n"
    "    wget -P weights " + SALIENCY_WEIGHTS_URL + "\n"
    "(torchvision's wide_resnet50_2-95faca4d.pth loads too, but is not SAA+'s), or pass --mvtec-saliency-weights FILE"
)


class SaliencyWeightsError(DataError, FileNotFoundError):
    """No saliency-backbone weights file where one was named: a DataError (one paragraph on the command line), and a
    FileNotFoundError for callers that catch that."""


class SaliencyFeatures(nn.Module):
    """layer1-3 of a torchvision-style ResNet, upsampled to layer1's size (nearest), concatenated, L2-normalised
    per position: ModelINet.forward with timm's features_only, out_indices (1, 2, 3)."""

    def __init__(self, resnet: nn.Module):
        super().__init__()
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        self.layer1, self.layer2, self.layer3 = resnet.layer1, resnet.layer2, resnet.layer3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.layer1(self.stem(x))
        second = self.layer2(first)
        third = self.layer3(second)
        size = first.shape[2:]
        features = torch.cat([first, F.interpolate(second, size), F.interpolate(third, size)], dim=1)
        return F.normalize(features, dim=1)


def read_resnet_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state dict in a .pth (plain, or under "state_dict" / "model") or .safetensors file; a truncated or foreign
    file is a DataError naming it."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch and safetensors raise several types for truncated or foreign files
        raise DataError(f"{path}: cannot read these saliency-backbone weights ({type(err).__name__}: {err}); "
                        f"{DOWNLOAD_HINT}") from None  # fmt: skip
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(f"{path}: not a state dict (a mapping of parameter names to tensors); {DOWNLOAD_HINT}")
    return state


def wide_resnet50_2_features(weights: str | Path | None = DEFAULT_SALIENCY_WEIGHTS,
                             seed: int = 0) -> tuple[SaliencyFeatures, dict]:  # fmt: skip
    """The saliency backbone and its provenance. `weights=None`: random (untrained) weights, for pipeline checks."""
    from torchvision.models import wide_resnet50_2

    if weights is None:
        torch.manual_seed(seed)
        return SaliencyFeatures(wide_resnet50_2(weights=None)).eval(), {
            "saliency_backbone": "wide_resnet50_2", "weights_file": None, "weights_sha256": None, "trained": False,
        }  # fmt: skip
    path = Path(weights)
    if not path.is_file():
        raise SaliencyWeightsError(f"saliency backbone weights {path} not found: {DOWNLOAD_HINT}")
    resnet = wide_resnet50_2(weights=None)
    state = read_resnet_weights(path)
    expected = resnet.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or wrong:
        kinds = (("missing", missing), ("unexpected", unexpected), ("other shapes", wrong))
        shown = "; ".join(f"{what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                          for what, keys in kinds if keys)  # fmt: skip
        raise DataError(f"{path}: not WideResNet-50-2 weights ({shown}); {DOWNLOAD_HINT}")
    resnet.load_state_dict(state, strict=True)
    return SaliencyFeatures(resnet).eval(), {
        "saliency_backbone": "wide_resnet50_2", "weights_file": path.name, "weights_sha256": sha256_file(path),
        "trained": True,
    }  # fmt: skip


def backbone_input(bgr: np.ndarray, input_size: int = SALIENCY_INPUT_SIZE) -> torch.Tensor:
    """1 x 3 x S x S float32: SAA+'s ``cv2.resize(image, (256, 256))`` then ModelINet.preprocess (the ImageNet
    statistics x 255 subtracted from the channels in their BGR order; the image is already square, so
    ResizeLongestSide and the padding change nothing)."""
    resized = cv2.resize(bgr, (input_size, input_size))
    x = torch.from_numpy(np.ascontiguousarray(resized)).permute(2, 0, 1)[None]
    mean = torch.tensor([255 * m for m in IMAGENET_MEAN]).view(1, 3, 1, 1)
    std = torch.tensor([255 * s for s in IMAGENET_STD]).view(1, 3, 1, 1)
    return (x - mean) / std


def self_similarity_map(features: torch.Tensor, top_n: int = SALIENCY_TOP_N) -> np.ndarray:
    """h x w float32 from 1 x C x h x w L2-normalised features: each position's mean over its `top_n` largest
    distances 0.5 (1 - cos) to every position (itself included), as single_object_similarity."""
    _, channels, height, width = features.shape
    flat = features.reshape(channels, height * width)
    distances = 0.5 * (1 - flat.T @ flat)
    largest = torch.topk(distances, k=min(top_n, distances.shape[1]), dim=1, largest=True, sorted=True).values
    return largest.mean(dim=1).reshape(height, width).float().cpu().numpy()


@torch.inference_mode()
def saliency_heatmap(backbone: SaliencyFeatures, bgr: np.ndarray, input_size: int = SALIENCY_INPUT_SIZE,
                     top_n: int = SALIENCY_TOP_N, device: str | torch.device = "cpu") -> np.ndarray:  # fmt: skip
    """The low-resolution saliency map of one BGR image (64 x 64 for SAA+'s 256 input)."""
    features = backbone(backbone_input(bgr, input_size).to(device))
    return self_similarity_map(features, top_n)


def upsample(heatmap: np.ndarray, height: int, width: int) -> np.ndarray:
    """The image-size saliency map (float32), as SAA+: ``cv2.resize(heatMap2, (W, H))``, bilinear."""
    return cv2.resize(np.asarray(heatmap, dtype=np.float32), (width, height))
