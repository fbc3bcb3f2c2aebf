"""MVTec AD's test set in the official layout: one sample per test image, id "<category>/<defect>/<name>".

    <data-root>/mvtec_anomaly_detection/<category>/test/<defect>/<name>.png
    <data-root>/mvtec_anomaly_detection/<category>/ground_truth/<defect>/<name>_mask.png   (none for `good`)

`<data-root>` may also be the mvtec_anomaly_detection folder itself. Categories come in SAA+'s order
(categories.py), defect folders sorted by name, images sorted by name. A defective image without its mask, a
mask without its image, or a missing category is an error that names them and prints the expected tree.
As SAA+ reads them (datasets/mvtec.py, datasets/dataset.py): images ``*.png`` in each test folder; a mask pixel
is anomalous where the 8-bit mask is > 0; `good` images have an empty mask.

Every file is read through evals/images.py (a missing, truncated or undecodable file is a DataError naming it), with
SAA+'s decoding: ``cv2.imread(path, cv2.IMREAD_COLOR)`` (BGR; the grey categories replicated to 3 channels) and the
masks as 8-bit grey. Loading the dataset checks, before any prediction, that every mask is whole and has its
image's size (read from both files' headers; the images are checked whole when they are read).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .. import images
from ..base import Dataset, DatasetLayoutError, Sample
from ..errors import DataError
from .categories import CATEGORIES, DATASET_FOLDER, GOOD, TEST_IMAGES

MASK_SUFFIX = "_mask.png"  # ground_truth/<defect>/<name>_mask.png (SAA+ datasets/mvtec.py)
MISSING_SHOWN = 5

LAYOUT_TREE = f"""\
<data-root>/{DATASET_FOLDER}/          (or <data-root> itself, when it is that folder)
    <category>/test/good/*.png                     defect-free test images (no mask)
    <category>/test/<defect>/*.png                 defective test images
    <category>/ground_truth/<defect>/<name>_mask.png   8-bit masks, anomalous where > 0
  categories: {", ".join(CATEGORIES)}
  (15 categories, 1,725 test images: the official mvtec_anomaly_detection.tar.xz, extracted)
"""


@dataclass(frozen=True)
class MVTecImage:
    category: str
    defect: str  # "good" or the defect type (the test sub-folder)
    name: str  # file stem, e.g. "000"
    image_path: Path
    mask_path: Path | None  # None for good images

    @property
    def id(self) -> str:
        return f"{self.category}/{self.defect}/{self.name}"

    @property
    def anomalous(self) -> bool:
        return self.mask_path is not None


def find_mvtec_root(data_root: Path) -> Path:
    data_root = Path(data_root)
    for root in (data_root / DATASET_FOLDER, data_root):
        if root.is_dir() and any((root / category / "test").is_dir() for category in CATEGORIES):
            return root
    raise DatasetLayoutError(f"MVTec AD not found under {data_root}", LAYOUT_TREE)


def _shown(names: list[str]) -> str:
    return ", ".join(names[:MISSING_SHOWN]) + (", ..." if len(names) > MISSING_SHOWN else "")


def read_category(root: Path, category: str) -> list[MVTecImage]:
    """Every test image of `category` with its mask, defect folders and names sorted."""
    test_dir, truth_dir = root / category / "test", root / category / "ground_truth"
    if not test_dir.is_dir():
        raise DatasetLayoutError(f"MVTec AD: category {category!r} has no folder {test_dir}", LAYOUT_TREE)
    found: list[MVTecImage] = []
    for defect_dir in sorted(p for p in test_dir.iterdir() if p.is_dir()):
        defect = defect_dir.name
        paths = sorted(defect_dir.glob("*.png"))
        if defect == GOOD:
            found += [MVTecImage(category, defect, p.stem, p, None) for p in paths]
            continue
        masks = {p.name[: -len(MASK_SUFFIX)]: p for p in (truth_dir / defect).glob(f"*{MASK_SUFFIX}")}
        without_mask = [p.name for p in paths if p.stem not in masks]
        without_image = sorted(f"{name}{MASK_SUFFIX}" for name in masks.keys() - {p.stem for p in paths})
        if without_mask:
            raise DatasetLayoutError(f"MVTec AD {category}/{defect}: {len(without_mask)} image(s) without a mask in "
                                     f"{truth_dir / defect}: {_shown(without_mask)}", LAYOUT_TREE)  # fmt: skip
        if without_image:
            raise DatasetLayoutError(f"MVTec AD {category}/{defect}: {len(without_image)} mask(s) without an image "
                                     f"in {defect_dir}: {_shown(without_image)}", LAYOUT_TREE)  # fmt: skip
        found += [MVTecImage(category, defect, p.stem, p, masks[p.stem]) for p in paths]
    if not found:
        raise DatasetLayoutError(f"MVTec AD: no test image (*.png) under {test_dir}", LAYOUT_TREE)
    return found


def load_mvtec_dataset(data_root: Path, categories: tuple[str, ...] = CATEGORIES) -> Dataset:
    root = find_mvtec_root(data_root)
    missing = [category for category in categories if not (root / category / "test").is_dir()]
    if missing:
        hint = ""
        present = [category for category in CATEGORIES if (root / category / "test").is_dir()]
        if present:
            hint = f" (present: {', '.join(present)}; pass --mvtec-categories to evaluate a subset)"
        raise DatasetLayoutError(f"MVTec AD under {root}: missing categor{'y' if len(missing) == 1 else 'ies'} "
                                 f"{', '.join(missing)}{hint}", LAYOUT_TREE)  # fmt: skip
    found = [image for category in categories for image in read_category(root, category)]
    check_mask_sizes(found)
    samples = [Sample(image.id, image) for image in found]
    files = [path for image in found for path in (image.image_path, image.mask_path) if path is not None]
    return Dataset(name="MVTec AD", split="test", root=root, samples=samples, files=files)


def header_size(path: Path, data: bytes | None = None) -> tuple[int, int]:
    """(H, W) of an image from its header (PIL reads no pixels); `data`: its bytes, when already read."""
    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as image:
            width, height = image.size
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, SyntaxError, ValueError) as err:  # PIL's errors for files it cannot identify
        raise DataError(f"{path}: not an image ({err})") from None
    return height, width


def check_mask_sizes(found: list[MVTecImage]) -> None:
    """Every ground-truth mask whole (evals/images.py) and of its image's size, before anything is predicted."""
    for image in found:
        if image.mask_path is None:
            continue
        mask_size = header_size(image.mask_path, images.read_checked(image.mask_path))
        image_size = header_size(image.image_path)
        if mask_size != image_size:
            raise DataError(f"{image.mask_path}: mask of {mask_size[1]} x {mask_size[0]} pixels (W x H), but its image "
                            f"{image.image_path} has {image_size[1]} x {image_size[0]}: each mask must have its "
                            "image's size (replace both with the files of the official archive)")  # fmt: skip


def count_mismatches(dataset: Dataset) -> dict[str, dict[str, int]]:
    """Categories whose number of test images differs from the official release's: {category: {found, expected}}."""
    found: dict[str, int] = {}
    for sample in dataset.samples:
        found[sample.data.category] = found.get(sample.data.category, 0) + 1
    return {c: {"found": n, "expected": TEST_IMAGES[c]} for c, n in found.items() if n != TEST_IMAGES[c]}


# --- reading ---------------------------------------------------------------------------------------------------
def read_bgr(path: Path) -> np.ndarray:
    """H x W x 3 uint8 BGR, as SAA+ reads it (cv2.imread IMREAD_COLOR: grey images replicated to 3 channels), of a
    file checked whole (evals/images.py)."""
    return images.read_cv2(path, cv2.IMREAD_COLOR)


def read_mask(image: MVTecImage, resolution: int) -> np.ndarray:
    """Boolean `resolution` x `resolution` ground truth as SAA+ scores it: the 8-bit mask > 0 (``gt[gt > 0] = 255``
    in datasets/dataset.py, ``m[m > 0] = 1`` in eval_SAA.py), resized with cv2 INTER_NEAREST
    (utils/eval_utils.py specify_resolution); all False for good images (SAA+: an all-zero mask)."""
    if image.mask_path is None:
        return np.zeros((resolution, resolution), dtype=bool)
    mask = images.read_cv2(image.mask_path, cv2.IMREAD_GRAYSCALE)
    binary = (mask > 0).astype(np.uint8)
    return cv2.resize(binary, (resolution, resolution), interpolation=cv2.INTER_NEAREST) > 0
