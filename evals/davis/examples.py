"""The report's DAVIS examples: each video ranked by its own J&F, drawn on its middle scored frame.

Score: the official global J&F-Mean computed over this video's objects alone (evaluate.py: per object the mean J
and F over the scored frames, then (J + F) / 2 averaged over the objects) -- the run's J&F had it one video.
Drawing: the frame with SAM-PT's tracked points there (filled: positive, rings: negative; hidden points left out),
the predicted id map and the annotation, each object in its colour.
"""
from __future__ import annotations

import numpy as np

from .. import visual
from .dataset import DavisVideo
from .evaluate import aggregate, count_objects, score_sequence, scored_frames
from .evaluator import frames_by_name
from .io import DEFAULT_RESOLUTION


def video_jf(video: DavisVideo, prediction: dict) -> float:
    sequence = video.sequence
    frames = frames_by_name(prediction)
    scores = score_sequence(sequence, count_objects(sequence), frames.__getitem__)
    return aggregate([scores]).global_scores()["J&F-Mean"]


def frame_rgb(video: DavisVideo, frame_name: str, shape: tuple[int, int]) -> np.ndarray:
    """The frame at the annotation's size: the run's source frame, else the 480p JPEG beside the annotations."""
    sequence = video.sequence
    if video.frame_paths:
        path = video.frame_paths[sequence.frame_names.index(frame_name)]
    else:  # runs scored from --predictions list no frames: <root>/Annotations/480p/<seq> -> <root>/JPEGImages/480p
        root = sequence.annotation_dir.parents[2]
        path = root / "JPEGImages" / DEFAULT_RESOLUTION / sequence.name / f"{frame_name}.jpg"
    image = visual.read_rgb(path)
    return visual.blank(*shape) if image is None else visual.resize_to(image, shape)


def draw(video: DavisVideo, prediction: dict, positive_points: int | None) -> dict[str, np.ndarray]:
    sequence = video.sequence
    names = scored_frames(sequence.frame_names) or sequence.frame_names
    frame_name = names[len(names) // 2]
    truth = sequence.read_annotation(frame_name)
    image = frame_rgb(video, frame_name, truth.shape)
    points = image
    if "trajectories" in prediction and positive_points is not None:  # a SAM-PT run: its tracks are stored
        t = sequence.frame_names.index(frame_name)
        scale = np.array(truth.shape[::-1]) / np.array(prediction["working_size"][::-1])  # (x, y) working -> 480p
        for k, (tracks, visible) in enumerate(zip(prediction["trajectories"][t], prediction["visibilities"][t])):
            points = visual.draw_object_points(points, tracks * scale, visible, positive_points, k)
    predicted_ids = frames_by_name(prediction)[frame_name]
    if np.any(predicted_ids):
        predicted = ("predicted objects", visual.overlay_ids(image, predicted_ids))
    else:  # every object lost on this frame: said in words, not shown as the bare frame
        predicted = ("predicted objects: none on this frame", visual.no_mask(*image.shape[:2]))
    return {
        f"frame {frame_name} and the tracked points": points,
        predicted[0]: predicted[1],
        "ground truth": visual.overlay_ids(image, truth),
    }
