"""What `--task mvtec` and `--detect mvtec` need on disk and where it comes from, and the detection stage's options:
light (no torch, no `transformers`), so the command line checks everything before anything loads.

    --task mvtec     MVTec AD (DATASET_URL) and the SAA+ prompt cache (made by `--detect mvtec`)
    --detect mvtec   MVTec AD, Grounding DINO Swin-T OGC in transformers format (IDEA-Research/grounding-dino-tiny),
                     timm's ImageNet WideResNet-50-2 (unless --untrained) and the transformers package
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..base import Requirement
from ..detectors.weights import WEIGHT_FILES, has_weights, transformers_requirement
from ..errors import DataError
from .categories import CATEGORIES, DATASET_ARCHIVE, DATASET_FOLDER, DATASET_URL
from .dataset import find_mvtec_root
from .protocol import (
    DEFAULT_DETECTOR_DIR,
    DEFAULT_SALIENCY_WEIGHTS,
    DETECTOR_HUB_MODEL,
    DETECTOR_URL,
    SALIENCY_WEIGHTS_HUB_URL,
    SALIENCY_WEIGHTS_URL,
)

PROMPTS_SUBDIR = Path("mvtec") / "saa_prompts"  # default cache: <out>/mvtec/saa_prompts
MANIFEST = "manifest.json"  # prompt_cache.py's


def default_prompt_dir(out: Path) -> Path:
    return Path(out) / PROMPTS_SUBDIR


def add_detection_arguments(group: argparse._ArgumentGroup) -> None:
    """The detection stage's options (part of the mvtec option group of run_eval.py)."""
    group.add_argument("--mvtec-detector", type=Path, default=Path(DEFAULT_DETECTOR_DIR),
                       help="--detect mvtec: Grounding DINO Swin-T OGC in transformers format "
                            f"({DETECTOR_HUB_MODEL}), a local folder")
    group.add_argument("--mvtec-saliency-weights", type=Path, default=Path(DEFAULT_SALIENCY_WEIGHTS),
                       help="--detect mvtec: ImageNet WideResNet-50-2 weights (timm's wide_resnet50_racm-8234f177.pth, "
                            "SAA+'s; a torchvision wide_resnet50_2 state dict loads too)")  # fmt: skip


def dataset_requirement(data_root: Path) -> Requirement:
    """MVTec AD, found at <data-root>/mvtec_anomaly_detection (canonical) or at <data-root> itself."""
    data_root = Path(data_root)

    def present() -> bool:
        try:
            find_mvtec_root(data_root)
        except DataError:
            return False
        return True

    return Requirement("MVTec AD (<category>/test and <category>/ground_truth folders)", data_root / DATASET_FOLDER,
                       f"{DATASET_URL} ({DATASET_ARCHIVE}, extracted into {data_root})", present)  # fmt: skip


def detection_command(data_root: Path, prompt_dir: Path, categories: tuple[str, ...] = CATEGORIES) -> str:
    subset = "" if tuple(categories) == CATEGORIES else f" --mvtec-categories {','.join(categories)}"
    return f"python run_eval.py --detect mvtec --data-root {data_root} --mvtec-prompts {prompt_dir}{subset}"


def prompt_cache_requirement(prompt_dir: Path, data_root: Path, categories: tuple[str, ...]) -> Requirement:
    """The SAA+ prompt cache a SAM model's run reads (--mvtec-prompts), and the command that makes it."""
    prompt_dir = Path(prompt_dir)
    command = detection_command(data_root, prompt_dir, categories)
    return Requirement("SAA+ prompt cache: Grounding DINO boxes and saliency maps (--mvtec-prompts DIR; default "
                       f"<out>/{PROMPTS_SUBDIR.as_posix()})", prompt_dir / MANIFEST,
                       f"the command `{command}` (it needs {DEFAULT_DETECTOR_DIR}/ and {DEFAULT_SALIENCY_WEIGHTS}: it "
                       "says where to get them)")  # fmt: skip


def detector_requirement(folder: Path) -> Requirement:
    folder = Path(folder)
    return Requirement(f"Grounding DINO Swin-T OGC weights, SAA+'s detector (a transformers folder: config.json, "
                       f"{' or '.join(WEIGHT_FILES)}, tokenizer; --mvtec-detector DIR)", folder,
                       f"{DETECTOR_URL}: hf download {DETECTOR_HUB_MODEL} --local-dir {folder}",
                       lambda: has_weights(folder))  # fmt: skip


def saliency_weights_requirement(path: Path) -> Requirement:
    path = Path(path)
    return Requirement("ImageNet WideResNet-50-2 weights, SAA+'s saliency backbone (timm wide_resnet50_2.racm_in1k; "
                       "--mvtec-saliency-weights FILE)", path,
                       f"{SALIENCY_WEIGHTS_URL} (or {SALIENCY_WEIGHTS_HUB_URL}, model.safetensors)",
                       path.is_file)  # fmt: skip


def detection_requirements(data_root: Path, detector: Path, saliency_weights: Path | None) -> list[Requirement]:
    """Everything `--detect mvtec` reads; `saliency_weights` None: a random backbone (--untrained)."""
    requirements = [dataset_requirement(data_root), detector_requirement(detector), transformers_requirement()]
    if saliency_weights is not None:
        requirements.append(saliency_weights_requirement(saliency_weights))
    return requirements
