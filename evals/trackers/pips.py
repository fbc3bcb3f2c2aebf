"""`pips`: Persistent Independent Particles (Harley et al., ECCV 2022), SAM-PT v1's point tracker.

Adapter for the official model class, which is not a pip package:
- `nets.pips.Pips` from a checkout of https://github.com/aharley/pips on PYTHONPATH (its forward calls `.cuda()`,
  so it needs a GPU), or
- `sam_pt.point_tracker.pips.pips.Pips`, SAM-PT's copy of the same network (runs on CPU too), from a checkout of
  https://github.com/SysCV/sam-pt on PYTHONPATH.
Weights: the reference model, `reference_model/model-000200000.pth` (SAM-PT docs/03-prepare-checkpoints.md:
https://www.dropbox.com/s/glk6jmoa9yeervl/reference_model.tar.gz; the 200k model is also on
https://huggingface.co/aharley/pips),
given as `--tracker-checkpoint` (the .pth or its folder; default weights/pips/reference_model). It is read with
`torch.load(weights_only=True)`: saverloader.save writes only state dicts (model and AdamW optimizer: tensors and
plain numbers; Hugging Face's pickle scan of the file lists torch.FloatStorage, torch._utils._rebuild_tensor_v2 and
collections.OrderedDict, all of which weights_only admits), and only `model_state_dict` is used.

What must be importable (checked before a run starts, `code_requirement`): either the root of an aharley/pips
checkout on PYTHONPATH (it provides the top-level `nets` and `utils` folders; nets/pips.py imports einops), or the
root of a SysCV/sam-pt checkout (package `sam_pt`; its `sam_pt.point_tracker` imports every tracker SAM-PT has, so
SAM-PT's requirements.txt must be installed: tensorflow, co-tracker, ...).

Verified: interface-tested with a fake `nets.pips` module that mimics the official class's constructor and forward
signature and output shapes (tests/test_trackers.py); the real class loaded once by hand (evals/trackers/__init__.py).
Not run here with the real network's forward (CUDA) or the official weights.

Linking over long videos, as SAM-PT v1 runs PIPS (sam_pt/point_tracker/pips/tracker.py, PipsPointTracker._forward,
config configs/model/point_tracker/pips.yaml):
- the network sees windows of S = 8 frames (a window running past the video's end repeats the last frame) at
  stride 4, 6 refinement iterations; each point's appearance feature is taken once, on the query frame;
- a point is tracked from its current anchor frame a over frames a+1 .. a+7; its next anchor is the latest of
  those frames whose visibility (sigmoid of the visibility logit) exceeds 0.9; when none does, the threshold is
  lowered by 0.02 until one does; points anchored elsewhere wait;
- the result is visible where the visibility exceeds 0.5.
SAM-PT also runs the same linking on the reversed video for frames before the query frame; with every query on
frame 0 that part is empty, so it is not run here.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..base import Requirement
from .base import (
    PointTracker,
    TrackerSettings,
    TrackerUnavailable,
    Tracks,
    check_inputs,
    file_sha256,
    import_problem,
    load_weights,
)

if TYPE_CHECKING:  # torch is imported where it is used: the command line reads tracker options without it
    import torch

# configs/model/point_tracker/pips.yaml (SAM-PT v1): stride 4, s (window) 8, initial_next_frame_visibility_threshold
# 0.9; sam_pt/point_tracker/pips/tracker.py: iters=6, threshold lowered by 0.02, visible = sigmoid > 0.5.
STRIDE = 4
WINDOW = 8
ITERATIONS = 6
NEXT_ANCHOR_VISIBILITY = 0.9
NEXT_ANCHOR_VISIBILITY_STEP = 0.02
VISIBILITY_THRESHOLD = 0.5

DEFAULT_CHECKPOINT = Path("weights") / "pips" / "reference_model"
CHECKPOINT_URL = "https://www.dropbox.com/s/glk6jmoa9yeervl/reference_model.tar.gz"
CHECKPOINT_SOURCE = (f"{CHECKPOINT_URL}, unpacked (reference_model/model-000200000.pth; also on "
                     "https://huggingface.co/aharley/pips)")  # fmt: skip
# Where the official network class lives: aharley/pips checkout, then SAM-PT's copy.
MODEL_MODULES = ("nets.pips", "sam_pt.point_tracker.pips.pips")
INSTALL_HINT = (
    "the PIPS network is not a pip package: clone https://github.com/aharley/pips (needs a GPU; pip install einops) "
    "or https://github.com/SysCV/sam-pt (its copy runs on CPU too; with SAM-PT's requirements.txt) and put the "
    f"checkout's root on PYTHONPATH, so that one of {', '.join(MODEL_MODULES)} imports; or use --tracker lk "
    "(weight-free baseline)"
)
CODE_SOURCE = ("a checkout of https://github.com/aharley/pips (pip install einops; its network needs a GPU) or of "
               "https://github.com/SysCV/sam-pt (with its requirements.txt; runs on CPU too), its root on PYTHONPATH")
_CHECKPOINT_NAME = re.compile(r"model-(\d+)\.pth$")


def resolve_checkpoint(path: Path | str) -> Path:
    """The .pth to load: `path` itself, or the highest-step model-*.pth inside the folder `path` (as the official
    saverloader.load picks it)."""
    path = Path(path)
    if path.is_dir():
        found = sorted((int(m.group(1)), p) for p in path.iterdir() if (m := _CHECKPOINT_NAME.search(p.name)))
        if not found:
            raise TrackerUnavailable(f"PIPS: no model-<step>.pth in {path}. Download and unpack {CHECKPOINT_URL}")
        return found[-1][1]
    if not path.is_file():
        raise TrackerUnavailable(
            f"PIPS weights not found: {path}. Download {CHECKPOINT_URL}, unpack it (reference_model/"
            "model-000200000.pth) and pass --tracker-checkpoint PATH, or use --tracker lk (weight-free baseline)"
        )
    return path


def import_pips_class() -> tuple[type, str]:
    problems = []
    for module_name in MODEL_MODULES:
        try:
            return importlib.import_module(module_name).Pips, module_name
        except (ImportError, AttributeError) as error:
            problems.append(f"{module_name}: {error}")
    raise TrackerUnavailable(f"PIPS is not installed ({'; '.join(problems)}): {INSTALL_HINT}")


def code_problem() -> str | None:
    """None when the PIPS network class imports from one of MODEL_MODULES (importlib, its dependencies included);
    else why not, for each."""
    problems = [import_problem(module_name, ("Pips",)) for module_name in MODEL_MODULES]
    return None if None in problems else "; ".join(problems)


def requirements(checkpoint: Path | str) -> list[Requirement]:
    """The PIPS weights (`checkpoint`: the file or folder given, as recorded in the settings) and code."""
    problem = code_problem()
    return [
        Requirement("PIPS weights (the reference model, model-000200000.pth, or its folder; --tracker-checkpoint)",
                    Path(checkpoint), CHECKPOINT_SOURCE, present=lambda: _resolvable(checkpoint)),
        Requirement(f"PIPS network code, importable as {' or '.join(MODEL_MODULES)} ({problem})", None, CODE_SOURCE,
                    present=lambda: problem is None),
    ]  # fmt: skip


def _resolvable(path: Path | str) -> bool:
    try:
        resolve_checkpoint(path)
    except TrackerUnavailable:
        return False
    return True


@dataclass(frozen=True, kw_only=True)
class PipsSettings(TrackerSettings):
    """`pips`'s settings: SAM-PT v1's (their sources: the comment above the constants)."""

    tracker: str = "pips"
    checkpoint: str  # the weights file (--tracker-checkpoint, resolved to the .pth)
    checkpoint_sha256: str | None  # its sha256; None: missing when the run was set up (the run then stops)
    stride: int = STRIDE
    window: int = WINDOW
    iterations: int = ITERATIONS
    next_anchor_visibility: float = NEXT_ANCHOR_VISIBILITY
    next_anchor_visibility_step: float = NEXT_ANCHOR_VISIBILITY_STEP
    visibility_threshold: float = VISIBILITY_THRESHOLD


def pips_params(checkpoint: Path | str | None, require_weights: bool = True) -> PipsSettings:
    """The tracker's settings; without `require_weights`, missing weights are recorded as such (sha256 None) for the
    run's requirement check to report, instead of raising here."""
    given = checkpoint or DEFAULT_CHECKPOINT
    if not require_weights and not _resolvable(given):
        checkpoint, sha256 = Path(given), None
    else:
        checkpoint = resolve_checkpoint(given)
        sha256 = file_sha256(checkpoint)
    return PipsSettings(checkpoint=str(checkpoint), checkpoint_sha256=sha256)


class PipsTracker(PointTracker):
    name = "pips"

    def __init__(self, checkpoint: Path | str | None = None, device: str = "cpu"):
        import torch  # here, not at import: the command line reads tracker options without torch

        self._params = pips_params(checkpoint)
        pips_class, self.module_name = import_pips_class()  # which checkout's class (not a setting: same network)
        self.device = torch.device(device)
        self.model = pips_class(S=WINDOW, stride=STRIDE)
        # weights_only: the official file holds state dicts only (module docstring); nothing in it is executed.
        state = load_weights(self._params.checkpoint, "PIPS checkpoint", CHECKPOINT_SOURCE)
        state = state.get("model_state_dict", state)
        if not isinstance(state, dict):
            raise TrackerUnavailable(f"PIPS checkpoint {self._params.checkpoint}: its model_state_dict is a "
                                     f"{type(state).__name__}, not a state dict: not the PIPS reference model?")
        # The official loader (saverloader.load) loads with strict=False; a weight the network lacks is still an
        # error here, never a silently random layer.
        missing, _ = self.model.load_state_dict(state, strict=False)
        if missing:
            raise TrackerUnavailable(f"PIPS checkpoint {self._params.checkpoint} lacks {len(missing)} weights of "
                                     f"the network, e.g. {missing[:3]}: not the PIPS reference model?")  # fmt: skip
        self.model.to(self.device).eval()

    @property
    def params(self) -> PipsSettings:
        return self._params

    def _window(self, video: torch.Tensor, start: int) -> tuple[torch.Tensor, int]:
        """Frames start .. start+S-1 (1 x S x 3 x H x W), the last real frame repeated past the end; and how
        many are real."""
        import torch

        window = video[:, start : start + WINDOW]
        real = window.shape[1]
        if real < WINDOW:
            window = torch.cat([window, window[:, -1:].repeat(1, WINDOW - real, 1, 1, 1)], dim=1)
        return window, real

    def track(self, frames: np.ndarray, query_points: np.ndarray) -> Tracks:
        import torch

        with torch.inference_mode():
            return self._track(frames, query_points)

    def _track(self, frames: np.ndarray, query_points: np.ndarray) -> Tracks:
        import torch

        frames, query_points = check_inputs(frames, query_points)
        n_frames, n_points = len(frames), len(query_points)
        video = torch.from_numpy(frames).permute(0, 3, 1, 2)[None].float()  # 1 x T x 3 x H x W, 0..255
        trajectories = np.zeros((n_frames, n_points, 2), dtype=np.float32)
        visibility = np.zeros((n_frames, n_points), dtype=np.float32)
        trajectories[0], visibility[0] = query_points, 1.0
        anchors = np.zeros(n_points, dtype=int)  # the frame each point is tracked from next
        features = None  # appearance feature of each point on its query frame (frame 0)
        for frame in range(n_frames - 1):
            moving = np.flatnonzero(anchors == frame)
            if not len(moving):
                continue
            window, real = self._window(video, frame)
            window = window.to(self.device)
            xys = torch.from_numpy(trajectories[frame, moving])[None].to(self.device)
            feat_init = None if features is None else features[:, moving]
            coords, _, visibility_logits, feat, _ = self.model(
                xys=xys, rgbs=window, feat_init=feat_init, iters=ITERATIONS, return_feat=True
            )
            if features is None:  # frame 0: every point's query frame
                features = feat
            predicted = slice(frame + 1, frame + real)
            trajectories[predicted, moving] = coords[-1][0, 1:real].float().cpu().numpy()
            visibility[predicted, moving] = torch.sigmoid(visibility_logits[0, 1:real].float()).cpu().numpy()
            anchors[moving] = [self._next_anchor(visibility[:, point], frame + 1, frame + real - 1) for point in moving]
        return Tracks(trajectories, visibility > VISIBILITY_THRESHOLD)

    @staticmethod
    def _next_anchor(visibility: np.ndarray, earliest: int, latest: int) -> int:
        """The latest frame in earliest..latest whose visibility exceeds the threshold, starting at 0.9 and lowered
        by 0.02 (float32 steps, as SAM-PT's tensors) until some frame qualifies."""
        threshold = np.float32(NEXT_ANCHOR_VISIBILITY)
        candidates = visibility[earliest : latest + 1]
        if np.isnan(candidates).all():
            return latest
        while True:
            above = np.flatnonzero(candidates > threshold)
            if len(above):
                return earliest + int(above[-1])
            threshold = np.float32(threshold - np.float32(NEXT_ANCHOR_VISIBILITY_STEP))
