"""The clip of the DAVIS protocol-parity test (tests/test_protocol_parity_davis.py) and of the SAM-PT run it is
compared with (tests/data/protocols/davis/make_reference.py): real frames, two objects.

The first CLIP_FRAMES frames of the bundled DAVIS-2016 sample's VIDEO (tests/data/davis2016_sample, 480p), with its
one annotated object split in two at the median column of its frame-0 pixels (id 1: the columns left of it, id 2:
the rest), so that SAM-PT's two-object paths run: other objects' positive points as negatives, and the merge of
two objects' logits. Only frame 0's annotation reaches SAM-PT; the others are what our loader checks and scores.
Numpy and PIL only: the reference driver imports this module from its own virtual environment.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SAMPLE = Path(__file__).resolve().parent / "data" / "davis2016_sample"
VIDEO = "blackswan"
CLIP_FRAMES = 5
N_OBJECTS = 2
PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0]  # DAVIS's first colours: background, object 1, object 2


def frame_names(frames: int = CLIP_FRAMES) -> list[str]:
    return [path.stem for path in sorted((SAMPLE / "JPEGImages" / "480p" / VIDEO).glob("*.jpg"))[:frames]]


def split_column() -> int:
    """The column that splits the object: the median column of its pixels on frame 0."""
    first = np.asarray(Image.open(SAMPLE / "Annotations" / "480p" / VIDEO / f"{frame_names()[0]}.png")) > 127
    return int(np.median(np.nonzero(first)[1]))


def two_object_ids(name: str) -> np.ndarray:
    """uint8 id map of frame `name`: the sample's object split at `split_column()` into ids 1 and 2."""
    mask = np.asarray(Image.open(SAMPLE / "Annotations" / "480p" / VIDEO / f"{name}.png")) > 127
    ids = np.zeros(mask.shape, dtype=np.uint8)
    columns = np.arange(mask.shape[1])[None, :]
    ids[mask & (columns < split_column())] = 1
    ids[mask & (columns >= split_column())] = 2
    return ids


def write_clip(images: Path, annotations: Path, frames: int = CLIP_FRAMES) -> None:
    """The clip's JPEGs (copied byte for byte) into `images` and its two-object palette PNGs into `annotations`."""
    images.mkdir(parents=True, exist_ok=True)
    annotations.mkdir(parents=True, exist_ok=True)
    for name in frame_names(frames):
        (images / f"{name}.jpg").write_bytes((SAMPLE / "JPEGImages" / "480p" / VIDEO / f"{name}.jpg").read_bytes())
        png = Image.fromarray(two_object_ids(name))
        png.putpalette(PALETTE)  # an L image with a palette becomes indexed (P): pixel value = object id
        png.save(annotations / f"{name}.png")
