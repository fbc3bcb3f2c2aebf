"""Synthetic data in the MVTec AD layout: the bundled demo sample and the tests' data. Not MVTec AD.

MVTec AD is licensed CC BY-NC-SA 4.0, so `make demo` uses small generated images instead: a "tile" texture
(smooth blotches) with pasted cracks, and a "bottle" (a bright ring seen from above, on black) with pasted
dents and stains, each defect with its 0/255 ground-truth mask; good images have none. Deterministic.

    python -m evals.mvtec.sample_data [DATA_ROOT]     (default datasets/sample)

writes DATA_ROOT/mvtec_anomaly_detection/<category>/... and, next to the categories, the prompt cache
`saa_prompts/` made by the real detection stage with UNTRAINED weights (a tiny random Grounding DINO,
untrained_detector.py, and a random WideResNet-50-2), so the demo runs every stage on CPU without downloads.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from .categories import DATASET_FOLDER, GOOD

SAMPLE_ROOT = Path(__file__).resolve().parent.parent.parent / "datasets" / "sample"
SIZE = 128
# Query boxes of the demo's untrained detector: nearly every random box passes SAA+'s 0.1 threshold, and each box
# costs one SAM decoder pass (~0.2 s on 2 CPU cores), so few queries keep `make demo` to seconds per image.
DEMO_QUERIES = 3
# category -> {defect folder: number of images}; defect names are MVTec AD's.
SAMPLE_LAYOUT = {"tile": {GOOD: 1, "crack": 2}, "bottle": {GOOD: 1, "contamination": 2}}


def _tile(rng: np.random.Generator, size: int) -> np.ndarray:
    """A grey-green stone texture: a few large smooth blotches, mild noise (BGR float)."""
    base = rng.uniform(110, 150, size=3)
    field = cv2.resize(rng.normal(0, 18, size=(6, 6)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    image = base + field[..., None] * np.array([1.0, 1.1, 0.9])
    return image + rng.normal(0, 0.6, size=(size, size, 3))


def _bottle(rng: np.random.Generator, size: int) -> np.ndarray:
    """A bottle seen from above: bright outer ring, darker inner disk, black background (BGR float)."""
    image = np.full((size, size, 3), 8.0)
    centre = (size // 2 + int(rng.integers(-3, 4)), size // 2 + int(rng.integers(-3, 4)))
    cv2.circle(image, centre, int(size * 0.42), (150, 160, 170), thickness=-1)
    cv2.circle(image, centre, int(size * 0.30), (70, 75, 80), thickness=-1)
    cv2.circle(image, centre, int(size * 0.18), (30, 32, 34), thickness=-1)
    return cv2.GaussianBlur(image, (5, 5), 1.5) + rng.normal(0, 0.6, size=image.shape)


def _crack(rng: np.random.Generator, size: int) -> np.ndarray:
    """uint8 0/255 mask of a thin jagged line."""
    mask = np.zeros((size, size), np.uint8)
    points = [rng.integers(size // 5, 4 * size // 5, size=2)]
    for _ in range(5):
        points.append(np.clip(points[-1] + rng.integers(-14, 15, size=2), 2, size - 3))
    cv2.polylines(mask, [np.array(points, np.int32)], isClosed=False, color=255, thickness=2)
    return mask


def _stain(rng: np.random.Generator, size: int) -> np.ndarray:
    """uint8 0/255 mask of an irregular blob on the bottle's ring."""
    mask = np.zeros((size, size), np.uint8)
    angle = rng.uniform(0, 2 * np.pi)
    centre = (int(size / 2 + 0.36 * size * np.cos(angle)), int(size / 2 + 0.36 * size * np.sin(angle)))
    axes = (int(rng.integers(4, 9)), int(rng.integers(3, 6)))
    cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, thickness=-1)
    return mask


def synthetic_image(category: str, defect: str, index: int, size: int = SIZE) -> tuple[np.ndarray, np.ndarray | None]:
    """(H x W x 3 uint8 BGR image, uint8 0/255 mask or None for a good image)."""
    seed = [ord(c) for c in f"{category}/{defect}"] + [index]
    rng = np.random.default_rng(seed)
    image = _tile(rng, size) if category != "bottle" else _bottle(rng, size)
    mask = None
    if defect != GOOD:
        mask = _crack(rng, size) if category != "bottle" else _stain(rng, size)
        colour = rng.uniform(20, 60, size=3) if category != "bottle" else rng.uniform(180, 230, size=3)
        image = np.where(mask[..., None] > 0, colour + rng.normal(0, 3, size=image.shape), image)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), mask


def write_dataset(data_root: Path, layout: dict[str, dict[str, int]] = SAMPLE_LAYOUT, size: int = SIZE) -> Path:
    """Write `data_root`/mvtec_anomaly_detection/<category>/test|ground_truth/...; returns that folder."""
    root = Path(data_root) / DATASET_FOLDER
    for category, defects in layout.items():
        for defect, count in defects.items():
            for index in range(count):
                image, mask = synthetic_image(category, defect, index, size)
                name = f"{index:03d}"
                _write(root / category / "test" / defect / f"{name}.png", image)
                if mask is not None:
                    _write(root / category / "ground_truth" / defect / f"{name}_mask.png", mask)
    return root


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), array, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"cannot write {path}")


def write_untrained_prompt_cache(data_root: Path, cache_dir: Path, categories: tuple[str, ...],
                                 num_queries: int = DEMO_QUERIES) -> dict:  # fmt: skip
    """The detection stage on the data under `data_root` with untrained weights (see the module docstring)."""
    from .detect import detect_mvtec
    from .grounding import CaptionGrounding
    from .saliency import wide_resnet50_2_features
    from .untrained_detector import write_untrained_detector

    with tempfile.TemporaryDirectory() as folder:
        detector = CaptionGrounding.from_folder(write_untrained_detector(Path(folder) / "grounding-dino-untrained",
                                                                       num_queries=num_queries))  # fmt: skip
        backbone, provenance = wide_resnet50_2_features(None)
        return detect_mvtec(data_root, cache_dir, detector, backbone, provenance, categories)


def write_sample(data_root: Path = SAMPLE_ROOT) -> Path:
    from .categories import CATEGORIES

    root = write_dataset(data_root)
    categories = tuple(c for c in CATEGORIES if c in SAMPLE_LAYOUT)
    write_untrained_prompt_cache(data_root, root / "saa_prompts", categories)
    return root


if __name__ == "__main__":
    print(write_sample(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE_ROOT))
