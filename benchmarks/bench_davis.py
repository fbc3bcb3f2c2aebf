"""Time evals.davis on a DAVIS-val-sized synthetic set; optionally time the official code on it and compare numbers.

The set (30 sequences, 1,999 frames, 61 objects: the size of DAVIS-2017 val) is built from the 3 sequences of
shared/data/davis2016_sample: each synthetic sequence plays one sample sequence back and forth, holds 1 to 3
objects (the sample object, mirrored copies of it), void (255) rings around object 1 on some frames, and results
made from the OSVOS result masks with per-sequence shifts, erosion/dilation and dropped objects; one sequence's
results lack their last object (scored as empty masks, as the official code does).

    python benchmarks/bench_davis.py [--workers 2] [--official /tmp/davis_official]

--official: a folder holding the official davisvideochallenge/davis2017-evaluation package (davis2017/), e.g. from
`git archive` of a fetched copy into /tmp. Never put that code into this repository. Both runs are subprocesses;
peak memory is ru_maxrss (main process; for ours also the largest worker, and main + workers x largest as the
bound on what was resident at once).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evals.davis.io import write_palette_mask  # noqa: E402

SAMPLE = Path("/work/shared/data/davis2016_sample")
SOURCES = ("blackswan", "dog", "libby")
N_SEQUENCES, N_FRAMES, N_OBJECTS = 30, 1999, 61  # DAVIS-2017 val
SET_VERSION = "davis-bench-v1"


def _load_source(name: str) -> tuple[list[np.ndarray], list[np.ndarray], list[Path]]:
    from PIL import Image

    gt_paths = sorted((SAMPLE / "Annotations" / "480p" / name).glob("*.png"))
    gts = [np.asarray(Image.open(p)) > 127 for p in gt_paths]
    preds = [np.asarray(Image.open(SAMPLE / "osvos_results" / name / p.name)) == 1 for p in gt_paths]
    jpgs = sorted((SAMPLE / "JPEGImages" / "480p" / name).glob("*.jpg"))
    return gts, preds, jpgs


def _ping_pong(t: int, n: int) -> int:
    period = 2 * n - 2
    t %= period
    return t if t < n else period - t


def _object_view(mask: np.ndarray, object_index: int) -> np.ndarray:
    """Object k of a synthetic sequence: the sample object, mirrored left-right, mirrored up-down."""
    return (mask, mask[:, ::-1], mask[::-1, :])[object_index]


def _perturb(mask: np.ndarray, rng_state: tuple[int, int, int]) -> np.ndarray:
    import cv2

    shift_y, shift_x, morph = rng_state
    out = np.roll(mask, (shift_y, shift_x), axis=(0, 1))
    if morph:
        kernel = np.ones((2 * abs(morph) + 1,) * 2, np.uint8)
        op = cv2.dilate if morph > 0 else cv2.erode
        out = op(out.astype(np.uint8), kernel).astype(bool)
    return out


def build_set(root: Path) -> Path:
    """Write DAVIS/ (JPEGImages as links, Annotations, ImageSets) and results/ under root; reuse if complete."""
    import cv2

    stamp = root / "COMPLETE"
    if stamp.is_file() and stamp.read_text() == SET_VERSION:
        return root
    rng = np.random.default_rng(0)
    sources = {name: _load_source(name) for name in SOURCES}
    lengths = np.round(np.linspace(25, 108, N_SEQUENCES)).astype(int)
    lengths[-1] += N_FRAMES - lengths.sum()
    counts = [1 + i % 3 for i in range(N_SEQUENCES)]
    counts[0] += N_OBJECTS - sum(counts)
    ring_kernel = np.ones((7, 7), np.uint8)
    names = []
    for s in range(N_SEQUENCES):
        source = SOURCES[s % 3]
        name = f"{source}-{s:02d}"
        names.append(name)
        gts, preds, jpgs = sources[source]
        n_objects = counts[s]
        drop_last_object = s == 4  # results with fewer objects than the annotation
        perturbation = [(int(rng.integers(-4, 5)), int(rng.integers(-4, 5)), int(rng.integers(-2, 3)))
                        for _ in range(n_objects)]
        images_dir = root / "DAVIS" / "JPEGImages" / "480p" / name
        images_dir.mkdir(parents=True, exist_ok=True)
        for t in range(int(lengths[s])):
            k = _ping_pong(t, len(gts))
            gt_ids = np.zeros(gts[k].shape, np.uint8)
            pred_ids = np.zeros(gts[k].shape, np.uint8)
            for o in range(n_objects):
                gt_ids[_object_view(gts[k], o)] = o + 1
                if drop_last_object and o == n_objects - 1:
                    continue
                if rng.random() < 0.03:  # object missed on this frame
                    continue
                pred_ids[_perturb(_object_view(preds[k], o), perturbation[o])] = o + 1
            if t % 7 == 3:  # DAVIS-style void ring around object 1
                object_1 = gt_ids == 1
                gt_ids[(cv2.dilate(object_1.view(np.uint8), ring_kernel) > 0) & ~object_1 & (gt_ids == 0)] = 255
            frame = f"{t:05d}"
            write_palette_mask(root / "DAVIS" / "Annotations" / "480p" / name / f"{frame}.png", gt_ids)
            write_palette_mask(root / "results" / name / f"{frame}.png", pred_ids)
            link = images_dir / f"{frame}.jpg"
            if not link.exists():
                link.symlink_to(jpgs[k])
    imagesets = root / "DAVIS" / "ImageSets" / "2017"
    imagesets.mkdir(parents=True, exist_ok=True)
    (imagesets / "val.txt").write_text("\n".join(names) + "\n")
    stamp.write_text(SET_VERSION)
    return root


def _cpu_seconds(*who: int) -> float:
    return sum(resource.getrusage(w).ru_utime + resource.getrusage(w).ru_stime for w in who)


def _run_ours(davis: str, results: str, workers: int, out: str) -> None:
    from evals.davis.evaluate import evaluate_davis

    start = time.perf_counter()
    result = evaluate_davis(davis, results, "val", workers=workers)
    wall = time.perf_counter() - start
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    cpu = _cpu_seconds(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)  # pool closed: workers counted
    report = result.to_dict() | {"wall_s": wall, "cpu_s": cpu, "main_peak_mb": main_mb,
                                 "largest_worker_peak_mb": worker_mb, "workers": workers}
    Path(out).write_text(json.dumps(report))


def _run_official(official_dir: str, davis: str, results: str, out: str) -> None:
    sys.path.insert(0, official_dir)
    from davis2017.evaluation import DAVISEvaluation  # the official package, outside this repository

    start = time.perf_counter()
    metrics = DAVISEvaluation(davis_root=davis, task="semi-supervised", gt_set="val").evaluate(results)
    wall = time.perf_counter() - start
    J, F = metrics["J"], metrics["F"]
    report = {
        "global": {
            "J&F-Mean": float((np.mean(J["M"]) + np.mean(F["M"])) / 2.0),
            "J-Mean": float(np.mean(J["M"])), "J-Recall": float(np.mean(J["R"])), "J-Decay": float(np.mean(J["D"])),
            "F-Mean": float(np.mean(F["M"])), "F-Recall": float(np.mean(F["R"])), "F-Decay": float(np.mean(F["D"])),
        },
        "per_object": {
            name: {"J": {"M": float(J["M"][i]), "R": float(J["R"][i]), "D": float(J["D"][i])},
                   "F": {"M": float(F["M"][i]), "R": float(F["R"][i]), "D": float(F["D"][i])}}
            for i, name in enumerate(J["M_per_object"])
        },
        "wall_s": wall,
        "cpu_s": _cpu_seconds(resource.RUSAGE_SELF),
        "main_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    Path(out).write_text(json.dumps(report))


def _subprocess(args: list[str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, __file__, *args, out.name], check=True, cwd=REPO)
        return json.loads(Path(out.name).read_text())


def max_difference(a: dict, b: dict) -> float:
    if list(a["per_object"]) != list(b["per_object"]):
        return float("inf")
    diff = max(abs(a["global"][k] - b["global"][k]) for k in a["global"])
    for name, scores in a["per_object"].items():
        for metric in "JF":
            for stat in "MRD":
                diff = max(diff, abs(scores[metric][stat] - b["per_object"][name][metric][stat]))
    return diff


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--_run-ours":
        _run_ours(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--_run-official":
        _run_official(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", type=Path, default=Path(tempfile.gettempdir()) / "davis_bench_synthetic",
                        help="where the synthetic set is built (reused when complete)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--official", type=Path, help="folder holding the official davis2017/ package")
    args = parser.parse_args()

    start = time.perf_counter()
    root = build_set(args.data_dir)
    print(f"synthetic set: {root} ({time.perf_counter() - start:.1f} s to build or reuse)")
    davis, results = str(root / "DAVIS"), str(root / "results")

    ours = _subprocess(["--_run-ours", davis, results, str(args.workers)])
    bound = ours["main_peak_mb"] + ours["workers"] * ours["largest_worker_peak_mb"]
    print(f"ours ({ours['workers']} workers): {ours['wall_s']:.1f} s wall, {ours['cpu_s']:.1f} s CPU, peak RSS main "
          f"{ours['main_peak_mb']:.0f} MB, largest worker {ours['largest_worker_peak_mb']:.0f} MB, "
          f"main + workers <= {bound:.0f} MB")
    print("ours global:", {k: round(v, 6) for k, v in ours["global"].items()})
    print(f"objects scored: {len(ours['per_object'])}")
    if args.official:
        official = _subprocess(["--_run-official", str(args.official), davis, results])
        print(f"official: {official['wall_s']:.1f} s wall, {official['cpu_s']:.1f} s CPU, "
              f"peak RSS {official['main_peak_mb']:.0f} MB")
        speedup_wall = official["wall_s"] / ours["wall_s"]
        speedup_cpu = official["cpu_s"] / ours["cpu_s"]
        print(f"speed-up {speedup_wall:.1f}x wall, {speedup_cpu:.1f}x CPU; "
              f"memory {official['main_peak_mb'] / bound:.1f}x less (against main + workers)")
        print(f"max |ours - official| over global and per-object M/R/D: {max_difference(ours, official):.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
