"""Fixed upstream inputs for the video protocol-parity tests: a point tracker that replays a reference run's tracks,
and a generator that replays its random draws.

The reference drivers (tests/data/protocols/{davis,uvo}/make_reference.py) run SAM-PT's own loop with its point
tracker replaced and record what that loop was given; our task's prediction path gets the same through these.
"""
from __future__ import annotations

import hashlib

import numpy as np

from evals.trackers import PointTracker, TrackerSettings, Tracks


class ReplayTracker(PointTracker):
    """Returns the recorded tracks of exactly the recorded query points (anything else is a failed assertion: the
    two sides would not be tracking the same points); `frames_sha256`: the sha256 of each of the reference's
    frames (H x W x 3 uint8), checked as well."""

    name = "replay"

    def __init__(self, query_points: np.ndarray, trajectories: np.ndarray, visibilities: np.ndarray,
                 frames_sha256: list[str] | None = None):  # fmt: skip
        self.query_points = np.asarray(query_points, dtype=np.float32)  # N x 2
        self.trajectories = np.asarray(trajectories, dtype=np.float32)  # T x N x 2
        self.visibilities = np.asarray(visibilities, dtype=bool)  # T x N
        self.frames_sha256 = frames_sha256
        self.calls = 0

    @property
    def params(self) -> TrackerSettings:
        return TrackerSettings(tracker=self.name)

    def track(self, frames: np.ndarray, query_points: np.ndarray) -> Tracks:
        self.calls += 1
        np.testing.assert_array_equal(query_points, self.query_points, err_msg="query points differ")
        n_frames = len(frames)
        if self.frames_sha256 is not None:
            ours = [hashlib.sha256(np.ascontiguousarray(frame).tobytes()).hexdigest() for frame in frames]
            assert ours == self.frames_sha256[:n_frames], "frames differ from the reference's"

        return Tracks(self.trajectories[:n_frames].copy(), self.visibilities[:n_frames].copy())


class ReplayedDraws:
    """A stand-in for a numpy Generator whose `permutation(n)` returns the reference's recorded permutations in
    order: their first entries only (all that either side reads), each checked to be a permutation of the same n."""

    def __init__(self, sizes: list[int], prefixes: list[np.ndarray]):
        self.draws = list(zip(sizes, prefixes))

    def permutation(self, n: int) -> np.ndarray:
        size, prefix = self.draws.pop(0)
        assert size == n, f"the reference drew a permutation of {size}, we of {n}"
        return np.asarray(prefix)


def recorded_replay(tracks: dict) -> tuple[ReplayTracker, ReplayedDraws]:
    """The tracker and the random draws a reference driver recorded in its trajectories.npz (query points per
    object/track N x P x 2, trajectories T x N x P x 2, visibilities T x N x P, frames' sha256, the draws)."""
    n_objects, n_points = tracks["query_points"].shape[:2]
    n_frames = tracks["trajectories"].shape[0]
    tracker = ReplayTracker(tracks["query_points"].reshape(-1, 2),
                            tracks["trajectories"].reshape(n_frames, n_objects * n_points, 2),
                            tracks["visibilities"].reshape(n_frames, n_objects * n_points),
                            [str(sha) for sha in tracks["frames_sha256"]])  # fmt: skip
    sizes = tracks["draw_sizes"].tolist()
    return tracker, ReplayedDraws(sizes, [tracks[f"draw_{i}"] for i in range(len(sizes))])
