"""What a model can answer, declared by its registry entry and checked by each task before any work (no torch here:
the command line checks a task against a model before anything heavy is imported)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    """What a model can answer; a task checks the ones it needs before any work (`Task.check_capabilities`)."""

    multimask_outputs: int = 3  # masks per prompt with multimask_output=True (SAM: 3)
    single_mask_output: bool = True  # answers multimask_output=False with its one mask (TinySAM's decoder has none)
    mask_input: bool = True  # accepts low-res logits of an earlier prediction as a prompt
    boxes: bool = True  # accepts box prompts
    automatic_masks: bool = True  # has an automatic mask generator (`PromptModel.generate`)
    encoder_input_size: int = 1024  # longest side of the image the encoder sees (EfficientViT-SAM L: 512)
    encoder_returns_tensor: bool = True  # False: the encoder returns several outputs (HQ-SAM's intermediate features)
    video_propagation: bool = False  # has its own video predictor with memory (`PromptModel.video_predictor`: SAM 2)
