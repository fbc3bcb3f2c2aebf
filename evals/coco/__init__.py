"""COCO zero-shot instance segmentation: box prompts (ViTDet-H detections) -> SAM masks -> COCO mask AP.

The core (reader, box prompts, RLE, mask AP) takes an annotation file and its image folder, so SegInW's 25
Roboflow COCO-format datasets reuse it as is: dataset.py, prompts.py, protocol.py, rle.py, metric.py, options.py.
"""

from .task import CocoTask as TASK

__all__ = ["TASK"]
