"""The protocol cores that several tasks share; tasks import protocols, never each other.

- amg.py: SAM's automatic mask generator settings (SOD, UVO and the demo start from them);
- coco_format/: COCO-format files (COCO, SegInW, interactive): dataset.py (images and instances files, the val2017
  layout), rle.py (masks as RLE), results_file.py (detections and other methods' masks);
- box_prompts/: box prompts -> masks -> mask AP (COCO, SegInW): prompts.py (detections or ground-truth boxes),
  protocol.py (mask selection, batching), box_prompted.py (the tasks' shared base), options.py, mask_ap.py,
  examples.py (the report's panels);
- sam_pt/: SAM-PT's video protocol (DAVIS, UVO): options.py (parameters and sources), query_points.py, frames.py,
  segment.py (tracked points -> SAM -> masks, per frame), merge.py (objects -> one id map), vos.py (the video loop).
"""
