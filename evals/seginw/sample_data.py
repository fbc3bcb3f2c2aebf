"""The bundled sample data of `--task seginw` (datasets/sample/seginw/): two synthetic datasets, not SegInW.

SegInW's images come from Roboflow projects under their own licences, so `make demo` runs on two tiny generated
datasets in the SegInW layout (``<Dataset>/valid/*.jpg`` + ``_annotations_min1cat.coco.json``, a Roboflow-style COCO
export: categories and images numbered from 0, polygon segmentations, iscrowd 0): coloured polygons on a noisy
gradient. Annotation ids start at 1, unlike Roboflow's (see evaluator.py on annotation id 0).
Synthetic-Shapes has one-word categories, Synthetic-Blobs two-word ones (a category spans several tokens of the
Grounding-DINO caption). Deterministic; regenerate with

    python -m evals.seginw.sample_data [OUT_ROOT]        (default datasets/sample)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

from .datasets import ANNOTATION_FILE, FOLDER, SPLIT

SAMPLE_ROOT = Path(__file__).resolve().parent.parent.parent / "datasets" / "sample"
WIDTH, HEIGHT = 160, 120
IMAGES_PER_DATASET = 2
JPEG_QUALITY = 90
# name -> categories (name, RGB colour); ids 0, 1, ... in this order, as in SegInW's files.
SAMPLE_DATASETS = {
    "Synthetic-Shapes": (("circle", (230, 60, 40)), ("square", (40, 90, 230)), ("triangle", (250, 210, 30))),
    "Synthetic-Blobs": (("red blob", (220, 30, 30)), ("blue blob", (30, 40, 220))),
}


def _polygon(kind: str, cx: int, cy: int, r: int, rng: np.random.Generator) -> np.ndarray:
    """N x 2 integer vertices (x, y) of a shape centred at (cx, cy) with radius about r."""
    if kind == "circle":
        angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
        radii = np.full(20, r)
    elif kind == "square":
        angles = np.linspace(0, 2 * np.pi, 4, endpoint=False) + np.pi / 4 + rng.uniform(-0.3, 0.3)
        radii = np.full(4, r * 1.3)
    elif kind == "triangle":
        angles = np.linspace(0, 2 * np.pi, 3, endpoint=False) + rng.uniform(0, 2 * np.pi)
        radii = np.full(3, r * 1.4)
    else:  # a blob: a circle with a wobbly radius
        angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        radii = r * (1 + 0.25 * np.sin(3 * angles + rng.uniform(0, 2 * np.pi)))
    points = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
    return np.clip(np.round(points), 0, [WIDTH - 1, HEIGHT - 1]).astype(np.int32)


def _background(rng: np.random.Generator) -> np.ndarray:
    left, right = rng.uniform(90, 170, size=3), rng.uniform(90, 170, size=3)
    t = np.linspace(0, 1, WIDTH)[None, :, None]
    image = np.broadcast_to((1 - t) * left + t * right, (HEIGHT, WIDTH, 3)).copy()
    return image + rng.normal(0, 5, size=image.shape)


def synthetic_image(dataset: str, index: int) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """(H x W x 3 uint8 RGB image, [(category id, polygon), ...]) of image `index` of `dataset`; objects do not
    overlap (centres on a grid of three columns)."""
    categories = SAMPLE_DATASETS[dataset]
    rng = np.random.default_rng(sum(map(ord, dataset)) * 10 + index)
    image = _background(rng)
    objects = []
    count = 2 + index % 2
    for slot in range(count):
        category_id = int((index + slot) % len(categories))
        name, colour = categories[category_id]
        cx = 28 + slot * 52 + int(rng.integers(-4, 5))
        cy = int(rng.integers(40, HEIGHT - 40))
        kind = name if name in ("circle", "square", "triangle") else "blob"
        polygon = _polygon(kind, cx, cy, int(rng.integers(13, 19)), rng)
        cv2.fillPoly(image, [polygon], colour)
        objects.append((category_id, polygon))
    return np.clip(image, 0, 255).astype(np.uint8), objects


def _polygon_area(polygon: np.ndarray) -> float:
    x, y = polygon[:, 0].astype(float), polygon[:, 1].astype(float)
    return float(0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def annotation_content(dataset: str) -> dict:
    """The dataset's COCO annotation file, as a Roboflow export lays it out."""
    images, annotations = [], []
    for index in range(IMAGES_PER_DATASET):
        file_name = f"{dataset.lower()}_{index:02d}.jpg"
        images.append({"id": index, "license": 1, "file_name": file_name, "height": HEIGHT, "width": WIDTH})
        for category_id, polygon in synthetic_image(dataset, index)[1]:
            x0, y0 = polygon.min(axis=0)
            x1, y1 = polygon.max(axis=0)
            annotations.append({
                "id": len(annotations) + 1, "image_id": index, "category_id": category_id,
                "bbox": [int(x0), int(y0), int(x1 - x0), int(y1 - y0)], "area": _polygon_area(polygon),
                "segmentation": [[int(v) for v in polygon.reshape(-1)]], "iscrowd": 0,
            })  # fmt: skip
    categories = [{"id": i, "name": name, "supercategory": dataset.lower()}
                  for i, (name, _) in enumerate(SAMPLE_DATASETS[dataset])]  # fmt: skip
    return {
        "info": {"description": f"{dataset}: synthetic sample in the SegInW layout (evals/seginw/sample_data.py)"},
        "licenses": [{"id": 1, "name": "CC0 1.0", "url": "https://creativecommons.org/publicdomain/zero/1.0/"}],
        "categories": categories, "images": images, "annotations": annotations,
    }  # fmt: skip


def write_sample_datasets(out_root: Path = SAMPLE_ROOT) -> Path:
    """Write <out_root>/seginw/<Dataset>/valid/ for both sample datasets; returns <out_root>/seginw."""
    root = Path(out_root) / FOLDER
    for dataset in SAMPLE_DATASETS:
        folder = root / dataset / SPLIT
        folder.mkdir(parents=True, exist_ok=True)
        content = annotation_content(dataset)
        for record in content["images"]:
            image, _ = synthetic_image(dataset, record["id"])
            cv2.imwrite(str(folder / record["file_name"]), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])  # fmt: skip
        (folder / ANNOTATION_FILE).write_text(json.dumps(content, indent=1) + "\n")
    return root


if __name__ == "__main__":
    print(write_sample_datasets(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE_ROOT))
