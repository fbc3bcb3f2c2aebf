"""The bundled sample data of `--task sod` (datasets/sample/DUTS-TE/): synthetic images, not DUTS.

DUTS images may not be redistributed, so `make demo` uses a few synthetic 160x120 scenes in the DUTS-TE layout:
one or two coloured shapes (the salient objects) on a smooth, noisy background, and their 0/255 masks.
Deterministic; regenerate with

    python -m evals.sod.sample_data [OUT_ROOT]        (default datasets/sample)
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

SAMPLE_ROOT = Path(__file__).resolve().parent.parent.parent / "datasets" / "sample"
NAME = "DUTS-TE"
WIDTH, HEIGHT = 160, 120
NUM_IMAGES = 4
JPEG_QUALITY = 95


def _background(rng: np.random.Generator) -> np.ndarray:
    """A smooth two-colour gradient with mild noise, H x W x 3 float."""
    top, bottom = rng.uniform(60, 200, size=3), rng.uniform(60, 200, size=3)
    t = np.linspace(0, 1, HEIGHT)[:, None, None]
    image = (1 - t) * top + t * bottom
    image = np.broadcast_to(image, (HEIGHT, WIDTH, 3)).copy()
    return image + rng.normal(0, 6, size=image.shape)


def _object_mask(index: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 0/255 mask of the salient object(s) of image `index`: disk, rectangle, ellipse, or two disks."""
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    cx, cy = int(rng.integers(60, 100)), int(rng.integers(45, 75))
    shape = index % 4
    if shape == 0:
        cv2.circle(mask, (cx, cy), int(rng.integers(22, 34)), 255, thickness=-1, lineType=cv2.LINE_8)
    elif shape == 1:
        w, h = int(rng.integers(30, 50)), int(rng.integers(25, 40))
        cv2.rectangle(mask, (cx - w // 2, cy - h // 2), (cx + w // 2, cy + h // 2), 255, thickness=-1)
    elif shape == 2:
        axes = (int(rng.integers(28, 45)), int(rng.integers(15, 25)))
        cv2.ellipse(mask, (cx, cy), axes, float(rng.integers(0, 180)), 0, 360, 255, thickness=-1, lineType=cv2.LINE_8)
    else:
        cv2.circle(mask, (cx - 30, cy), 18, 255, thickness=-1, lineType=cv2.LINE_8)
        cv2.circle(mask, (cx + 25, cy + 5), 14, 255, thickness=-1, lineType=cv2.LINE_8)
    return mask


def synthetic_pair(index: int) -> tuple[np.ndarray, np.ndarray]:
    """(H x W x 3 uint8 RGB image, H x W uint8 0/255 mask) of sample `index`."""
    rng = np.random.default_rng(1000 + index)
    image = _background(rng)
    mask = _object_mask(index, rng)
    colour = rng.uniform(0, 255, size=3)
    colour[index % 3] = 250 if image.mean() < 128 else 20  # contrast with the background
    foreground = colour + rng.normal(0, 8, size=image.shape)
    image = np.where(mask[..., None] > 0, foreground, image)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), mask


def sample_stem(index: int) -> str:
    return f"synthetic_{index + 1:04d}"


def write_sample_dataset(root: Path = SAMPLE_ROOT, count: int = NUM_IMAGES) -> Path:
    """Write `root`/DUTS-TE/DUTS-TE-Image/*.jpg and DUTS-TE-Mask/*.png; returns the dataset folder."""
    dataset = Path(root) / NAME
    images, masks = dataset / f"{NAME}-Image", dataset / f"{NAME}-Mask"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        image, mask = synthetic_pair(index)
        stem = sample_stem(index)
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(str(images / f"{stem}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise OSError(f"cannot write {images / stem}.jpg")
        if not cv2.imwrite(str(masks / f"{stem}.png"), mask):
            raise OSError(f"cannot write {masks / stem}.png")
    return dataset


if __name__ == "__main__":
    print(write_sample_dataset(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE_ROOT))
