"""SAA+'s hybrid prompts for MVTec AD, written down as data.

Source: caoyunkang/Segment-Any-Anomaly, branch SAA-plus:
    SAA/prompts/general_prompts.py     three general defect templates, each paired with the category name as its
                                       background-filter phrase
    SAA/prompts/mvtec_parameters.py    per category: manual (defect prompt, filter phrase) pairs, and one property
                                       sentence from which SAA/model.py `set_property_text_prompts` reads, by word
                                       position (``split(' ')``): word 7 the object prompt, word 5 the object count,
                                       word 12 k_mask, word 19 the largest defect area as a fraction of the object
    eval_SAA.py                        defect prompts = general prompts + manual prompts, in that order

A defect prompt is (caption, filter phrase): a detected box whose phrase (the caption's tokens scoring above the
text threshold, decoded) contains the filter phrase is the object itself, not a defect, and is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..params import Params
from .categories import CATEGORIES

# SAA/prompts/general_prompts.py: ``general_anomaly_description``; the filter phrase is the category name.
GENERAL_TEMPLATES = ("defect on {}", "damage on {}", "flaw on {}")

# SAA/prompts/mvtec_parameters.py, ``manual_prompts``: (caption, filter phrase) pairs per category.
MANUAL_PROMPTS: dict[str, tuple[tuple[str, str], ...]] = {
    "carpet": (("black hole", "carpet"), ("thread", "carpet"), ("defect.", "carpet")),
    "grid": (("irregular pattern", "grid"), ("defect.", "grid")),
    "leather": (("defect.", "leather"),),
    "tile": (("defect.", "tile"),),
    "wood": (("defect.", "wood"),),
    "bottle": (("broken part. contamination. white broken.", "bottle"),),
    "cable": (("crack. flawed golden wire. black hole.", "cable"),),
    "capsule": (("white crack. hole.", "capsule"),),
    "hazelnut": (("white print. crack. thread.", "hazelnut"),),
    "metal_nut": (("blue defect. black defect. red defect. scratch.", "nut"),),
    "pill": (("red defect. yellow defect. blue defect. crack. scratch.", "pill"),),
    "screw": (("defect.", "screw"),),
    "toothbrush": (("defect.", "toothbrush"),),
    "transistor": (("defect.", "transistor"),),
    "zipper": (("crack. broken leather.", "zipper"),),
}

# SAA/prompts/mvtec_parameters.py, ``property_prompts``: the largest defect box area as a fraction of the largest
# object box area (word 19 of each sentence). Object count 1 and k_mask 5 for every category (words 5 and 12).
MAX_DEFECT_AREA_FRACTION = {
    "carpet": 0.9, "grid": 0.9, "leather": 0.9, "tile": 0.9, "wood": 0.9,
    "bottle": 0.3, "cable": 0.9, "capsule": 0.6, "hazelnut": 0.9, "metal_nut": 1.0,
    "pill": 1.0, "screw": 0.1, "toothbrush": 0.5, "transistor": 1.0, "zipper": 0.5,
}  # fmt: skip
OBJECT_COUNT = 1
K_MASK = 5

# SAA/model.py, forward: the object pass uses this filter phrase, which never matches (decoded phrases are
# lower case), so no object box is filtered by its phrase.
OBJECT_FILTER_PHRASE = "PlaceHolder"


@dataclass(frozen=True)
class CategoryPrompts(Params):
    """Everything SAA+ knows about one category before it sees an image (recorded per category name)."""

    object_prompt: str  # word 7 of the property sentence, e.g. "carpet," (the comma included: SAA+ splits on ' ')
    object_count: int  # word 5: objects per image; the object boxes may cover at most 1 / object_count of the image
    k_mask: int  # word 12: the k highest-scoring defect masks make the anomaly map
    max_defect_area_fraction: float  # word 19: defect boxes larger than this x the largest object box are dropped
    # (caption, filter phrase): the general ones, then the manual ones (eval_SAA.py)
    defect_prompts: tuple[tuple[str, str], ...]


def category_prompts(category: str) -> CategoryPrompts:
    if category not in CATEGORIES:
        raise ValueError(f"unknown MVTec AD category {category!r}")
    general = tuple((template.format(category), category) for template in GENERAL_TEMPLATES)
    return CategoryPrompts(
        object_prompt=f"{category},",
        object_count=OBJECT_COUNT,
        k_mask=K_MASK,
        max_defect_area_fraction=MAX_DEFECT_AREA_FRACTION[category],
        defect_prompts=general + MANUAL_PROMPTS[category],
    )


def prompts_record(categories: tuple[str, ...]) -> dict[str, dict]:
    """The prompts of `categories` as recorded in the results and in the prompt cache's manifest."""
    return {category: category_prompts(category).to_dict() for category in categories}
