"""Where the Grounding-DINO weights come from and how a run checks them before anything loads: light (no torch, no
`transformers`), so the command line can name what is missing in a second.

The paper's detector (sam-hq seginw/README.md, section 3, and test_seginw.sh: ``-c GroundingDINO_SwinB.py -p
groundingdino_swinb_cogcoor.pth``, from https://huggingface.co/ShilongLiu/GroundingDINO) is Grounding-DINO Swin-B. Its
`transformers` form is IDEA-Research/grounding-dino-base (transformers' convert_grounding_dino_to_hf.py,
``checkpoint_mapping["grounding-dino-base"]`` = that .pth), a folder: config.json, the weights, the tokenizer and
processor files.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from ..base import Requirement

DEFAULT_WEIGHTS_DIR = Path("weights") / "grounding-dino-base"
HUB_MODEL = "IDEA-Research/grounding-dino-base"
HUB_URL = f"https://huggingface.co/{HUB_MODEL}"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TRANSFORMERS = "transformers>=5,<6"  # pyproject.toml, the `detect` extra

MISSING_WEIGHTS = """\
Grounding-DINO weights not found in {path} (a transformers model folder: config.json, model.safetensors,
preprocessor / tokenizer files). The paper's detector is Grounding-DINO Swin-B (groundingdino_swinb_cogcoor.pth); its
transformers conversion is {hub}. Download it once, e.g.
    hf download {hub} --local-dir {path}        (huggingface_hub >= 1.0; older: huggingface-cli download ...)
or convert the original .pth with transformers' src/transformers/models/grounding_dino/convert_grounding_dino_to_hf.py
--model_name grounding-dino-base --pytorch_dump_folder_path {path}. Then pass --detector-weights {path}."""


def has_weights(folder: Path) -> bool:
    """Whether `folder` holds a transformers model: config.json and a weights file."""
    folder = Path(folder)
    return (folder / "config.json").is_file() and any((folder / name).is_file() for name in WEIGHT_FILES)


def weights_requirement(folder: Path, hub_model: str = HUB_MODEL, what: str = "Grounding-DINO Swin-B weights") -> Requirement:
    """The detector's weights folder (`--detector-weights`) and where it is published."""
    folder = Path(folder)
    source = (f"https://huggingface.co/{hub_model}: hf download {hub_model} --local-dir {folder}; then "
              "--detector-weights DIR if elsewhere")  # fmt: skip
    return Requirement(f"{what} (a transformers folder: config.json, {' or '.join(WEIGHT_FILES)}, tokenizer)", folder,
                       source, lambda: has_weights(folder))  # fmt: skip


def transformers_requirement() -> Requirement:
    """The `transformers` package, which only the detectors need."""
    return Requirement("the transformers package (runs Grounding-DINO)", None, f"pip install '{TRANSFORMERS}'",
                       lambda: importlib.util.find_spec("transformers") is not None)  # fmt: skip
