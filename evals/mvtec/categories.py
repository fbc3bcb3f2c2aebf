"""The 15 categories of MVTec AD and their test-set sizes.

Order: SAA+'s (caoyunkang/Segment-Any-Anomaly, branch SAA-plus, ``datasets/mvtec.py``, ``mvtec_classes``): the
five textures, then the ten objects. Samples are read and reported in this order.
"""
from __future__ import annotations

from ..errors import UsageError

DATASET_FOLDER = "mvtec_anomaly_detection"  # the name of the extracted archive (SAA+ MVTEC2D_DIR)
# MVTec's page for the dataset (CC BY-NC-SA 4.0): its download form gives the whole archive (and one per category),
# which extracts to DATASET_FOLDER.
DATASET_URL = "https://www.mvtec.com/research-teaching/datasets/mvtec-ad"
DATASET_ARCHIVE = "mvtec_anomaly_detection.tar.xz"

CATEGORIES = (
    "carpet", "grid", "leather", "tile", "wood",
    "bottle", "cable", "capsule", "hazelnut", "metal_nut", "pill", "screw", "toothbrush", "transistor", "zipper",
)  # fmt: skip

GOOD = "good"  # the defect-free test folder; its images have no mask file (an empty mask)

# Test images per category (good + defective), Bergmann et al., CVPR 2019, Table 1: 1,725 in all.
TEST_IMAGES = {
    "carpet": 117, "grid": 78, "leather": 124, "tile": 117, "wood": 79,
    "bottle": 83, "cable": 150, "capsule": 132, "hazelnut": 110, "metal_nut": 115,
    "pill": 167, "screw": 160, "toothbrush": 42, "transistor": 100, "zipper": 151,
}  # fmt: skip
TOTAL_TEST_IMAGES = 1725


def parse_categories(text: str | None) -> tuple[str, ...]:
    """`--mvtec-categories`: comma-separated names (in any order; returned in the canonical order), or all."""
    if text is None or text.strip() in ("", "all"):
        return CATEGORIES
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(CATEGORIES))
    if unknown:
        raise UsageError(f"--mvtec-categories: unknown MVTec AD categor{'y' if len(unknown) == 1 else 'ies'} "
                         f"{', '.join(unknown)}; known: {', '.join(CATEGORIES)}")  # fmt: skip
    return tuple(category for category in CATEGORIES if category in names)
