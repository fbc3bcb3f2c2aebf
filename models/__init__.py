"""SAM-family models behind one builder and one prompt interface.

    from models import build_model, load_prompt_model
    sam = build_model("repvit")                      # the network from weights/repvit_sam.pt, strict key layout
    sam = build_model("vit_b", checkpoint="x.pth")   # any path
    sam = build_model("repvit", random_init=True)    # untrained weights, for demos and tests only
    model = load_prompt_model("repvit", backend="onnxruntime")   # the interface tasks drive (models/prompt_model.py)

`python run_eval.py --list-models` lists every variant (models/families/, plug-ins) and its checkpoint's status.
Importing this package loads nothing heavy: the names below are imported on first use (the command line answers
`--help` without torch).
"""
from __future__ import annotations

import importlib

from .capabilities import Capabilities
from .registry import ModelFamily, ModelVariant, UnknownModel, model_variant, variant_names

_LAZY = {
    "build_model": ".loading",
    "build_untrained": ".loading",
    "load_prompt_model": ".loading",
    "CheckpointError": ".checkpoint",
    "MaskPrediction": ".prompt_model",
    "PromptModel": ".prompt_model",
    "SamPromptModel": ".sam_prompt_model",
}

__all__ = ["Capabilities", "ModelFamily", "ModelVariant", "UnknownModel", "model_variant", "variant_names", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
