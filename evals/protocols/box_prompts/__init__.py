"""Box-prompted zero-shot instance segmentation, shared by the COCO and SegInW tasks (evals/protocols/__init__.py)."""
