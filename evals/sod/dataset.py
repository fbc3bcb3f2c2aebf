"""Salient-object datasets in the image-folder / mask-folder layout: DUTS-TE and any set packaged like it.

A dataset `NAME` (`--sod-dataset`, default DUTS-TE) is looked for in `<data-root>/NAME/`, then in `<data-root>`
itself when that folder is named NAME. Inside it, the first image folder and the first mask folder found from the
lists below are used; images and masks are paired by file stem, and an image without a mask (or a mask without
an image) is an error that names them.

    DUTS-TE (official DUTS-TE.zip, saliencydetection.net/duts):   DUTS-TE-Image/*.jpg, DUTS-TE-Mask/*.png
    ECSSD / DUT-OMRON / HKU-IS / PASCAL-S as most SOD repos repackage them: <Name>-Image + <Name>-Mask,
        Image + Mask, Imgs + GT, images + masks, ...
    SAM-Not-Perfect's layout (scripts/amg.py, scripts/sam_dice_f1_mae.py): test_images + test_masks
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import images
from ..base import Dataset, DatasetLayoutError, Sample
from ..errors import DataError
from ..names import check_sample_id
from .folders import files_by_stem

DEFAULT_DATASET = "DUTS-TE"
# The official DUTS test set (Wang et al., CVPR 2017), from http://saliencydetection.net/duts/
DUTS_TE_URL = "http://saliencydetection.net/duts/download/DUTS-TE.zip"
# Tried in this order; "{name}" is the dataset name (DUTS-TE-Image / DUTS-TE-Mask in the official release).
IMAGE_FOLDERS = ("{name}-Image", "Image", "Images", "image", "images", "Imgs", "imgs", "test_images")
MASK_FOLDERS = ("{name}-Mask", "Mask", "Masks", "mask", "masks", "GT", "gt", "test_masks")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")  # DUTS-TE / ECSSD / DUT-OMRON: .jpg; HKU-IS: .png
MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")  # masks ship as PNG; some sets (VT1000) as JPEG
MISSING_SHOWN = 5  # how many unmatched names an error lists

LAYOUT_TREE = """\
<data-root>/{name}/                 (or <data-root> itself, when it is the folder named {name})
    {name}-Image/*.jpg               the images (DUTS-TE: 5,019)
    {name}-Mask/*.png                8-bit ground-truth masks, same file stems
  other accepted folder names, first found wins:
    images: {images}
    masks:  {masks}
"""


@dataclass(frozen=True)
class SODImage:
    """One image of a salient-object dataset and its ground-truth mask (same stem)."""

    stem: str
    image_path: Path
    mask_path: Path


def expected_tree(name: str) -> str:
    images = ", ".join(f.format(name=name) for f in IMAGE_FOLDERS)
    masks = ", ".join(f.format(name=name) for f in MASK_FOLDERS)
    return LAYOUT_TREE.format(name=name, images=images, masks=masks)


def _first_folder(root: Path, candidates: tuple[str, ...], name: str) -> Path | None:
    for candidate in candidates:
        folder = root / candidate.format(name=name)
        if folder.is_dir():
            return folder
    return None


def find_sod_folders(data_root: Path, name: str = DEFAULT_DATASET) -> tuple[Path, Path, Path]:
    """(dataset root, image folder, mask folder) of dataset `name` under `data_root`."""
    data_root = Path(data_root)
    roots = [data_root / name]
    if data_root.name == name:
        roots.append(data_root)
    for root in roots:
        images, masks = _first_folder(root, IMAGE_FOLDERS, name), _first_folder(root, MASK_FOLDERS, name)
        if images is not None and masks is not None:
            return root, images, masks
        if root.is_dir():
            missing = "image folder" if images is None else "mask folder"
            raise DatasetLayoutError(f"{name}: {root} has no {missing}", expected_tree(name))
    hint = ""
    if _first_folder(data_root, IMAGE_FOLDERS, name) and _first_folder(data_root, MASK_FOLDERS, name):
        hint = f" ({data_root} looks like a SOD dataset: pass --sod-dataset {data_root.name})"
    raise DatasetLayoutError(f"{name} not found under {data_root}{hint}", expected_tree(name))


def _unmatched(stems: list[str], what: str, folder: Path, total: int) -> str:
    shown = ", ".join(stems[:MISSING_SHOWN]) + (", ..." if len(stems) > MISSING_SHOWN else "")
    return f"{len(stems)} of {total} {what} have no counterpart in {folder}: {shown}"


def pair_images_and_masks(image_folder: Path, mask_folder: Path) -> list[SODImage]:
    """Every image with its mask, sorted by stem; an image or a mask without the other is an error."""
    images = files_by_stem(image_folder, IMAGE_SUFFIXES)
    masks = files_by_stem(mask_folder, MASK_SUFFIXES)
    problems = []
    images_alone, masks_alone = sorted(images.keys() - masks.keys()), sorted(masks.keys() - images.keys())
    if images_alone:
        problems.append(_unmatched(images_alone, f"images in {image_folder}", mask_folder, len(images)))
    if masks_alone:
        problems.append(_unmatched(masks_alone, f"masks in {mask_folder}", image_folder, len(masks)))
    if problems:
        raise DataError("images and masks do not pair up by file name:\n  " + "\n  ".join(problems))
    return [SODImage(check_sample_id(stem, str(image_folder)), images[stem], masks[stem]) for stem in sorted(images)]


def load_sod_dataset(data_root: Path, name: str = DEFAULT_DATASET) -> Dataset:
    root, image_folder, mask_folder = find_sod_folders(data_root, name)
    pairs = pair_images_and_masks(image_folder, mask_folder)
    if not pairs:
        suffixes = ", ".join(IMAGE_SUFFIXES)
        raise DatasetLayoutError(f"{name}: no image ({suffixes}) in {image_folder}", expected_tree(name))
    samples = [Sample(pair.stem, pair) for pair in pairs]
    files = [path for pair in pairs for path in (pair.image_path, pair.mask_path)]
    return Dataset(name=name, split="test", root=root, samples=samples, files=files)


# --- reading -------------------------------------------------------------------------------------------------
def read_rgb(path: Path) -> np.ndarray:
    """H x W x 3 uint8 RGB as SAM-Not-Perfect scripts/amg.py reads it: cv2.imread, then BGR -> RGB."""
    return images.read_rgb(path)


def read_mask_reference(path: Path) -> np.ndarray:
    """uint8 (H, W) mask as SAM-Not-Perfect scripts/sam_dice_f1_mae.py reads it (binary_loader: PIL, convert("L"))."""
    return np.asarray(images.open_pil(path).convert("L"))


def mask_size(path: Path) -> tuple[int, int]:
    """(H, W) of a mask from its header only: what the GT-free saliency protocol may know of the ground truth."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, SyntaxError) as err:
        raise DataError(f"{path}: not an image PIL can read ({err})") from None
    return height, width
