"""COCO-format files, read and written as pycocotools and the reference scripts do (evals/protocols/__init__.py)."""
