"""Point trackers (evals/trackers): the interface, the weight-free LK tracker on synthetic motion and occlusion, and
the PIPS / CoTracker adapters against fakes of their official packages (module layout, call signatures and output
shapes of aharley/pips nets.pips.Pips and co-tracker v1 at 4f297a9, as SAM-PT calls them)."""
from __future__ import annotations

import sys
import types
from typing import ClassVar

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from evals.trackers import TRACKERS, TrackerUnavailable, Tracks, build_tracker, tracker_params
from evals.trackers.cotracker import CoTrackerTracker
from evals.trackers.lk import LucasKanadeTracker
from evals.trackers.pips import PipsTracker

# ---------------------------------------------------------------- synthetic videos


def texture(height: int = 240, width: int = 320, seed: int = 0) -> np.ndarray:
    """Smooth random RGB texture: corners everywhere, no aliasing under sub-pixel shifts."""
    noise = np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)
    return (255 * cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 2.0), None, 0, 1, cv2.NORM_MINMAX)).astype(np.uint8)


def translated(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, shift, image.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


VELOCITY = np.array([1.5, -0.75], dtype=np.float32)  # pixels per frame (x, y)


def moving_video(n_frames: int = 8) -> np.ndarray:
    base = texture()
    return np.stack([translated(base, *(t * VELOCITY)) for t in range(n_frames)])


QUERIES = np.array([[60.0, 60.0], [160.5, 120.25], [250.0, 180.0], [100.0, 190.0]], dtype=np.float32)


def expected_trajectories(n_frames: int, queries: np.ndarray = QUERIES) -> np.ndarray:
    return queries[None] + np.arange(n_frames, dtype=np.float32)[:, None, None] * VELOCITY


# ---------------------------------------------------------------- interface and registry


def test_tracks_validate_their_shapes():
    Tracks(np.zeros((3, 2, 2), np.float32), np.ones((3, 2), bool))
    with pytest.raises(ValueError):
        Tracks(np.zeros((3, 2, 2), np.float32), np.ones((3, 3), bool))
    with pytest.raises(ValueError):
        Tracks(np.zeros((3, 2, 2), np.float32), np.ones((3, 2), np.float32))


def test_registry_names_and_errors(tmp_path):
    assert set(TRACKERS) == {"lk", "pips", "cotracker"}
    assert isinstance(build_tracker("lk"), LucasKanadeTracker)
    assert tracker_params("lk").tracker == "lk"
    with pytest.raises(ValueError, match="unknown tracker"):
        build_tracker("raft")
    with pytest.raises(ValueError, match="no --tracker-checkpoint"):
        tracker_params("lk", tmp_path / "x.pth")


def test_lk_rejects_bad_inputs():
    with pytest.raises(ValueError, match="uint8"):
        LucasKanadeTracker().track(np.zeros((2, 8, 8, 3), np.float32), QUERIES)
    with pytest.raises(ValueError, match="N x 2"):
        LucasKanadeTracker().track(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((3, 3)))


# ---------------------------------------------------------------- lk


def test_lk_tracks_a_translated_texture_to_a_tenth_of_a_pixel():
    video = moving_video()
    tracker = LucasKanadeTracker()
    tracks = tracker.track(video, QUERIES)
    assert tracks.trajectories.shape == (8, 4, 2) and tracks.trajectories.dtype == np.float32
    assert tracks.visibilities.all()
    np.testing.assert_array_equal(tracks.trajectories[0], QUERIES)
    assert np.abs(tracks.trajectories - expected_trajectories(8)).max() < 0.1
    assert tracker.params.fb_threshold_px == 1.0 and tracker.params.window_px == 31


def test_lk_forward_backward_check_drops_occluded_points():
    video = moving_video(6)
    occluded = QUERIES[1] + 2 * VELOCITY  # where point 1 is on frame 2
    top, left = int(occluded[1]) - 40, int(occluded[0]) - 40
    for t in range(2, 6):  # a flat grey square covers point 1 from frame 2 on
        video[t, top : top + 80, left : left + 80] = 128
    tracks = LucasKanadeTracker().track(video, QUERIES)
    assert tracks.visibilities[:2].all()
    assert not tracks.visibilities[2:, 1].any()  # lost under the occluder, and stays lost
    assert tracks.visibilities[:, [0, 2, 3]].all()
    assert (tracks.trajectories[2:, 1] == tracks.trajectories[1, 1]).all()  # last position kept
    assert np.abs(tracks.trajectories[:, [0, 2, 3]] - expected_trajectories(6)[:, [0, 2, 3]]).max() < 0.1


def test_lk_loses_points_that_leave_the_frame():
    video = moving_video(6)
    near_edge = np.array([[1.0, 120.0]], dtype=np.float32)  # moving left by 1.5 px a frame
    video = video[:, :, ::-1].copy()  # mirror: the texture now moves left
    tracks = LucasKanadeTracker().track(video, near_edge)
    assert tracks.visibilities[0, 0] and not tracks.visibilities[-1, 0]


# ---------------------------------------------------------------- pips (fake of aharley/pips nets.pips)


class FakePips(nn.Module):
    """nets.pips.Pips's constructor, forward signature and outputs (coord_predictions, coord_predictions2, vis_e,
    ffeat, losses with return_feat=True): every point moves by VELOCITY per frame; visibility logits from
    `visibility_logit(window_index)`."""

    instances: ClassVar[list[FakePips]] = []
    visibility_logit = staticmethod(lambda s, x: 5.0)

    def __init__(self, S=8, stride=8):
        super().__init__()
        self.S, self.stride, self.latent_dim = S, stride, 128
        self.weight = nn.Parameter(torch.zeros(1))
        self.windows: list[tuple[tuple[int, ...], torch.Tensor, bool]] = []
        FakePips.instances.append(self)

    def forward(self, xys, rgbs, coords_init=None, feat_init=None, iters=3, trajs_g=None, vis_g=None, valids=None,
                sw=None, return_feat=False, is_train=False):  # fmt: skip
        batch, n_points, two = xys.shape
        _, window, channels, _, _ = rgbs.shape
        assert (batch, two, window, channels) == (1, 2, self.S, 3) and iters == 6 and return_feat
        assert rgbs.dtype == torch.float32 and rgbs.max() <= 255
        self.windows.append((tuple(rgbs.shape), rgbs[0, :, 0, 0, 0].clone(), feat_init is None, n_points))
        steps = torch.arange(window, dtype=torch.float32)[None, :, None, None]
        coords = xys[:, None] + steps * torch.from_numpy(VELOCITY)
        logits = torch.tensor([[self.visibility_logit(s, float(x)) for x in xys[0, :, 0]] for s in range(window)])[None]
        ffeat = torch.ones(batch, n_points, self.latent_dim) if feat_init is None else feat_init
        return [coords] * iters, [coords] * (iters + 4), logits, ffeat, None


@pytest.fixture
def fake_pips(monkeypatch, tmp_path):
    nets = types.ModuleType("nets")
    nets_pips = types.ModuleType("nets.pips")
    nets_pips.Pips = FakePips
    nets.pips = nets_pips
    monkeypatch.setitem(sys.modules, "nets", nets)
    monkeypatch.setitem(sys.modules, "nets.pips", nets_pips)
    FakePips.instances = []
    monkeypatch.setattr(FakePips, "visibility_logit", staticmethod(lambda s, x: 5.0))
    folder = tmp_path / "reference_model"
    folder.mkdir()
    torch.save({"model_state_dict": {"weight": torch.full((1,), 1.0)}}, folder / "model-000100000.pth")
    torch.save({"model_state_dict": {"weight": torch.full((1,), 2.0)}, "optimizer_state_dict": {}},
               folder / "model-000200000.pth")  # fmt: skip
    return folder


def video_with_frame_ids(n_frames: int) -> np.ndarray:
    """Frames whose pixel (0, 0) red value is the frame index: shows which frames a window holds."""
    video = np.zeros((n_frames, 32, 48, 3), dtype=np.uint8)
    video[:, 0, 0, 0] = np.arange(n_frames)
    return video


def test_pips_adapter_links_windows_and_loads_the_latest_checkpoint(fake_pips):
    tracker = build_tracker("pips", fake_pips)
    assert isinstance(tracker, PipsTracker)
    model = FakePips.instances[-1]
    assert (model.S, model.stride) == (8, 4) and model.weight.item() == 2.0  # model-000200000.pth, the highest step
    tracks = tracker.track(video_with_frame_ids(20), QUERIES)
    np.testing.assert_allclose(tracks.trajectories, expected_trajectories(20), atol=1e-5)
    assert tracks.visibilities.all()
    # All visible: each window's last frame becomes the next anchor (0 -> 7 -> 14); the last window runs past the
    # video's end and repeats frame 19.
    starts = [window[1].tolist() for window in model.windows]
    assert starts == [list(range(8)), list(range(7, 15)), [14, 15, 16, 17, 18, 19, 19, 19]]
    assert [window[2] for window in model.windows] == [True, False, False]  # features taken on frame 0 only
    params = tracker.params
    assert params.checkpoint.endswith("model-000200000.pth") and len(params.checkpoint_sha256) == 64
    assert tracker.module_name == "nets.pips" and params.window == 8 and params.iterations == 6


def test_pips_next_anchor_is_the_latest_confidently_visible_frame(fake_pips, monkeypatch):
    monkeypatch.setattr(FakePips, "visibility_logit", staticmethod(lambda s, x: 5.0 if s <= 3 else -5.0))
    tracker = build_tracker("pips", fake_pips)
    tracks = tracker.track(video_with_frame_ids(12), QUERIES)
    starts = [int(window[1][0]) for window in FakePips.instances[-1].windows]
    assert starts == [0, 3, 6, 9]
    np.testing.assert_allclose(tracks.trajectories, expected_trajectories(12), atol=1e-5)
    assert tracks.visibilities.all()  # each frame's latest prediction comes from the confident part of a window


def test_pips_points_with_other_anchors_wait_for_their_frame(fake_pips, monkeypatch):
    # Point 0 (x < 80) stays confidently visible, the others only 3 frames into each window.
    def logit(s, x):
        return 5.0 if x < 80 or s <= 3 else -5.0

    monkeypatch.setattr(FakePips, "visibility_logit", staticmethod(logit))
    tracker = build_tracker("pips", fake_pips)
    tracks = tracker.track(video_with_frame_ids(12), QUERIES)
    calls = [(int(window[1][0]), window[3]) for window in FakePips.instances[-1].windows]
    assert calls == [(0, 4), (3, 3), (6, 3), (7, 1), (9, 3)]  # (anchor frame, points tracked from it)
    np.testing.assert_allclose(tracks.trajectories, expected_trajectories(12), atol=1e-5)


def test_pips_lowers_the_anchor_threshold_until_a_frame_qualifies(fake_pips, monkeypatch):
    monkeypatch.setattr(FakePips, "visibility_logit", staticmethod(lambda s, x: 1.5))  # sigmoid 0.82 < 0.9
    tracker = build_tracker("pips", fake_pips)
    tracks = tracker.track(video_with_frame_ids(16), QUERIES)
    assert [int(w[1][0]) for w in FakePips.instances[-1].windows] == [0, 7, 14]
    assert tracks.visibilities.all()  # 0.82 > 0.5


def test_pips_missing_package_or_weights_say_what_to_get(monkeypatch, tmp_path, fake_pips):
    with pytest.raises(TrackerUnavailable, match="dropbox.com/s/glk6jmoa9yeervl/reference_model.tar.gz"):
        build_tracker("pips", tmp_path / "absent.pth")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TrackerUnavailable, match="no model-<step>.pth"):
        build_tracker("pips", empty)
    monkeypatch.setitem(sys.modules, "nets", None)
    monkeypatch.setitem(sys.modules, "nets.pips", None)
    monkeypatch.setitem(sys.modules, "sam_pt", None)
    with pytest.raises(TrackerUnavailable, match="github.com/aharley/pips"):
        build_tracker("pips", fake_pips)


def test_pips_refuses_a_checkpoint_without_the_network_weights(fake_pips, tmp_path):
    torch.save({"model_state_dict": {"other": torch.zeros(1)}}, tmp_path / "model-000000001.pth")
    with pytest.raises(TrackerUnavailable, match="lacks 1 weights"):
        build_tracker("pips", tmp_path / "model-000000001.pth")


# ---------------------------------------------------------------- cotracker (fake of co-tracker v1)


class FakeCoTracker(nn.Module):
    """co-tracker v1's CoTracker as build_cotracker_stride_4_wind_8 returns it: attribute S (window), called with rgbs
    (1 x T x 3 x H x W, 0-255), queries (1 x N x 3: t, x, y) and iters, returning (trajectories 1 x T x N x 2,
    features, visibilities 1 x T x N in [0, 1], train data). Points move by VELOCITY (in frame pixels, scaled to the
    interp shape); visibility 0.9, except 0.6 for point 2."""

    def __init__(self, checkpoint=None):
        super().__init__()
        self.S, self.checkpoint, self.calls = 8, checkpoint, []
        self.norm = nn.LayerNorm(4)

    def forward(self, rgbs, queries, iters=4, feat_init=None, is_train=False):
        self.calls.append((tuple(rgbs.shape), queries.clone(), iters))
        n_frames = rgbs.shape[1]
        scale = torch.tensor([512 / 320, 384 / 240])
        steps = torch.arange(n_frames, dtype=torch.float32)[:, None, None]
        trajectories = (queries[0, :, 1:][None] + steps * torch.from_numpy(VELOCITY) * scale)[None]
        visibilities = torch.full((1, n_frames, queries.shape[1]), 0.9)
        visibilities[:, :, 2] = 0.6
        return trajectories, None, visibilities, None


def grid_points(grid_size, interp_shape, grid_center=(0, 0), device="cuda"):
    """co-tracker v1's get_points_on_a_grid: 1 x size^2 x 2 (x, y), inset by interp_shape[1] // 64."""
    step = interp_shape[1] // 64
    ys = torch.linspace(step, interp_shape[0] - step, grid_size)
    xs = torch.linspace(step, interp_shape[1] - step, grid_size)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=-1)[None].to(device)


def install_fake_cotracker(monkeypatch, v1: bool = True) -> list[FakeCoTracker]:
    built: list[FakeCoTracker] = []
    names = ["cotracker", "cotracker.models", "cotracker.models.build_cotracker", "cotracker.models.core",
             "cotracker.models.core.cotracker", "cotracker.models.core.cotracker.cotracker"]  # fmt: skip
    modules = {name: types.ModuleType(name) for name in names}
    modules["cotracker.models.build_cotracker"].build_cotracker_stride_4_wind_8 = lambda checkpoint=None: built.append(
        FakeCoTracker(checkpoint)) or built[-1]  # fmt: skip
    core = modules["cotracker.models.core.cotracker.cotracker"]
    core.get_points_on_a_grid = grid_points
    if v1:
        core.CoTracker = FakeCoTracker
    else:
        core.CoTracker2 = FakeCoTracker
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return built


@pytest.fixture
def cotracker_weights(tmp_path):
    path = tmp_path / "cotracker_stride_4_wind_8.pth"
    torch.save({"model": {"norm.weight": torch.full((4,), 3.0), "norm.bias": torch.zeros(4)}}, path)
    return path


def test_cotracker_adapter_scales_adds_support_grids_and_thresholds(monkeypatch, cotracker_weights):
    built = install_fake_cotracker(monkeypatch)
    tracker = build_tracker("cotracker", cotracker_weights)
    assert isinstance(tracker, CoTrackerTracker) and built[0].checkpoint is None  # built bare, loaded weights_only
    assert built[0].norm.weight.tolist() == [3.0] * 4
    video = moving_video(26)  # 240 x 320 frames
    tracks = tracker.track(video, QUERIES)
    (shape, queries, iters), = built[0].calls  # fmt: skip
    assert shape == (1, 26, 3, 384, 512) and iters == 6
    n_grids = 3  # support grids queried on frames 0, 12, 24
    assert queries.shape == (1, 4 + 4 * n_grids, 3)
    np.testing.assert_allclose(queries[0, :4, 1:].numpy(), QUERIES * [512 / 320, 384 / 240], rtol=1e-6)
    assert queries[0, :4, 0].tolist() == [0, 0, 0, 0] and queries[0, 4:, 0].tolist() == [0] * 4 + [12] * 4 + [24] * 4
    np.testing.assert_allclose(tracks.trajectories, expected_trajectories(26), atol=1e-4)
    assert tracks.visibilities[:, [0, 1, 3]].all() and not tracks.visibilities[:, 2].any()  # 0.6 <= 0.7
    assert tracker.params.interp_shape == (384, 512) and tracker.params.support_grid_size == 2


def test_cotracker_pads_videos_shorter_than_its_window(monkeypatch, cotracker_weights):
    built = install_fake_cotracker(monkeypatch)
    tracks = build_tracker("cotracker", cotracker_weights).track(moving_video(5), QUERIES)
    assert built[0].calls[0][0][1] == 8  # repeated up to the window
    assert tracks.trajectories.shape == (5, 4, 2)


def test_cotracker_missing_package_weights_or_version_are_clear_errors(monkeypatch, cotracker_weights, tmp_path):
    with pytest.raises(TrackerUnavailable, match="dl.fbaipublicfiles.com/cotracker/cotracker_stride_4_wind_8.pth"):
        build_tracker("cotracker", tmp_path / "absent" / "cotracker_stride_4_wind_8.pth")
    renamed = tmp_path / "my_tracker.pth"
    renamed.write_bytes(b"x")
    with pytest.raises(TrackerUnavailable, match="file name"):
        build_tracker("cotracker", renamed)
    monkeypatch.setitem(sys.modules, "cotracker", None)
    monkeypatch.setitem(sys.modules, "cotracker.models", None)
    monkeypatch.setitem(sys.modules, "cotracker.models.build_cotracker", None)
    with pytest.raises(TrackerUnavailable, match="co-tracker.git@4f297a92"):
        build_tracker("cotracker", cotracker_weights)
    install_fake_cotracker(monkeypatch, v1=False)
    with pytest.raises(TrackerUnavailable, match="not CoTracker v1"):
        build_tracker("cotracker", cotracker_weights)
