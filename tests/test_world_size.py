"""The same command gives bit-identical predictions and metrics in one process and under torchrun (issue
"Reliability": torchrun's OMP_NUM_THREADS=1 used to change the kernels' summation order, hence AP in the 6th digit).
Every process runs with `--threads` (recorded in the results), whatever the world size."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from evals.store import decode_prediction

ROOT = Path(__file__).resolve().parent.parent
COMMAND = ["run_eval.py", "--task", "coco", "--boxes", "gt", "--model", "mobilesam", "--untrained",
           "--data-root", "datasets/sample", "--limit", "3", "--threads", "2"]  # fmt: skip


def test_torchrun_world_size_two_equals_one_process_bit_for_bit(tmp_path):
    single, double = tmp_path / "single", tmp_path / "double"
    subprocess.run([sys.executable, *COMMAND, "--out", str(single)], cwd=ROOT, check=True, capture_output=True)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    subprocess.run([*torchrun, *COMMAND, "--out", str(double)], cwd=ROOT, check=True, capture_output=True)
    one, two = (json.loads((out / "coco" / "mobilesam.gt-boxes.json").read_text()) for out in (single, double))
    assert two["provenance"]["timings"]["world_size"] == 2 and one["provenance"]["timings"]["world_size"] == 1
    assert one["provenance"]["host"]["torch_threads"] == two["provenance"]["host"]["torch_threads"] == 2
    assert one["metrics"] == two["metrics"]
    stored = sorted(p.name for p in (single / "coco" / "mobilesam.gt-boxes.predictions").glob("*.npz"))
    assert len(stored) == 3
    for name in stored:
        a, b = (decode_prediction((out / "coco" / "mobilesam.gt-boxes.predictions" / name).read_bytes())
                for out in (single, double))  # fmt: skip
        assert a.keys() == b.keys()
        for key in a:
            assert np.array_equal(np.asarray(a[key]), np.asarray(b[key])) if isinstance(a[key], np.ndarray) else a[key] == b[key]
