"""A DAVIS tree holding the first frames of the bundled sample's video: what SAM 2's VOS reference
(tests/data/sam2_vos/make_reference.py) and its test (tests/test_sam2_vos.py) both run on."""
from __future__ import annotations

import shutil
from pathlib import Path

DAVIS = Path(__file__).resolve().parents[1] / "datasets" / "sample" / "DAVIS"
VIDEO = "blackswan"
FRAMES = 3  # SAM 2's memory attention makes each frame cost more than the last on a CPU: 3 frames keep the test short


def sample_clip(root: Path, frames: int = FRAMES) -> Path:
    """A DAVIS tree at `root` with the first `frames` frames of the sample's VIDEO (frames and annotations)."""
    for kind, suffix in (("JPEGImages", ".jpg"), ("Annotations", ".png")):
        source, target = DAVIS / kind / "480p" / VIDEO, root / kind / "480p" / VIDEO
        target.mkdir(parents=True)
        for path in sorted(source.glob(f"*{suffix}"))[:frames]:
            shutil.copy(path, target / path.name)
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text(VIDEO + "\n")
    return root
