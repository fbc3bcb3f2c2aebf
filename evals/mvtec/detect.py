"""Stages 1-2 of SAA+ for every MVTec AD test image, once, into the prompt cache: `run_eval.py --detect mvtec`.

    python run_eval.py --detect mvtec [--data-root datasets] [--out results] [--device cuda]
        [--mvtec-prompts DIR] [--mvtec-detector weights/grounding-dino-tiny]
        [--mvtec-saliency-weights weights/wide_resnet50_racm-8234f177.pth] [--mvtec-categories bottle,screw]

Per image (SAA/model.py ``forward`` up to the SAM call, caoyunkang/Segment-Any-Anomaly@SAA-plus):
    1. object pass: the category's object prompt; boxes up to 1 / object_count of the image; the largest kept
       box area (1 if none) fixes the defect boxes' size limit;
    2. defect pass: the general + manual defect prompts, each caption its own forward pass, boxes up to
       max_defect_area_fraction x that area, object-phrase boxes dropped; pooled in prompt order;
    3. the saliency map (saliency.py).
Neither depends on the SAM model, so every SAM model's run reads this cache. A killed run resumes: images
already in the cache are skipped (the cache's manifest must match); an entry that cannot be read back whole is
made again.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..log import LOGGER
from ..provenance import host_info, package_versions, utc_now
from .categories import CATEGORIES, parse_categories
from .dataset import MVTecImage, load_mvtec_dataset, read_bgr
from .grounding import CaptionGrounding
from .options import default_prompt_dir
from .prompt_cache import FORMAT, PromptCache
from .proposals import defect_max_area, pool_proposals
from .protocol import (
    BOX_THRESHOLD,
    SALIENCY_INPUT_SIZE,
    SALIENCY_TOP_N,
    TEXT_THRESHOLD,
    detection_protocol,
)
from .saa_prompts import OBJECT_FILTER_PHRASE, CategoryPrompts, category_prompts, prompts_record
from .saliency import SaliencyFeatures, saliency_heatmap, wide_resnet50_2_features

# What of the detector's provenance makes a cache what it is (its folder, device and versions are only recorded).
DETECTOR_IDENTITY = ("weights_file", "weights_sha256", "backbone", "num_queries", "max_text_len", "trained")


def detect_image(detector: CaptionGrounding, backbone: SaliencyFeatures, bgr: np.ndarray, prompts: CategoryPrompts,
                 saliency_input_size: int = SALIENCY_INPUT_SIZE, device: str = "cpu") -> dict:  # fmt: skip
    """The prompt-cache entry of one image (see prompt_cache.py)."""
    height, width = bgr.shape[:2]
    image = detector.prepare(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    object_result = detector.detect(image, prompts.object_prompt)
    objects = pool_proposals([object_result], [OBJECT_FILTER_PHRASE], BOX_THRESHOLD, TEXT_THRESHOLD,
                             torch.tensor(1.0 / prompts.object_count), 0.0, detector.decode)  # fmt: skip
    max_area = defect_max_area(objects, prompts.max_defect_area_fraction)
    captions = [caption for caption, _ in prompts.defect_prompts]
    filters = [phrase for _, phrase in prompts.defect_prompts]
    defects = pool_proposals([detector.detect(image, caption) for caption in captions], filters, BOX_THRESHOLD,
                             TEXT_THRESHOLD, max_area, 0.0, detector.decode)  # fmt: skip
    return {
        "defect_boxes": defects.pixel_corners(height, width).numpy().astype(np.float32),
        "defect_logits": np.array(defects.logits, dtype=np.float32),
        "object_boxes": objects.boxes.numpy().astype(np.float32),
        "object_logits": np.array(objects.logits, dtype=np.float32),
        "saliency": saliency_heatmap(backbone, bgr, saliency_input_size, SALIENCY_TOP_N, device),
        "image_size": np.array([height, width], dtype=np.int64),
        "defect_phrases": defects.phrases,
        "defect_prompt_indices": defects.prompt_indices,
        "object_phrases": objects.phrases,
        "object_area": float(objects.largest_area),
        "max_defect_area": float(max_area),
    }


def detection_manifest(detector: CaptionGrounding, saliency_provenance: dict, saliency_input_size: int) -> dict:
    """The prompt cache's manifest: everything stages 1-2 depend on (its identity) plus when and where."""
    return {
        "format": FORMAT,
        "protocol": detection_protocol(saliency_input_size=saliency_input_size),
        "prompts": prompts_record(CATEGORIES),
        "detector": {key: detector.provenance.get(key) for key in DETECTOR_IDENTITY},
        "saliency": saliency_provenance,
        "trained": bool(detector.provenance.get("trained", True) and saliency_provenance.get("trained", True)),
        "created": utc_now(),
        "command": " ".join(sys.argv),
        "packages": {**package_versions(), "transformers": detector.provenance.get("transformers")},
        "detector_run": detector.provenance,
    }


def fill_cache(cache: PromptCache, images: list[MVTecImage], detector: CaptionGrounding, backbone: SaliencyFeatures,
               saliency_input_size: int = SALIENCY_INPUT_SIZE, device: str = "cpu") -> dict:  # fmt: skip
    """Detect every image of `images` that the cache lacks; returns counts and timings."""
    done, seconds, remade = 0, 0.0, []
    for image in tqdm(images, desc="mvtec/detect", unit="image", file=sys.stderr):
        if cache.has(image.id):
            if cache.entry_problem(image.id) is None:
                continue
            remade.append(image.id)  # truncated or damaged: made again
        start = time.perf_counter()
        entry = detect_image(detector, backbone, read_bgr(image.image_path), category_prompts(image.category),
                             saliency_input_size, device)  # fmt: skip
        cache.save(image.id, entry)
        seconds += time.perf_counter() - start
        done += 1
    if remade:
        shown = ", ".join(remade[:5]) + (f" and {len(remade) - 5} more" if len(remade) > 5 else "")
        LOGGER.warning(f"mvtec/detect: {len(remade)} unreadable or damaged cache entries made again: {shown}")
    return {"detected": done, "already_cached": len(images) - done, "remade": remade, "seconds": round(seconds, 3),
            "seconds_per_image": round(seconds / done, 4) if done else None}  # fmt: skip


def detect_mvtec(data_root: Path, cache_dir: Path, detector: CaptionGrounding, backbone: SaliencyFeatures,
                 saliency_provenance: dict, categories: tuple[str, ...] = CATEGORIES, limit: int | None = None,
                 saliency_input_size: int = SALIENCY_INPUT_SIZE, device: str = "cpu") -> dict:  # fmt: skip
    """Fill the prompt cache at `cache_dir` for `categories` of the dataset under `data_root`."""
    dataset = load_mvtec_dataset(data_root, categories)
    images = [sample.data for sample in dataset.samples][:limit]
    cache = PromptCache(cache_dir)
    cache.open_for_writing(detection_manifest(detector, saliency_provenance, saliency_input_size))
    backbone = backbone.to(device)
    counts = fill_cache(cache, images, detector, backbone, saliency_input_size, device)
    return {"cache": str(cache_dir), "images": len(images), "sample_ids": [image.id for image in images],
            "host": host_info(device), **counts}  # fmt: skip


def detect_from_args(args: argparse.Namespace) -> list[Path]:
    """`run_eval.py --detect mvtec`: the task's options decide where; returns
    the cache's manifest and the entries of the selected images. With `--untrained` the saliency backbone is
    random (pipeline checks only; the cache records ``trained: false``)."""
    cache_dir = Path(args.mvtec_prompts or default_prompt_dir(args.out))
    detector = CaptionGrounding.from_folder(args.mvtec_detector, device=args.device)
    weights = None if getattr(args, "untrained", False) else args.mvtec_saliency_weights
    backbone, saliency_provenance = wide_resnet50_2_features(weights)
    categories = parse_categories(args.mvtec_categories)
    summary = detect_mvtec(args.data_root, cache_dir, detector, backbone, saliency_provenance, categories, args.limit,
                           device=args.device)  # fmt: skip
    LOGGER.info(f"mvtec prompts: {summary['detected']} image(s) detected, {summary['already_cached']} already cached "
                f"-> {cache_dir}")  # fmt: skip
    cache = PromptCache(cache_dir)
    return [cache.manifest_path] + [cache.path(sample_id) for sample_id in summary["sample_ids"]]
