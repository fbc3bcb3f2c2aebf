"""SAM 2's semi-supervised VOS protocol (`--vos-protocol sam2`): the first-frame ground-truth masks as prompts, then
SAM 2's own memory-based propagation through the whole sequence.

Source: facebookresearch/sam2 commit 2b90b9f, tools/vos_inference.py, as its README runs it on DAVIS 2017
(`--base_video_dir JPEGImages/480p --input_mask_dir Annotations/480p`, the defaults otherwise):
- the video predictor: `build_sam2_video_predictor(config, checkpoint, apply_postprocessing=False,
  hydra_overrides_extra=["++model.non_overlap_masks=true"])` (`--apply_postprocessing` off: "we don't apply such
  post-processing in the SAM 2 model evaluation"; `--per_obj_png_file` off, so objects may not overlap), not the
  VOS-optimised (compiled) predictor; built here by the model family (`PromptModel.video_predictor`);
- `vos_inference()`: `init_state(video_path=<sequence's JPEG folder>)` (every JPEG there, by frame number, resized
  to 1024 x 1024), `add_new_mask(frame 0, object id, mask)` for each object id > 0 of the first annotation (only
  frame 0: `--use_all_masks` off; no object may appear later: `--track_object_appearing_later_in_video` off), then
  `propagate_in_video`; per frame each object's logits at the video's resolution > `score_thresh` (0.0);
  `put_per_obj_mask`: objects painted from the highest id down, so the lowest id wins a pixel (after the
  non-overlap constraint none is shared); frame 0 is written as predicted (the evaluation never scores it);
- the whole function runs under `torch.autocast("cuda", dtype=torch.bfloat16)` (its decorator): bfloat16 on a
  CUDA device, nothing on CPU.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

PROTOCOL = "SAM 2 VOS (facebookresearch/sam2 2b90b9f tools/vos_inference.py), DAVIS 2017 val"
SCORE_THRESHOLD = 0.0  # vos_inference.py --score_thresh default
JPEG_SUFFIXES = (".jpg", ".jpeg", ".JPG", ".JPEG")  # what load_video_frames_from_jpg_images reads


@dataclass(frozen=True)
class Sam2VosOptions:
    """vos_inference.py's settings as SAM 2's README runs it on DAVIS 2017 (sources above)."""

    score_threshold: float = SCORE_THRESHOLD
    apply_postprocessing: bool = False
    non_overlap_masks: bool = True


def frame_folder(frame_paths: tuple[Path, ...]) -> Path:
    """The sequence's JPEG folder, which the official predictor reads whole: it must hold exactly these frames."""
    folder = frame_paths[0].parent
    present = sorted(p.name for p in folder.iterdir() if p.suffix in JPEG_SUFFIXES)
    expected = sorted(p.name for p in frame_paths)
    if any(p.parent != folder for p in frame_paths) or present != expected:
        extra = sorted(set(present) - set(expected))
        raise DataError(f"{folder}: SAM 2's video predictor reads every JPEG of a sequence's folder, and this one holds "
                        f"{len(present)} where the annotations name {len(expected)} frames"
                        + (f" (not annotated: {', '.join(extra[:5])})" if extra else ""))  # fmt: skip
    return folder


def object_masks(first_ids: np.ndarray) -> dict[int, np.ndarray]:
    """vos_inference.py get_per_obj_mask: every id > 0 of the first annotation -> its boolean mask."""
    return {int(k): first_ids == k for k in np.unique(first_ids) if k > 0}


def paint(per_object: dict[int, np.ndarray], height: int, width: int) -> np.ndarray:
    """vos_inference.py put_per_obj_mask: one id map, objects painted from the highest id down."""
    ids = np.zeros((height, width), dtype=np.uint8)
    for object_id in sorted(per_object, reverse=True):
        ids[per_object[object_id].reshape(height, width)] = object_id
    return ids


def segment_video(predictor, frame_paths: tuple[Path, ...], first_ids: np.ndarray) -> np.ndarray:
    """T x H x W uint8 id maps of the sequence (H x W: the frames'), SAM 2 propagating `first_ids`' objects."""
    import torch  # here: the command line imports this module for its options before torch is needed

    device = predictor.device
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    with torch.inference_mode(), autocast:
        state = predictor.init_state(video_path=str(frame_folder(frame_paths)), async_loading_frames=False)
        height, width = state["video_height"], state["video_width"]
        if first_ids.shape != (height, width):
            raise DataError(f"the first annotation is {first_ids.shape[1]}x{first_ids.shape[0]}, its frames "
                            f"{width}x{height}")  # fmt: skip
        for object_id, mask in object_masks(first_ids).items():
            predictor.add_new_mask(inference_state=state, frame_idx=0, obj_id=object_id, mask=mask)
        masks = np.zeros((state["num_frames"], height, width), dtype=np.uint8)
        for frame, object_ids, logits in predictor.propagate_in_video(state):
            per_object = {k: (logits[i] > SCORE_THRESHOLD).cpu().numpy() for i, k in enumerate(object_ids)}
            masks[frame] = paint(per_object, height, width)
    return masks
