"""The `edgesam` protocol's parameters (edgesam.py runs it), apart so that the command line reads them without torch.

Source: chongzhou96/EdgeSAM b53372c, `evaluation/eval_mIoU.py`; the numbers in the comments are its lines (as in
edgesam.py's docstring).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from ..params import Params

PROMPTS = ("point", "box")
POINT_FROM = ("mask-center", "mask-rand", "box-center", "box-center-fixed")
MASK_COUNTS = (1, 3, 4)
SELECTIONS = ("score", "area", "oracle")


@dataclass(frozen=True)
class EdgeSamParams(Params):
    prompt: str = "point"  # --prompt-types point | box (110, applied 328-331); one of them, not both
    point_from: str = "mask-center"  # --point-from (118, applied 306-326), or ours "box-center-fixed"
    refine_iter: int = 3  # --refine-iter (80): scripts/eval_mIoU.sh's COCO runs 3 (the script's default is 1)
    num_multimask_outputs: int = 1  # --num-multimask-outputs 1 | 3 | 4 (94, applied 425)
    multimask_select: str = "score"  # --multimask-select score | area | oracle (102, applied 429-438)
    seed: int = 0  # torch.manual_seed(0) (269); Python's generator (mask-rand, never seeded there) gets it too
    max_prompts: int = -1  # --max-prompt-bs (56, coco_dataset.py 174-178): COCO runs -1 (all), SA-1B runs 64

    def __post_init__(self):
        for name, value, allowed in (("prompt", self.prompt, PROMPTS), ("point_from", self.point_from, POINT_FROM),
                                     ("num_multimask_outputs", self.num_multimask_outputs, MASK_COUNTS),
                                     ("multimask_select", self.multimask_select, SELECTIONS)):  # fmt: skip
            if value not in allowed:
                raise UsageError(f"edgesam {name} must be one of {', '.join(map(str, allowed))}; got {value!r}")
        if self.refine_iter < 1:
            raise UsageError(f"edgesam refine_iter (--edgesam-refine-iter) must be at least 1; got {self.refine_iter}")
