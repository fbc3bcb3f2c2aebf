"""The SegInW layout: 25 Roboflow COCO exports, each `<Dataset>/valid/_annotations_min1cat.coco.json` beside its images.

Sources (SysCV/sam-hq, seginw/): README.md "Expected dataset structure" (``data/seginw/<Dataset>``, the 25 names
below, from https://huggingface.co/sam-hq-team/SegInW/resolve/main/seginw.zip) and test_seginw.sh (``--anno_path
$file/valid/_annotations_min1cat.coco.json --image_dir $file/valid/`` for every folder of ./data/seginw/). The same
files as X-Decoder's SegInW release (``seginw/<Dataset>/valid/_annotations_min1cat.coco.json``).

Each dataset is read by the COCO-format reader (evals/protocols/coco_format/dataset.py); a sample is one image, its id
``"<Dataset>/<image_id>"`` (unique across datasets; the prediction store keeps one folder per dataset).
"""
from __future__ import annotations

from pathlib import Path

from ..base import DatasetLayoutError, Requirement
from ..errors import UsageError

# sam-hq seginw/README.md, "Expected dataset structure" (and the columns of "Detailed Results on SegInW").
SEGINW_DATASETS = (
    "Airplane-Parts", "Bottles", "Brain-Tumor", "Chicken", "Cows", "Electric-Shaver", "Elephants", "Fruits",
    "Garbage", "Ginger-Garlic", "Hand", "Hand-Metal", "House-Parts", "HouseHold-Items", "Nutterfly-Squireel",
    "Phones", "Poles", "Puppies", "Rail", "Salmon-Fillet", "Strawberry", "Tablets", "Toolkits", "Trash", "Watermelon",
)  # fmt: skip
FOLDER = "seginw"  # sam-hq README: data/seginw/<Dataset>
# sam-hq seginw/README.md, "2. Evaluation Data Preparation": the 25 datasets in one archive.
SEGINW_URL = "https://huggingface.co/sam-hq-team/SegInW/resolve/main/seginw.zip"
SPLIT = "valid"  # test_seginw.sh: $file/valid/
ANNOTATION_FILE = "_annotations_min1cat.coco.json"  # test_seginw.sh --anno_path
SEGINW_TREE = """\
<data-root>/seginw/                    (or <data-root> itself)
    <Dataset>/valid/*.jpg
    <Dataset>/valid/_annotations_min1cat.coco.json
  for the 25 datasets Airplane-Parts, Bottles, ..., Watermelon of seginw.zip
  ({url}; sam-hq seginw/README.md)
""".format(url=SEGINW_URL)


def parse_dataset_names(text: str | None) -> tuple[str, ...]:
    """`--seginw-datasets A,B,...` -> names in the given order; None -> the 25 datasets. Any folder name in the SegInW
    layout is accepted (the bundled sample's are not SegInW's)."""
    if text is None:
        return SEGINW_DATASETS
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise UsageError("--seginw-datasets: no dataset named")
    for name in names:
        if name in (".", "..") or "/" in name or "\\" in name:
            raise UsageError(f"--seginw-datasets: {name!r} is not a dataset folder name")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UsageError(f"--seginw-datasets names {', '.join(duplicates)} more than once")
    return names


def is_full_benchmark(names: tuple[str, ...]) -> bool:
    return sorted(names) == sorted(SEGINW_DATASETS)


def find_seginw_root(data_root: Path) -> Path:
    """`data_root`/seginw if that folder exists, else `data_root` itself."""
    data_root = Path(data_root)
    return data_root / FOLDER if (data_root / FOLDER).is_dir() else data_root


def images_dir(root: Path, name: str) -> Path:
    return Path(root) / name / SPLIT


def annotation_file(root: Path, name: str) -> Path:
    return images_dir(root, name) / ANNOTATION_FILE


def dataset_name(annotation_path: Path) -> str:
    """The dataset an annotation file belongs to: <Dataset>/valid/_annotations_min1cat.coco.json."""
    return Path(annotation_path).parent.parent.name


def datasets_requirement(data_root: Path, names: tuple[str, ...]) -> Requirement:
    """The datasets' folders (their annotation files), at <data-root>/seginw (canonical; <data-root> itself is read
    too), from sam-hq's seginw.zip; the missing ones are named when only some are."""
    data_root = Path(data_root)

    def missing() -> list[str]:
        root = find_seginw_root(data_root)
        return [name for name in names if not annotation_file(root, name).is_file()]

    absent = missing()
    path = find_seginw_root(data_root) if len(absent) < len(names) else data_root / FOLDER
    which = "the 25 SegInW datasets" if is_full_benchmark(names) else f"SegInW datasets {', '.join(names)}"
    if absent and len(absent) < len(names):
        which += f" (missing: {', '.join(absent)})"
    others = [name for name in names if name not in SEGINW_DATASETS]
    source = SEGINW_URL + (f" (unzip it into {data_root}); {', '.join(others)}: not SegInW's, from their own release"
                           if others else f" (unzip it into {data_root})")  # fmt: skip
    return Requirement(f"{which}, <Dataset>/{SPLIT}/{ANNOTATION_FILE} and images", path, source, lambda: not missing())


def require_datasets(root: Path, names: tuple[str, ...]) -> None:
    """A DatasetLayoutError naming every dataset whose annotation file is missing."""
    missing = [name for name in names if not annotation_file(root, name).is_file()]
    if missing:
        subset = "" if len(missing) == len(names) else (
            f" To run the others only (not comparable to the paper's mean): --seginw-datasets "
            f"{','.join(name for name in names if name not in missing)}"
        )  # fmt: skip
        raise DatasetLayoutError(
            f"{len(missing)} of the {len(names)} SegInW datasets are missing under {root} "
            f"(no {SPLIT}/{ANNOTATION_FILE}): {', '.join(missing)}.{subset}",
            SEGINW_TREE,
        )
