"""The bundled demo sample: two generated 4-frame 96x128 videos of moving textured shapes, in UVO v1.0's layout.

    python -m evals.uvo.sample datasets/sample       # writes datasets/sample/UVOv1.0/ (deterministic)

Video 1: a square and a disk drifting right and down. Video 2: an ellipse moving left, and a bar that leaves the
frame after frame 2 (its segmentation is None on frame 3, as YouTube-VIS marks absent objects).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .protocol import ANNOTATIONS, FRAMES_DIR
from .vis import encode_mask

HEIGHT, WIDTH, FRAMES = 96, 128, 4


def _texture(rng: np.random.Generator, base: int, contrast: int) -> np.ndarray:
    """Smooth random texture (H x W x 3 uint8), so a point tracker has something to follow."""
    coarse = rng.uniform(-1, 1, size=(HEIGHT // 8, WIDTH // 8, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    return np.clip(base + contrast * smooth, 0, 255).astype(np.uint8)


def _shape(kind: str, cx: float, cy: float, size: float) -> np.ndarray:
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    if kind == "square":
        return (np.abs(xx - cx) <= size) & (np.abs(yy - cy) <= size)
    if kind == "disk":
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= size**2
    if kind == "ellipse":
        return ((xx - cx) / (1.6 * size)) ** 2 + ((yy - cy) / size) ** 2 <= 1
    if kind == "bar":
        return (np.abs(xx - cx) <= 2.5 * size) & (np.abs(yy - cy) <= 0.6 * size)
    raise ValueError(kind)


# (video name, [(shape, x0, y0, size, dx per frame, dy per frame, texture base)])
VIDEOS = [
    ("video_a", [("square", 34, 36, 12, 2, 1, 170), ("disk", 88, 58, 14, 1, -1, 90)]),
    ("video_b", [("ellipse", 80, 40, 12, -2, 1, 170), ("bar", 30, 74, 10, -20, 0, 120)]),
]


def write_sample_dataset(data_root: Path) -> Path:
    """Write <data_root>/UVOv1.0/ (frames + YouTube-VIS json); returns the json's path."""
    root = Path(data_root) / "UVOv1.0"
    rng = np.random.default_rng(0)
    videos, annotations = [], []
    for video_id, (name, objects) in enumerate(VIDEOS, start=1):
        background = _texture(rng, 128, 60)
        textures = [_texture(rng, base, 80) for *_, base in objects]
        tracks: list[list] = [[] for _ in objects]
        (root / FRAMES_DIR / name).mkdir(parents=True, exist_ok=True)
        for t in range(FRAMES):
            frame = background.copy()
            for k, (kind, x0, y0, size, dx, dy, _) in enumerate(objects):
                mask = _shape(kind, x0 + dx * t, y0 + dy * t, size)
                frame[mask] = textures[k][mask]
                tracks[k].append(mask)
            for k in range(len(objects)):  # occlusion: what later objects cover is not visible
                for front in range(k + 1, len(objects)):
                    tracks[k][t] = tracks[k][t] & ~tracks[front][t]
            Image.fromarray(frame).save(root / FRAMES_DIR / name / f"{t}.png")
        videos.append({"id": video_id, "width": WIDTH, "height": HEIGHT, "length": FRAMES,
                       "file_names": [f"{name}/{t}.png" for t in range(FRAMES)]})  # fmt: skip
        for masks in tracks:
            segmentations = [encode_mask(m) if m.any() else None for m in masks]
            areas = [float(m.sum()) if m.any() else None for m in masks]
            bboxes = [_bbox(m) if m.any() else None for m in masks]
            annotations.append({"id": len(annotations) + 1, "video_id": video_id, "category_id": 1, "iscrowd": 0,
                                "segmentations": segmentations, "areas": areas, "bboxes": bboxes})  # fmt: skip
    dataset = {"info": {"description": "generated UVO-layout sample (evals/uvo/sample.py)"}, "videos": videos,
               "annotations": annotations, "categories": [{"id": 1, "name": "object", "supercategory": "object"}]}  # fmt: skip
    path = root / ANNOTATIONS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dataset))
    return path


def _bbox(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_root", type=Path)
    print(write_sample_dataset(parser.parse_args(argv).data_root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
