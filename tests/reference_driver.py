"""Helpers shared by the reference drivers (tests/data/**/make_reference.py). They run in a scratch venv beside the
reference's own code and import this file from tests/, as they import parity_weights.py: standard library and
pycocotools only."""
from __future__ import annotations

import hashlib
import importlib.machinery
import sys
import types


def stub_module(name: str, **attributes) -> None:
    """An importable empty module `name` holding `attributes`, for a reference's training- or network-only import."""
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.__dict__.update(attributes)
    sys.modules[name] = module


def mask_record(detection: dict) -> dict:
    """A COCO results entry with a compressed-RLE mask, kept small: its ids, score, size, area and the sha256 of its
    RLE counts (what the parity tests compare)."""
    from pycocotools import mask as mask_util

    rle = detection["segmentation"]
    return {"image_id": detection["image_id"], "category_id": detection["category_id"], "score": detection["score"],
            "size": rle["size"], "area": int(mask_util.area(rle)),
            "counts_sha256": hashlib.sha256(rle["counts"].encode()).hexdigest()}  # fmt: skip
