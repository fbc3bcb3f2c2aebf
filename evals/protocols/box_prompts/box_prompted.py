"""The part of a task that COCO and SegInW share: a sample is an image with its box prompts (`PromptedImage`), read
ahead, segmented one mask per box (protocol.py), and scored and drawn alike in the report (examples.py)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ...base import Sample, Task
from ..coco_format.dataset import read_rgb
from .options import PREDICTIONS, BoxPromptParams, box_prompt_notes
from .protocol import segment_image

# The command line imports every task module: torch (the model interface) and pycocotools (the report's examples)
# are imported where they are used.
if TYPE_CHECKING:
    from models.prompt_model import PromptModel
    from models.capabilities import Capabilities

MULTIMASK_OUTPUTS = 3  # SAM's multimask output: 3 masks per prompt, the ones 'best' and 'refine' choose from


class BoxPromptedTask(Task):
    """A Task whose parameters are `BoxPromptParams` (extended by the task's own)."""

    params: BoxPromptParams

    detector: ClassVar[str] = "a detector"  # whose boxes the paper's protocol prompts with (named in the report)
    box_type: ClassVar[str]  # how the task's reference script gives its predictor the boxes (protocol.BOX_TYPES)
    mask_selection_option: ClassVar[str] = "--mask-selection"  # the option that sets params.mask_selection

    def prompt_source(self) -> str | None:
        """Where this run's box prompts came from, in words (the report's captions); None: no prompts (the masks
        of another method, `--predictions`)."""
        prompts = self.params.prompts
        if prompts == "ground truth":
            return "ground-truth boxes, oracle"
        if prompts == "detections":
            return f"{self.detector} detections" if self.paper_detector() else "other detections"
        return None

    def paper_detector(self) -> bool:
        """Whether the run's detections are (or may be) the paper's detector's; False only when shown otherwise."""
        return True

    def protocol_notes(self) -> dict[str, str]:
        return box_prompt_notes(self.params, f"ORACLE: ground-truth boxes, not the paper's {self.detector} boxes; "
                                             "crowd annotations not prompted")  # fmt: skip

    def prompts_file(self, sample: Sample) -> Path:
        """The detections file the sample's box prompts come from (runs with `params.prompts == "detections"`)."""
        raise NotImplementedError

    def capability_problems(self, capabilities: Capabilities) -> list[str]:
        """Box prompts; for 'best' and 'refine' SAM's 3 multimask outputs; for 'refine' mask input as well."""
        if self.params.prompts == PREDICTIONS:  # another method's masks: no model
            return []
        selection, option = self.params.mask_selection, self.mask_selection_option
        problems = [] if capabilities.boxes else ["box prompts (each box of the run, detected or ground truth, prompts the model)"]
        if selection in ("best", "refine") and capabilities.multimask_outputs < MULTIMASK_OUTPUTS:
            problems.append(
                f"multimask output, {MULTIMASK_OUTPUTS} masks per box ({option} {selection} keeps the one of the "
                f"{MULTIMASK_OUTPUTS} with the highest predicted IoU, as TinySAM's and EfficientViT-SAM's scripts do; "
                f"this model gives {capabilities.multimask_outputs}; {option} single needs one)"
            )  # fmt: skip
        if selection in ("single", "refine") and not capabilities.single_mask_output:
            problems.append(f"single-mask output ({option} {selection} asks one mask per box"
                            f"{', in its second pass' if selection == 'refine' else ''}, multimask_output=False)")  # fmt: skip
        if selection == "refine" and not capabilities.mask_input:
            problems.append(f"mask input ({option} refine feeds the chosen mask's low-resolution logits back to the "
                            "mask decoder with the box, SAM paper D.4)")  # fmt: skip
        return problems

    def sample_files(self, sample: Sample) -> list[Path]:
        """The image (read only when it has prompts) and the file its prompts come from: the boxes file, or the
        annotation file for ground-truth boxes."""
        files = [sample.data.image.path] if sample.data.prompts else []
        prompts = self.params.prompts
        if prompts == "ground truth":
            files.append(sample.data.image.annotation_file)
        elif prompts == "detections":
            files.append(self.prompts_file(sample))
        return files

    def load_inputs(self, sample: Sample) -> np.ndarray | None:
        return read_rgb(sample.data.image) if sample.data.prompts else None  # an image without prompts is skipped

    def predict(self, model: PromptModel, sample: Sample, image: np.ndarray | None) -> dict:
        return {"detections": segment_image(model, image, sample.data.prompts, self.params.mask_selection,
                                            self.params.box_batch, self.box_type)}  # fmt: skip

    def example_score(self, sample: Sample, prediction: dict) -> float | None:
        """Mean best mask IoU of the image's objects (examples.py); None without ground truth."""
        from . import examples

        return examples.best_iou_recall(sample.data.image, prediction["detections"])

    def draw_example(self, sample: Sample, prediction: dict) -> dict:
        from . import examples

        return examples.draw(sample.data, prediction["detections"], self.prompt_source())
