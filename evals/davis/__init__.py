"""DAVIS 2017 semi-supervised video object segmentation: SAM-PT (`--task davis`), J, F and J&F as the official
DAVIS-2017 evaluation.

The metric (io.py, metrics.py, evaluate.py, report.py) is also a standalone evaluator of results folders
(`python -m evals.davis`, __main__.py). The task (task.py) runs SAM-PT, whose core it shares with UVO in
evals/protocols/sam_pt (options, query points, frames, the per-frame segmentation, merging, the video loop), scored
by evaluator.py; point trackers in evals/trackers. `TASK` is imported on first use, so the standalone metric does
not load the models.
"""


def __getattr__(name: str):
    if name == "TASK":
        from .task import DavisTask

        return DavisTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TASK"]
