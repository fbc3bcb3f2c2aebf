"""Time the interactive task's prediction stage and the bootstrap behind its intervals, on this machine.

    python benchmarks/bench_interactive.py [--model repvit] [--device cpu] [--batches 1 16] [--out DIR]

1. `run_eval.py --task interactive` on the bundled COCO sample (5 images, 21 objects; box + 5 clicks, untrained
   weights: speed does not depend on the weights), once per `--object-batch` value, `--overwrite` so that every
   image is predicted: objects per second and seconds per image from each results JSON;
2. the 95% intervals at COCO val2017's and LVIS v1 val's sizes (36,781 objects on 5,000 images; 244,707 on
   19,809): seconds per interval (evals/bootstrap.py, 1,000 resamples).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="repvit")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_interactive"))
    args = parser.parse_args()
    print("| model | object batch | images | objects | predict s | s / image | objects / s | encoder share |")
    print("|---|---|---|---|---|---|---|---|")
    for batch in args.batches:
        out = args.out / f"batch{batch}"
        subprocess.run([sys.executable, "run_eval.py", "--task", "interactive", "--model", args.model, "--untrained",
                        "--device", args.device, "--data-root", "datasets/sample", "--out", str(out), "--overwrite",
                        "--object-batch", str(batch)], cwd=ROOT, check=True, capture_output=True)  # fmt: skip
        (result,) = [json.loads(p.read_text()) for p in (out / "interactive").glob("*.json")]
        timings, metrics = result["provenance"]["timings"], result["metrics"]
        seconds = timings["predict_seconds"]
        print(f"| {args.model} | {batch} | {metrics['images']} | {metrics['objects']} | {seconds:.1f} | "
              f"{seconds / metrics['images']:.2f} | {metrics['objects'] / seconds:.2f} | {timings['encoder_share']:.2f} |")
    from evals.bootstrap import mean_interval

    rng = np.random.default_rng(0)
    for name, objects, images in (("COCO val2017", 36781, 5000), ("LVIS v1 val", 244707, 19809)):
        groups, values = np.sort(rng.integers(0, images, objects)), rng.random(objects) * 100
        start = time.perf_counter()
        mean_interval(values, groups)
        print(f"bootstrap interval, {name} size ({objects} objects, {images} images): "
              f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
