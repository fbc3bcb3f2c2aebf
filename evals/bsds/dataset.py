"""Reader for BSDS500 as distributed: images/<split>/*.jpg and groundTruth/<split>/*.mat.

Accepted roots (the 2013 BSR release and the common flat copy): <root>/BSR/BSDS500/data, <root>/BSDS500/data,
<root>/BSDS500, or <root> itself. Images are listed from the ground truth, sorted by name, as the bench's
`boundaryBench.m` / `collect_eval_bdry.m` list them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..base import DatasetLayoutError
from ..errors import DataError
from ..names import check_name

ROOT_CANDIDATES = ("BSR/BSDS500/data", "BSDS500/data", "BSDS500", ".")
CANONICAL_ROOT = ROOT_CANDIDATES[0]  # where BSR_bsds500.tgz unpacks
# The 2013 BSR release (Berkeley; research use), as linked from the BSDS500 page
# (https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/resources.html).
BSDS500_URL = "http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz"
EXPECTED_TREE = """\
<data-root>/BSR/BSDS500/data/     (or <data-root>/BSDS500/, or <data-root> itself)
    images/{split}/*.jpg
    groundTruth/{split}/*.mat       MATLAB cell `groundTruth` of structs {{Boundaries, Segmentation}}
"""


@dataclass(frozen=True)
class BsdsImage:
    name: str
    image: Path
    ground_truth: Path

    @property
    def files(self) -> tuple[Path, Path]:
        return self.image, self.ground_truth


def find_bsds(data_root: Path, split: str) -> Path:
    """The folder holding images/<split> and groundTruth/<split>."""
    for candidate in ROOT_CANDIDATES:
        root = Path(data_root) / candidate
        if (root / "groundTruth" / split).is_dir() and (root / "images" / split).is_dir():
            return root
    raise DatasetLayoutError(f"no BSDS500 {split} split under {data_root}", EXPECTED_TREE.format(split=split))


def read_bsds(data_root: Path, split: str = "test") -> tuple[Path, list[BsdsImage]]:
    root = find_bsds(data_root, split)
    images = []
    for gt in sorted((root / "groundTruth" / split).glob("*.mat")):
        check_name("BSDS500 image name", gt.stem, DataError)
        image = root / "images" / split / f"{gt.stem}.jpg"
        if not image.is_file():
            raise DatasetLayoutError(f"{gt} has no image {image}", EXPECTED_TREE.format(split=split))
        images.append(BsdsImage(gt.stem, image, gt))
    if not images:
        raise DatasetLayoutError(f"no ground truth in {root / 'groundTruth' / split}", EXPECTED_TREE.format(split=split))
    return root, images
