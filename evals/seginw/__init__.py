"""SegInW (Segmentation in the Wild): 25 datasets, instance segmentation from Grounding-DINO box prompts, mask AP.

`--task seginw` (task.py) with the protocol of sam-hq's "Grounded SAM" evaluation: datasets.py (layout),
sources.py (box files / other methods' masks), detect.py (`run_eval.py --detect seginw`: the box files, with
evals/detectors), evaluator.py (per-dataset mask AP and their mean), reference.py (published numbers),
sample_data.py (the demo's synthetic datasets). Masks come from the box-prompting core it shares with COCO (evals/protocols/box_prompts).

`TASK` is imported on first use, so `python -m evals.seginw.sample_data` runs without importing the task first.
"""


def __getattr__(name: str):
    if name == "TASK":
        from .task import SegInWTask

        return SegInWTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TASK"]
