"""`cotracker`: CoTracker (Karaev et al., 2023), the point tracker of SAM-PT's current code.

Adapter for the official package at the commit SAM-PT pins (requirements.txt):
    pip install git+https://github.com/facebookresearch/co-tracker.git@4f297a92fe1a684b1b0980da138b706d62e45472
(CoTracker v1, version 1.0: `cotracker.models.build_cotracker`, the model called as
`model(rgbs=..., queries=..., iters=...)` -> (trajectories, features, visibilities, train data)). Its setup.py
installs no dependencies, but the model imports einops and timm: `pip install einops timm` too. Later CoTracker
releases (v2, v3) changed that API and are refused with this message. Weights: `--tracker-checkpoint` under its
official file name, which selects the architecture (default weights/cotracker/cotracker_stride_4_wind_8.pth, from
https://dl.fbaipublicfiles.com/cotracker/cotracker_stride_4_wind_8.pth, SAM-PT's default). The network is built
by the package's `build_cotracker_stride_<s>_wind_<w>()` without a checkpoint and the weights are loaded here with
`torch.load(weights_only=True)` (the package's own loader calls torch.load without it), strictly as it does.

Verified: interface-tested with a fake `cotracker` package that mimics the v1 functions' signatures and output
shapes (tests/test_trackers.py); the real v1 code run once by hand with random weights (evals/trackers/__init__.py).
Not run here with the official weights.

As SAM-PT runs it (sam_pt/point_tracker/cotracker/tracker.py, CoTrackerPointTracker.forward and
CoTrackerForShortVideosWrapper; configs/model/point_tracker/cotracker.yaml):
- frames resized bilinearly to 384 x 512 (interp_shape), query coordinates scaled to match;
- a support grid of 2 x 2 points (get_points_on_a_grid) queried every 12 frames, tracked jointly, then dropped;
- a video shorter than the model's window repeats its last frame up to the window, outputs cut back;
- 6 iterations; visible where the visibility exceeds 0.7; coordinates scaled back to the frames.
SAM-PT also runs the model on the reversed video to fill frames before each query frame; with every query on
frame 0 that fills nothing, so it is not run here. Frame 0 holds CoTracker's own estimate of the query points, as
SAM-PT uses it.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

# configs/model/point_tracker/cotracker.yaml (SAM-PT) and sam_pt/point_tracker/cotracker/tracker.py (iters=6).
INTERP_SHAPE = (384, 512)  # (height, width)
VISIBILITY_THRESHOLD = 0.7
SUPPORT_GRID_SIZE = 2
SUPPORT_GRID_EVERY_N_FRAMES = 12
ITERATIONS = 6

COTRACKER_COMMIT = "4f297a92fe1a684b1b0980da138b706d62e45472"
INSTALL_COMMAND = f"pip install git+https://github.com/facebookresearch/co-tracker.git@{COTRACKER_COMMIT} einops timm"
# cotracker/models/build_cotracker.py (v1) picks the architecture from the file name.
CHECKPOINT_NAMES = ("cotracker_stride_4_wind_8.pth", "cotracker_stride_4_wind_12.pth", "cotracker_stride_8_wind_16.pth")
DEFAULT_CHECKPOINT = Path("weights") / "cotracker" / CHECKPOINT_NAMES[0]
CHECKPOINT_URL = "https://dl.fbaipublicfiles.com/cotracker/{name}"


def check_checkpoint(path: Path | str) -> Path:
    path = Path(path)
    if path.name not in CHECKPOINT_NAMES:
        raise TrackerUnavailable(f"CoTracker v1 reads the architecture from the checkpoint's file name; {path.name!r} "
                                 f"is none of {', '.join(CHECKPOINT_NAMES)}")  # fmt: skip
    if not path.is_file():
        raise TrackerUnavailable(
            f"CoTracker weights not found: {path}. Download {CHECKPOINT_URL.format(name=path.name)} and pass "
            "--tracker-checkpoint PATH, or use --tracker lk (weight-free baseline)"
        )
    return path


def import_cotracker() -> tuple[Any, Any]:
    """(cotracker.models.build_cotracker, the module holding CoTracker and get_points_on_a_grid) of CoTracker v1."""
    try:
        build = importlib.import_module("cotracker.models.build_cotracker")
        core = importlib.import_module("cotracker.models.core.cotracker.cotracker")
    except ImportError as error:
        raise TrackerUnavailable(f"CoTracker is not installed ({error}): {INSTALL_COMMAND}, "
                                 "or use --tracker lk (weight-free baseline)") from error  # fmt: skip
    if not (hasattr(core, "CoTracker") and hasattr(core, "get_points_on_a_grid")):
        raise TrackerUnavailable(f"the installed cotracker is not CoTracker v1 (no cotracker.models.core.cotracker."
                                 f"cotracker.CoTracker), the version SAM-PT uses: {INSTALL_COMMAND}")  # fmt: skip
    return build, core


def builder_name(checkpoint: Path | str) -> str:
    """The v1 builder of the architecture a checkpoint's official file name names (build_cotracker.py)."""
    return f"build_{Path(checkpoint).name.split('.')[0]}"


def code_problem(checkpoint: Path | str) -> str | None:
    """None when CoTracker v1 imports (importlib, its dependencies included) with the builder `checkpoint` needs."""
    needs = {"cotracker.models.core.cotracker.cotracker": ("CoTracker", "get_points_on_a_grid"),
             "cotracker.models.build_cotracker": (builder_name(checkpoint),)}
    for module_name, attributes in needs.items():
        if problem := import_problem(module_name, attributes):
            return problem + (" (not CoTracker v1)" if " has no " in problem else "")
    return None


def requirements(checkpoint: Path | str) -> list[Requirement]:
    """The CoTracker weights (`checkpoint`, as recorded in the settings) and the v1 package."""
    problem = code_problem(checkpoint)
    return [
        Requirement(f"CoTracker weights ({Path(checkpoint).name}; --tracker-checkpoint)", Path(checkpoint),
                    CHECKPOINT_URL.format(name=Path(checkpoint).name)),
        Requirement(f"CoTracker v1 code (co-tracker@{COTRACKER_COMMIT[:7]}, importable as cotracker; {problem})", None,
                    INSTALL_COMMAND, present=lambda: problem is None),
    ]  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class CoTrackerSettings(TrackerSettings):
    """`cotracker`'s settings: SAM-PT's (their sources: the comment above the constants)."""

    tracker: str = "cotracker"
    checkpoint: str  # the weights file (--tracker-checkpoint): its name selects the architecture
    checkpoint_sha256: str | None  # its sha256; None: missing when the run was set up (the run then stops)
    package: str = f"co-tracker@{COTRACKER_COMMIT} (CoTracker v1)"  # the code that tracks
    interp_shape: tuple[int, int] = INTERP_SHAPE
    visibility_threshold: float = VISIBILITY_THRESHOLD
    support_grid_size: int = SUPPORT_GRID_SIZE
    support_grid_every_n_frames: int = SUPPORT_GRID_EVERY_N_FRAMES
    iterations: int = ITERATIONS


def cotracker_params(checkpoint: Path | str | None, require_weights: bool = True) -> CoTrackerSettings:
    """The tracker's settings; without `require_weights`, missing weights are recorded as such (sha256 None) for the
    run's requirement check to report, instead of raising here (a file name that names no architecture still
    raises)."""
    given = Path(checkpoint or DEFAULT_CHECKPOINT)
    if not require_weights and given.name in CHECKPOINT_NAMES and not given.is_file():
        checkpoint, sha256 = given, None
    else:
        checkpoint = check_checkpoint(given)
        sha256 = file_sha256(checkpoint)
    return CoTrackerSettings(checkpoint=str(checkpoint), checkpoint_sha256=sha256)


class CoTrackerTracker(PointTracker):
    name = "cotracker"

    def __init__(self, checkpoint: Path | str | None = None, device: str = "cpu"):
        import torch

        self._params = cotracker_params(checkpoint)
        build_module, self._core = import_cotracker()
        path = self._params.checkpoint
        build = getattr(build_module, builder_name(path), None)
        if build is None:
            raise TrackerUnavailable(f"the installed cotracker has no {builder_name(path)} (not CoTracker v1, the "
                                     f"version SAM-PT uses): {INSTALL_COMMAND}")  # fmt: skip
        self.device = torch.device(device)
        model = build(checkpoint=None)  # the architecture only: the package's loader would torch.load unsafely
        state = load_weights(path, "CoTracker checkpoint", CHECKPOINT_URL.format(name=Path(path).name))
        state = state.get("model", state)  # as build_cotracker.py: a {"model": state dict} file or the state dict
        try:
            model.load_state_dict(state)  # strict, as build_cotracker.py
        except (RuntimeError, TypeError) as err:
            first_line = str(err).splitlines()[0]
            raise TrackerUnavailable(f"CoTracker checkpoint {path} does not fit the network its name selects "
                                     f"({first_line}): not the official {Path(path).name}?") from None
        self.model = model.to(self.device).eval()

    @property
    def params(self) -> CoTrackerSettings:
        return self._params

    def _queries(self, query_points: np.ndarray, n_frames: int, scale_xy: np.ndarray) -> torch.Tensor:
        """1 x (N + support) x 3 (t, x, y) at the interp shape: the query points on frame 0, then the support
        grids."""
        import torch

        points = torch.from_numpy(query_points * scale_xy).float()
        queries = [torch.cat([torch.zeros(len(points), 1), points], dim=1)[None].to(self.device)]
        if SUPPORT_GRID_SIZE > 0:
            for frame in range(0, n_frames, SUPPORT_GRID_EVERY_N_FRAMES):
                grid = self._core.get_points_on_a_grid(SUPPORT_GRID_SIZE, INTERP_SHAPE, device=self.device)
                queries.append(torch.cat([torch.full_like(grid[:, :, :1], frame), grid], dim=2).float())
        return torch.cat(queries, dim=1)

    def track(self, frames: np.ndarray, query_points: np.ndarray) -> Tracks:
        import torch

        with torch.inference_mode():
            return self._track(frames, query_points)

    def _track(self, frames: np.ndarray, query_points: np.ndarray) -> Tracks:
        import torch
        import torch.nn.functional as F

        frames, query_points = check_inputs(frames, query_points)
        n_frames, height, width = frames.shape[:3]
        scale_xy = np.array([INTERP_SHAPE[1] / width, INTERP_SHAPE[0] / height], dtype=np.float32)
        video = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
        video = F.interpolate(video, INTERP_SHAPE, mode="bilinear")[None].to(self.device)  # 1 x T x 3 x h x w
        window = self.model.S
        if n_frames < window:  # CoTrackerForShortVideosWrapper
            video = torch.cat([video, video[:, -1:].repeat(1, window - n_frames, 1, 1, 1)], dim=1)
        queries = self._queries(query_points, n_frames, scale_xy)
        trajectories, _, visibilities, _ = self.model(rgbs=video, queries=queries, iters=ITERATIONS)
        n_points = len(query_points)
        trajectories = trajectories[0, :n_frames, :n_points].float().cpu().numpy() / scale_xy
        visibilities = visibilities[0, :n_frames, :n_points].float().cpu().numpy() > VISIBILITY_THRESHOLD
        return Tracks(trajectories.astype(np.float32), visibilities)
