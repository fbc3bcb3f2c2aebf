"""Each model of the page ("panel"): loading it, its cached image embedding, and its timed answers to the prompts.

A model embeds an image once: `ModelSlot.image_key` is the content hash of the image whose embedding it holds, and
`set_image` runs only when another image comes (its time is the encoder time shown). Every click then times
`predict` alone (the decoder time). On CUDA both are synchronised before the clock is read. The models are shared by
every browser session; a lock per model keeps one session's image from replacing another's halfway through.

Which mask is shown: for a single point, the one of highest predicted IoU among the multimask outputs (SAM's advice
for ambiguous prompts, as SamPredictor users do); for several points or a box, the single-mask output, except for
models that have none (TinySAM: the best of its three, as for a point).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from models import CheckpointError, PromptModel, load_prompt_model, model_variant
from models.checkpoint import missing_checkpoint_message

from .images import LoadedImage
from .prompts import Prompts

UNTRAINED = "⚠ untrained weights"


@dataclass
class ModelSlot:
    """One model of the page. `model` is None when it cannot run; `problem` then says why and what to do."""

    name: str
    display: str
    model: PromptModel | None
    untrained: bool = False
    problem: str | None = None
    image_key: str | None = None  # content hash of the image whose embedding `model` holds
    encoder_ms: float | None = None  # what computing that embedding took
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def title(self) -> str:
        return f"{self.display} ({self.name})" + (f" - {UNTRAINED}" if self.untrained else "")


@dataclass
class PanelResult:
    """One model's answer to the prompts (or to "everything"), with its timings; `problem` instead when it has none."""

    masks: list[np.ndarray] = field(default_factory=list)  # H x W bool; one for prompts, all for everything mode
    ious: list[float] = field(default_factory=list)  # predicted IoU of each mask
    encoder_ms: float | None = None
    encoder_computed: bool = False  # False: the cached embedding of this image was used
    decoder_ms: float | None = None
    choice: str = ""  # how the mask was chosen, or the generator's settings
    everything: bool = False  # the automatic mask generator's masks (decoder_ms: all but its encoder)
    problem: str | None = None


def load_slot(name: str, device: str = "cpu", untrained: bool = False, checkpoint: Path | None = None) -> ModelSlot:
    """Model `name` from its checkpoint (`checkpoint`, else weights/<official name>). A missing default checkpoint
    gives untrained weights with `untrained`, else a slot that says where to get the file; an unreadable or wrong
    file gives a slot that says what is wrong. The other models of the page are unaffected either way."""
    variant = model_variant(name)
    path = checkpoint if checkpoint is not None else variant.default_checkpoint
    missing = not path.is_file()
    if missing and not untrained:
        problem = (f"{missing_checkpoint_message(variant, path)}; for this demo: --checkpoint {name}=PATH, or "
                   "--untrained for untrained weights")  # fmt: skip
        return ModelSlot(name, variant.display, None, problem=problem)
    try:
        model = load_prompt_model(name, None if missing else path, device=device, untrained=missing)
    except CheckpointError as err:
        return ModelSlot(name, variant.display, None, problem=str(err))
    return ModelSlot(name, variant.display, model, untrained=missing)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def embed(slot: ModelSlot, image: LoadedImage) -> bool:
    """Make the slot's model hold `image`'s embedding; True when it was computed now, False when cached."""
    if slot.image_key == image.key:
        return False
    slot.image_key = None  # until set_image has finished
    synchronize(slot.model.device)
    start = time.perf_counter()
    slot.model.set_image(image.rgb)
    synchronize(slot.model.device)
    slot.encoder_ms = (time.perf_counter() - start) * 1000
    slot.image_key = image.key
    return True


def segment(slot: ModelSlot, image: LoadedImage, prompts: Prompts) -> PanelResult:
    """The slot's mask for `prompts` on `image` (see the module docstring for which mask)."""
    if slot.model is None:
        return PanelResult(problem=slot.problem)
    capabilities = slot.model.capabilities
    if prompts.box is not None and not capabilities.boxes:
        return PanelResult(problem=f"{slot.display} takes no box prompts")
    multimask = prompts.single_point or not capabilities.single_mask_output
    with slot.lock:
        computed = embed(slot, image)
        synchronize(slot.model.device)
        start = time.perf_counter()
        prediction = slot.model.predict(**prompts.arrays(), multimask_output=multimask)
        synchronize(slot.model.device)
        decoder_ms = (time.perf_counter() - start) * 1000
        encoder_ms = slot.encoder_ms
    ious = prediction.iou[0].float().cpu().numpy()
    best = int(ious.argmax())
    count = len(ious)
    if not multimask or count == 1:
        choice = "its single-mask output" if not multimask else "its one mask"
    elif prompts.single_point:
        choice = f"the best of its {count} masks by predicted IoU (one point)"
    else:
        choice = f"the best of its {count} masks by predicted IoU (it has no single-mask output)"
    return PanelResult(masks=[(prediction.logits[0, best] > 0).cpu().numpy()], ious=[float(ious[best])],
                       encoder_ms=encoder_ms, encoder_computed=computed, decoder_ms=decoder_ms,
                       choice=choice)  # fmt: skip


def segment_everything(slot: ModelSlot, image: LoadedImage, params: dict) -> PanelResult:
    """Every mask of the model's own automatic mask generator (`PromptModel.generate(image, **params)`), largest
    first. The generator embeds the image itself (the cached embedding is not reused): the encoder time is that
    embedding's, the decoder time the rest (its point grid, filtering and postprocessing)."""
    if slot.model is None:
        return PanelResult(problem=slot.problem)
    if not slot.model.capabilities.automatic_masks:
        return PanelResult(problem=f"{slot.display} has no automatic mask generator")
    with slot.lock:
        encoder_before = slot.model.encoder_seconds
        synchronize(slot.model.device)
        start = time.perf_counter()
        records = slot.model.generate(image.rgb, **params)
        synchronize(slot.model.device)
        total_ms = (time.perf_counter() - start) * 1000
        encoder_ms = (slot.model.encoder_seconds - encoder_before) * 1000
    records = sorted(records, key=lambda record: record["area"], reverse=True)
    settings = ", ".join(f"{key} {value}" for key, value in params.items())
    return PanelResult(masks=[np.asarray(r["segmentation"], dtype=bool) for r in records],
                       ious=[float(r["predicted_iou"]) for r in records], encoder_ms=encoder_ms,
                       encoder_computed=True, decoder_ms=total_ms - encoder_ms, everything=True,
                       choice=f"automatic masks ({settings})")  # fmt: skip


def describe(slot: ModelSlot, result: PanelResult | None, device: str) -> str:
    """The panel's text (Markdown): the model, untrained weights loudly, then the IoU and timings or the problem."""
    lines = [f"**{slot.display}** (`{slot.name}`)"]
    if slot.untrained:
        lines.append(f"**{UNTRAINED}**: the masks say nothing about the model")
    if result is None:
        lines.append(slot.problem or "no prompt yet")
    elif result.problem is not None:
        lines.append(result.problem)
    else:
        if len(result.masks) == 1:
            lines.append(f"predicted IoU **{result.ious[0]:.3f}**; shown: {result.choice}")
        elif result.masks:
            lines.append(f"{len(result.masks)} masks, predicted IoU {min(result.ious):.3f} - {max(result.ious):.3f}; "
                         f"{result.choice}")  # fmt: skip
        else:
            lines.append(f"no mask passed the generator's filters; {result.choice}")
        if result.everything:
            lines.append(f"on {device}: image encoder {result.encoder_ms:.0f} ms (the generator's own embedding), "
                         f"masks {result.decoder_ms:.0f} ms (decoder over the point grid, filters)")  # fmt: skip
        else:
            cached = "computed for this image" if result.encoder_computed else "cached: computed once for this image"
            lines.append(f"on {device}: image encoder {result.encoder_ms:.0f} ms ({cached}), "
                         f"mask decoder {result.decoder_ms:.0f} ms")  # fmt: skip
    return "\n\n".join(lines)
