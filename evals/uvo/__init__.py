"""UVO v1.0 dense video instance segmentation, class-agnostic: SAM-PT with SAM's automatic masks (`--task uvo`), AR100
as the YouTube-VIS evaluation.

protocol.py (every parameter and its source), dataset.py (the YTVIS-format reader), frames.py (360p frames),
extract_frames.py (`python -m evals.uvo.extract_frames`: mp4 -> PNG frames), vis.py (SAM-PT on one video),
ytvis_eval.py (the metric), task.py. `TASK` is imported on first use, so the metric does not load the models.
"""


def __getattr__(name: str):
    if name == "TASK":
        from .task import UvoTask

        return UvoTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TASK"]
