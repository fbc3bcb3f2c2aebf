"""`cotracker`: CoTracker (Karaev et al., 2023), the point tracker of SAM-PT's current code.

Adapter for the official package at the commit SAM-PT pins (requirements.txt):
    pip install git+https://github.com/facebookresearch/co-tracker.git@4f297a92fe1a684b1b0980da138b706d62e45472
(CoTracker v1: `cotracker.models.build_cotracker.build_cotracker(checkpoint)`, the model called as
`model(rgbs=..., queries=..., iters=...)` -> (trajectories, features, visibilities, train data)). Later CoTracker
releases (v2, v3) changed that API and are refused with this message. Weights: `--tracker-checkpoint` under its
official file name, which selects the architecture (default weights/cotracker/cotracker_stride_4_wind_8.pth, from
https://dl.fbaipublicfiles.com/cotracker/cotracker_stride_4_wind_8.pth, SAM-PT's default).

Verified: interface-tested only, with a fake `cotracker` package that mimics the v1 functions' signatures and
output shapes (tests/test_trackers.py). Not run here with the real network and weights.

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
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from models.checkpoint import sha256_file

from .base import PointTracker, TrackerUnavailable, Tracks, check_inputs

# configs/model/point_tracker/cotracker.yaml (SAM-PT) and sam_pt/point_tracker/cotracker/tracker.py (iters=6).
INTERP_SHAPE = (384, 512)  # (height, width)
VISIBILITY_THRESHOLD = 0.7
SUPPORT_GRID_SIZE = 2
SUPPORT_GRID_EVERY_N_FRAMES = 12
ITERATIONS = 6

COTRACKER_COMMIT = "4f297a92fe1a684b1b0980da138b706d62e45472"
INSTALL_COMMAND = f"pip install git+https://github.com/facebookresearch/co-tracker.git@{COTRACKER_COMMIT}"
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
    """(build_cotracker, the module holding CoTracker and get_points_on_a_grid) of CoTracker v1."""
    try:
        build = importlib.import_module("cotracker.models.build_cotracker").build_cotracker
        core = importlib.import_module("cotracker.models.core.cotracker.cotracker")
    except (ImportError, AttributeError) as error:
        raise TrackerUnavailable(f"CoTracker is not installed ({error}): {INSTALL_COMMAND}, "
                                 "or use --tracker lk (weight-free baseline)") from error  # fmt: skip
    if not (hasattr(core, "CoTracker") and hasattr(core, "get_points_on_a_grid")):
        raise TrackerUnavailable(f"the installed cotracker is not CoTracker v1 (no cotracker.models.core.cotracker."
                                 f"cotracker.CoTracker), the version SAM-PT uses: {INSTALL_COMMAND}")  # fmt: skip
    return build, core


def cotracker_params(checkpoint: Path | str | None) -> dict[str, Any]:
    checkpoint = check_checkpoint(checkpoint or DEFAULT_CHECKPOINT)
    return {
        "tracker": "cotracker",
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha256_file(checkpoint),
        "package": f"co-tracker@{COTRACKER_COMMIT} (CoTracker v1)",
        "interp_shape": list(INTERP_SHAPE),
        "visibility_threshold": VISIBILITY_THRESHOLD,
        "support_grid_size": SUPPORT_GRID_SIZE,
        "support_grid_every_n_frames": SUPPORT_GRID_EVERY_N_FRAMES,
        "iterations": ITERATIONS,
    }


class CoTrackerTracker(PointTracker):
    name = "cotracker"

    def __init__(self, checkpoint: Path | str | None = None, device: str | torch.device = "cpu"):
        self._params = cotracker_params(checkpoint)
        build_cotracker, self._core = import_cotracker()
        self.device = torch.device(device)
        self.model = build_cotracker(self._params["checkpoint"]).to(self.device).eval()

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def _queries(self, query_points: np.ndarray, n_frames: int, scale_xy: np.ndarray) -> torch.Tensor:
        """1 x (N + support) x 3 (t, x, y) at the interp shape: the query points on frame 0, then the support
        grids."""
        points = torch.from_numpy(query_points * scale_xy).float()
        queries = [torch.cat([torch.zeros(len(points), 1), points], dim=1)[None].to(self.device)]
        if SUPPORT_GRID_SIZE > 0:
            for frame in range(0, n_frames, SUPPORT_GRID_EVERY_N_FRAMES):
                grid = self._core.get_points_on_a_grid(SUPPORT_GRID_SIZE, INTERP_SHAPE, device=self.device)
                queries.append(torch.cat([torch.full_like(grid[:, :, :1], frame), grid], dim=2).float())
        return torch.cat(queries, dim=1)

    @torch.inference_mode()
    def track(self, frames: np.ndarray, query_points: np.ndarray) -> Tracks:
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
