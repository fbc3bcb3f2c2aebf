"""Published SegInW numbers: the paper's mean mask AP per model, and sam-hq's per-dataset APs of ViT-H SAM.

The RepViT-SAM paper's ViT-H value (48.7) is sam-hq's "Grounded SAM" row: SAM ViT-H prompted with Grounding-DINO
Swin-B boxes, the protocol this task runs.
"""
from __future__ import annotations

from ..paper import paper_values

# The paper's mean mask AP over the 25 datasets per model: evals/paper_results.csv.
PAPER_MEAN_AP = paper_values("seginw", "mean_AP")

REFERENCE_MODEL = "vit_h"
REFERENCE_SOURCE = (
    "SysCV/sam-hq seginw/README.md, '5. Detailed Results on SegInW', row 'Grounded SAM' (SAM vit-h, GroundingDINO "
    "swin-b, Mean AP 48.7); the same values, unrounded, are the segm AP ('Final results' [0]) of each dataset in "
    "seginw/logs/grounded_sam.log"
)
# Mask AP (x100) per dataset, in the README's column order (note: Hand-Metal's column precedes Hand's there; the log
# confirms Hand-Metal 81.2 and Hand 70.0).
REFERENCE_AP = {
    "Airplane-Parts": 37.2, "Bottles": 65.4, "Brain-Tumor": 11.9, "Chicken": 84.5, "Cows": 47.5,
    "Electric-Shaver": 71.7, "Elephants": 77.9, "Fruits": 82.3, "Garbage": 24.0, "Ginger-Garlic": 45.8,
    "Hand-Metal": 81.2, "Hand": 70.0, "House-Parts": 8.4, "HouseHold-Items": 60.1, "Nutterfly-Squireel": 71.3,
    "Phones": 35.4, "Poles": 23.3, "Puppies": 50.1, "Rail": 8.7, "Salmon-Fillet": 32.9, "Strawberry": 83.5,
    "Tablets": 29.8, "Toolkits": 20.8, "Trash": 30.0, "Watermelon": 64.2,
}  # fmt: skip
REFERENCE_MEAN_AP = 48.7  # the README's Mean AP; the plain mean of the 25 values above is 48.716
