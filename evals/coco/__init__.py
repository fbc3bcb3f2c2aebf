"""COCO zero-shot instance segmentation: box prompts (ViTDet-H detections) -> SAM masks -> COCO mask AP.

task.py; the core it shares with SegInW (and interactive segmentation's COCO-format reading) is in
evals/protocols: coco_format/ (reader, RLE, results files) and box_prompts/ (prompts, protocol, options, mask AP, the report's examples).
"""

from .task import CocoTask as TASK

__all__ = ["TASK"]
