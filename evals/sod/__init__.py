"""Salient object detection: MAE, F-measure, S-measure, E-measure and weighted F-measure as PySODMetrics.

`--task sod` (task.py): DUTS-TE from SAM's automatic masks, oracle (the paper's) or GT-free saliency protocol
(protocols.py), images and masks in the DUTS-TE layout (dataset.py), scored by evaluator.py.

`TASK` is imported on first use, so the metric modules (and evals.sod.parallel's spawned workers) do not pull in
torch and segment_anything.
"""


def __getattr__(name: str):
    if name == "TASK":
        from .task import SODTask

        return SODTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TASK"]
