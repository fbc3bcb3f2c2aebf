"""Interactive segmentation: prompt mIoU from ground-truth boxes and simulated clicks, per reference protocol.

instances.py (objects of a COCO-format file) -> clicker.py / efficientvit.py (prompts -> model -> IoUs) ->
evaluator.py (mIoU, sizes, NoC, bootstrap intervals, per-object values); prompt_file.py freezes the prompts.
"""

from .task import InteractiveTask as TASK

__all__ = ["TASK"]
