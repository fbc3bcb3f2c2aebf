"""SAM-PT's own evaluations with its point tracker replaced by a fixed rule: what the DAVIS and UVO reference drivers
(tests/data/protocols/davis/make_reference.py, tests/data/protocols/uvo/make_reference.py) share. They run in the
reference venv beside the exports of SysCV/sam-pt at COMMIT and of MobileSAM's `mobile_sam/` at MOBILE_SAM_COMMIT
(the commit SAM-PT's requirements.txt pins) and import this file from tests/, as they import parity_weights.py.

- The model (`build_model_class`): SAM-PT's MobileSAM (`MobileSamHydra`, segment_anything's `SamPredictor`) loading
  the weights derived from the key names (tests/parity_weights.py) from a file it reads as its checkpoint
  (`parity_checkpoint`); SAM-PT loads it with strict=False, so the drivers check afterwards that every key of the
  network came from it (`check_loaded_keys`). The image encoder computes in float64 between float32 input and output
  (a `MobileSamHydra` subclass wraps it after loading), as the parity drivers run encoders: float32 summation order
  moves an untrained TinyViT's embedding by ~1e-5, enough to flip mask pixels; float64 makes the embedding the same
  on both sides. Prompt encoder, mask decoder and predictor in float32.
- The point tracker (`build_tracker_class`): `TrajectoryRule`, chosen as SAM-PT's own trackers are, by a config
  `model/point_tracker/trajectory_rule.yaml` the driver adds to hydra's search path (`write_tracker_config`). On
  SAM-PT's query points (all on frame 0) it returns fixed trajectories (`rule_trajectories`): each point moved by a
  ground-truth centroid displacement (`centroid_shifts`; each driver says whose), then the driver's EDITS, which hide
  points and move one within 1% of the border, each for one of SAM-PT's paths. Visibilities are 1.0 / 0.0 as
  SAM-PT's trackers return them. It records what it was given and returned: `trajectories.npz` (`save_trajectories`:
  query points, trajectories, visibilities at the working size, the randperm draws, the sha256 of each of SAM-PT's
  working frames), which the parity tests replay through our task (tests/replay_tracker.py).
- Shims (`shim_sam_pt`), none on the evaluation path: the `sam_pt.point_tracker` package's `__init__` (it imports
  every tracker: TensorFlow, co-tracker, RAFT, SuperGlue, PIPS) is a stand-in whose path is the real folder, so the
  real `tracker.py` (the `PointTracker` base class) imports, with placeholder classes for the trackers SAM-PT's
  eval.py and sam_pt.py name only in `isinstance` checks; `sam_pt.vos_eval.davis2017eval` (needs
  davis2017-evaluation, not on PyPI; called only for D17) is a stand-in; wandb 0.31 runs with WANDB_MODE=disabled.
- Recorded by wrapping, not editing (`record_sam_pt`): every `torch.randperm` draw (SAM-PT's query-point sampling;
  its first KMEDOIDS_SUBSAMPLE entries, the only ones read) and the per-frame predicted IoUs
  `SamPt._apply_sam_to_trajectories` returns.
Environment: /work/refvenv (torch 2.14.1 as the project's, segment-anything 1.0, hydra-core 1.3.8) plus, from PyPI,
scikit-image, wandb and scikit-learn-extra 0.3.0 (SAM-PT's pin, built from source against numpy 2:
`pip install cython; pip install --no-binary scikit-learn-extra --no-build-isolation --no-deps
scikit-learn-extra==0.3.0`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from parity_weights import parity_state_dict

REPOSITORY = "SysCV/sam-pt"
COMMIT = "c17ab949ee426c2ebf90d74727825cf415473b62"
MOBILE_SAM_COMMIT = "01ea8d0f5590082f0c1ceb0a3e2272593f20154b"
KMEDOIDS_SUBSAMPLE = 1800  # extract_kmedoid_points(subsample_size=1800): the randperm entries SAM-PT reads
THREADS = 2

# (frame, track, points, visible, moved to (x, y) or None): an edit of the rule's trajectories. Points 0-7 are a
# track's positives (sam_pt.yaml, v1), 8 its negative.
Edit = tuple[int, int, list[int], bool, tuple[float, float] | None]


@dataclasses.dataclass
class Recording:
    """What a run drew and predicted (SAM-PT builds the tracker itself, from its config: the wrappers fill this)."""

    draws: list[tuple[int, np.ndarray]] = dataclasses.field(default_factory=list)  # (n, randperm(n)'s prefix)
    query_points: np.ndarray | None = None  # K x P x 2
    trajectories: np.ndarray | None = None  # T x K x P x 2
    visibilities: np.ndarray | None = None  # T x K x P bool
    frames_sha256: list[str] = dataclasses.field(default_factory=list)  # of SAM-PT's working frames (H x W x 3 uint8)
    ious: list[np.ndarray] = dataclasses.field(default_factory=list)  # per _apply_sam_to_trajectories call: T x K


def check_importable(*names: str) -> None:
    for name in names:
        if importlib.util.find_spec(name) is None:
            sys.exit(f"{name} is not importable: put the exports on PYTHONPATH (see the driver's docstring)")


def shim_sam_pt() -> None:
    """The stand-ins listed in the module docstring."""
    import sam_pt

    package = types.ModuleType("sam_pt.point_tracker")
    package.__path__ = [str(Path(sam_pt.__file__).parent / "point_tracker")]
    sys.modules["sam_pt.point_tracker"] = package
    from sam_pt.point_tracker.tracker import PointTracker

    package.PointTracker = PointTracker
    for name in ("PipsPointTracker", "RaftPointTracker", "SuperGluePointTracker", "TapirPointTracker",
                 "TapnetPointTracker", "CoTrackerPointTracker"):  # fmt: skip
        setattr(package, name, type(name, (), {}))
    cotracker = types.ModuleType("sam_pt.point_tracker.cotracker")
    cotracker.CoTrackerPointTracker = package.CoTrackerPointTracker
    sys.modules["sam_pt.point_tracker.cotracker"] = cotracker

    davis2017eval = types.ModuleType("sam_pt.vos_eval.davis2017eval")
    davis2017eval.Davis2017Evaluator = type("Davis2017Evaluator", (), {})
    sys.modules["sam_pt.vos_eval.davis2017eval"] = davis2017eval


def record_sam_pt(recording: Recording) -> None:
    """torch.randperm's draws and SamPt._apply_sam_to_trajectories's per-frame IoUs, into `recording`."""
    original_randperm = torch.randperm

    def randperm(n, *args, **kwargs):
        permutation = original_randperm(n, *args, **kwargs)
        recording.draws.append((int(n), permutation[:KMEDOIDS_SUBSAMPLE].numpy().copy()))
        return permutation

    torch.randperm = randperm

    from sam_pt.modeling.sam_pt import SamPt

    apply_sam = SamPt._apply_sam_to_trajectories

    def recorded_apply_sam(self, images, trajectories, visibilities):
        scores, logits, scores_per_frame = apply_sam(self, images, trajectories, visibilities)
        recording.ious.append(scores_per_frame.numpy().copy())
        return scores, logits, scores_per_frame

    SamPt._apply_sam_to_trajectories = recorded_apply_sam


def centroid_shifts(masks: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """T x 2 (x, y): the centroid of masks[t] minus that of masks[0], scaled from the masks' size to the working size
    (height x width)."""
    centroids = []
    for mask in masks:
        ys, xs = np.nonzero(mask)
        centroids.append((xs.mean() * width / mask.shape[1], ys.mean() * height / mask.shape[0]))
    centroids = np.array(centroids)
    return centroids - centroids[:1]


def rule_trajectories(
    query_points: np.ndarray, shifts: np.ndarray, edits: tuple[Edit, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The rule's T x K x P x 2 trajectories and T x K x P visibilities: the K x P x 2 query points moved by `shifts`
    (T frames, broadcast against T x K x P x 2), then `edits` applied."""
    trajectories = (query_points[None] + shifts).astype(np.float32)
    visibilities = np.ones(trajectories.shape[:3], dtype=bool)
    for t, k, points, visible, moved in edits:
        visibilities[t, k, points] = visible
        if moved is not None:
            trajectories[t, k, points] = moved
    return trajectories, visibilities


def build_tracker_class(
    recording: Recording, n_tracks: int, shifts: Callable[[int, int], np.ndarray], edits: tuple[Edit, ...]
) -> type:
    """`TrajectoryRule` (module docstring) for n_tracks tracks, moved by shifts(working height, working width)."""
    from sam_pt.point_tracker.tracker import PointTracker

    class TrajectoryRule(PointTracker):
        """SAM-PT's PointTracker interface: (1, T, 3, H, W) uint8 frames and (1, N, 3) (t, x, y) query points ->
        (1, T, N, 2) trajectories and (1, T, N) visibilities; one call for all tracks (one group here)."""

        def forward(self, rgbs, query_points):
            batch, n_frames, _, height, width = rgbs.shape
            assert batch == 1 and recording.query_points is None
            assert (query_points[0, :, 0] == 0).all(), "every query point is on frame 0"
            points = query_points[0, :, 1:].cpu().numpy().reshape(n_tracks, -1, 2)
            trajectories, visibilities = rule_trajectories(points, shifts(height, width), edits)
            assert len(trajectories) == n_frames, "a shift for every frame of the clip"
            recording.query_points, recording.trajectories, recording.visibilities = points, trajectories, visibilities
            frames = rgbs[0].permute(0, 2, 3, 1).contiguous().cpu().numpy()
            recording.frames_sha256 = [hashlib.sha256(frame.tobytes()).hexdigest() for frame in frames]
            n = points.shape[0] * points.shape[1]
            return (torch.from_numpy(trajectories.reshape(1, n_frames, n, 2)),
                    torch.from_numpy(visibilities.reshape(1, n_frames, n).astype(np.float32)))  # fmt: skip

    return TrajectoryRule


def build_model_class() -> type:
    """`MobileSamHydra` with its image encoder in float64 (module docstring)."""
    from sam_pt.modeling.sam import MobileSamHydra

    class Float64Encoder(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module):
            super().__init__()
            self.encoder = encoder.double()
            self.img_size = encoder.img_size  # SamPredictor reads it

        def forward(self, x):
            return self.encoder(x.double()).float()

    class Float64EncoderMobileSam(MobileSamHydra):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.image_encoder = Float64Encoder(self.image_encoder)

    return Float64EncoderMobileSam


def set_up_sam_pt(
    recording: Recording, n_tracks: int, shifts: Callable[[int, int], np.ndarray], edits: tuple[Edit, ...]
) -> None:
    """Before SAM-PT runs: this CPU's threads, wandb off, the shims, the recording wrappers, and hydra's targets
    `__main__.TrajectoryRule` (build_tracker_class's arguments) and `__main__.Float64EncoderMobileSam`."""
    torch.set_num_threads(THREADS)
    os.environ["WANDB_MODE"] = "disabled"
    os.environ["WANDB_SILENT"] = "true"
    shim_sam_pt()
    record_sam_pt(recording)
    main_module = sys.modules["__main__"]
    main_module.TrajectoryRule = build_tracker_class(recording, n_tracks, shifts, edits)
    main_module.Float64EncoderMobileSam = build_model_class()


def write_tracker_config(root: Path) -> Path:
    """A config folder (for hydra.searchpath) holding the rule's point-tracker config, beside SAM-PT's
    configs/model/point_tracker/."""
    (root / "model" / "point_tracker").mkdir(parents=True)
    (root / "model" / "point_tracker" / "trajectory_rule.yaml").write_text("_target_: __main__.TrajectoryRule\n")
    return root


def run_eval(eval_module: types.ModuleType, overrides: list[str]) -> None:
    """SAM-PT's hydra entry point `eval_module.main`, as `python -m <eval_module>` with `overrides` runs it."""
    # `python -m` finds configs/ beside the file it runs; called from here, hydra is told
    configs = Path(eval_module.__file__).parents[2] / "configs"
    sys.argv = [eval_module.__name__, f"--config-path={configs}", *overrides]
    eval_module.main()


def parity_checkpoint(path: Path) -> None:
    """The parity weights of SAM-PT's MobileSAM, by the keys of the network its config builds."""
    from mobile_sam.modeling import MaskDecoder, PromptEncoder, Sam, TinyViT, TwoWayTransformer

    network = Sam(
        image_encoder=TinyViT(img_size=1024, in_chans=3, num_classes=1000, embed_dims=[64, 128, 160, 320],
                              depths=[2, 2, 6, 2], num_heads=[2, 4, 5, 10], window_sizes=[7, 7, 14, 7], mlp_ratio=4.0,
                              drop_rate=0.0, drop_path_rate=0.0, use_checkpoint=False, mbconv_expand_ratio=4.0,
                              local_conv_size=3, layer_lr_decay=0.8),
        prompt_encoder=PromptEncoder(embed_dim=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024),
                                     mask_in_chans=16),
        mask_decoder=MaskDecoder(num_multimask_outputs=3, transformer=TwoWayTransformer(depth=2, embedding_dim=256,
                                 mlp_dim=2048, num_heads=8), transformer_dim=256, iou_head_depth=3,
                                 iou_head_hidden_dim=256),
    )  # fmt: skip
    torch.save(parity_state_dict(network), path)


def check_loaded_keys(network, checkpoint: Path) -> None:
    """SAM-PT loads its checkpoint with strict=False: every key of the network must have come from the file."""
    state = torch.load(checkpoint, weights_only=True)
    encoder = network.image_encoder.encoder
    loaded = {**{f"image_encoder.{k}": v for k, v in encoder.state_dict().items()},
              **{k: v for k, v in network.state_dict().items() if not k.startswith("image_encoder")}}
    assert set(loaded) == set(state), "SAM-PT's MobileSAM does not have the parity checkpoint's keys"
    for key, value in state.items():
        assert torch.equal(loaded[key].to(value.dtype), value), key


def frame_ious(recording: Recording) -> np.ndarray:
    """T x K: SAM's predicted IoU per frame and track in the run's one _apply_sam_to_trajectories call, NaN where SAM
    was not asked (SAM-PT's -inf)."""
    assert len(recording.ious) == 1, "one call: one video, its tracks in one group"
    ious = recording.ious[0].astype(np.float64)
    ious[np.isneginf(ious)] = np.nan
    return ious


def save_trajectories(recording: Recording, path: Path) -> None:
    np.savez_compressed(
        path,
        query_points=recording.query_points,
        trajectories=recording.trajectories,
        visibilities=recording.visibilities,
        draw_sizes=np.array([n for n, _ in recording.draws]),
        **{f"draw_{i}": prefix for i, (_, prefix) in enumerate(recording.draws)},
        frames_sha256=np.array(recording.frames_sha256),
    )
