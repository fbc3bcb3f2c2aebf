"""Open-vocabulary detectors that turn a dataset's category names into box prompts, written once as COCO results
files and reused for every SAM model (SegInW now, MVTec AD later).

    grounding_dino.py     Grounding-DINO through `transformers`, from a local weights folder (no downloads)
    phrase_grounding.py   captions, the token-span -> category map and the top-k selection (sam-hq's SegInW rules)
    coco_results.py       a detector over the images of a COCO-format annotation file -> COCO results entries
    options.py            the shared command-line options (`--detector-weights`)
    weights.py            where the weights come from, and the requirements a run checks before loading anything

`transformers` is imported only when a detector is loaded, so the evaluation itself never needs it.
"""
