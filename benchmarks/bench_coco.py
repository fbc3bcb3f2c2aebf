"""Time COCO mask AP (COCOeval "segm") by pycocotools and faster-coco-eval on a generated val2017-sized set.

    python benchmarks/bench_coco.py [--images 5000] [--gt-per-image 7.3] [--detections-per-image 20] [--keep DIR]

The set: `--images` images of COCO's usual sizes, ~7.3 ground-truth objects each (val2017 has 36,781 annotations on
5,000 images) as polygons, 1% of them crowd regions as uncompressed RLE as in COCO, 80 categories; 20 detections
per image (100k; ViTDet-H's files hold up to 100 per image), about half of them jittered copies of a ground-truth
object and the rest spurious, as compressed RLEs, with random scores. One run generates it once, then evaluates it
with each implementation in its own process (so that each one's peak memory is its own): load the ground truth,
loadRes (no `bbox`, as evals.protocols.box_prompts.mask_ap does), evaluate, accumulate, summarize, each phase timed (wall and CPU
seconds: faster-coco-eval computes IoUs on threads), then compares the 12 summary numbers.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_util

# evals.protocols.box_prompts.mask_ap's choices (not imported: the suite's modules load torch, which would swamp the memory figures).
IMPLEMENTATIONS = ("faster-coco-eval", "pycocotools")
IOU_TYPE, MAX_DETS = "segm", [1, 10, 100]
SUMMARY_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
SIZES = ((480, 640), (640, 480), (427, 640), (640, 427), (375, 500), (500, 375), (426, 640), (333, 500))
CROWD_FRACTION = 0.01


def ellipse_polygon(rng, height: int, width: int, scale: float) -> list[float]:
    center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
    axes = (max(2, int(rng.uniform(0.01, scale) * width)), max(2, int(rng.uniform(0.01, scale) * height)))
    points = cv2.ellipse2Poly(center, axes, int(rng.integers(0, 180)), 0, 360, 15)
    points = np.clip(points, 0, [width - 1, height - 1]).astype(float)
    return points.reshape(-1).tolist()


def polygon_area_and_box(polygon: list[float]) -> tuple[float, list[float]]:
    xs, ys = np.array(polygon[0::2]), np.array(polygon[1::2])
    area = 0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1)))
    return float(area), [float(xs.min()), float(ys.min()), float(xs.max() - xs.min()), float(ys.max() - ys.min())]


def uncompressed_rle(mask: np.ndarray) -> list[int]:
    """COCO's crowd format: run lengths over the column-major pixels, starting with a run of zeros."""
    flat = mask.reshape(-1, order="F").astype(np.int8)
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return np.diff(np.concatenate([[0], changes])).tolist()


def generate(images: int, gt_per_image: float, detections_per_image: int, seed: int = 0) -> tuple[dict, list[dict]]:
    rng = np.random.default_rng(seed)
    categories = [{"id": i + 1, "name": f"class{i + 1}", "supercategory": "thing"} for i in range(80)]
    dataset = {"images": [], "annotations": [], "categories": categories}
    detections = []
    for image_id in range(1, images + 1):
        height, width = SIZES[int(rng.integers(len(SIZES)))]
        dataset["images"].append(
            {"id": image_id, "file_name": f"{image_id:012d}.jpg", "height": height, "width": width}
        )
        objects = []
        for _ in range(int(rng.poisson(gt_per_image))):
            category = int(rng.integers(1, 81))
            ann = {"id": len(dataset["annotations"]) + 1, "image_id": image_id, "category_id": category, "iscrowd": 0}
            if rng.random() < CROWD_FRACTION:
                mask = np.zeros((height, width), np.uint8)
                y, x = int(rng.integers(0, height // 2)), int(rng.integers(0, width // 2))
                mask[y : y + height // 3, x : x + width // 3] = 1
                ann.update(iscrowd=1, segmentation={"counts": uncompressed_rle(mask), "size": [height, width]},
                           area=float(mask.sum()), bbox=[float(x), float(y), float(width // 3), float(height // 3)])  # fmt: skip
            else:
                polygon = ellipse_polygon(rng, height, width, 0.3)
                area, box = polygon_area_and_box(polygon)
                ann.update(segmentation=[polygon], area=area, bbox=box)
                objects.append((category, polygon))
            dataset["annotations"].append(ann)
        for index in range(detections_per_image):
            if index < len(objects) * 2 and rng.random() < 0.8:  # a jittered copy of an object, sometimes twice
                category, polygon = objects[index % len(objects)]
                points = np.array(polygon).reshape(-1, 2) * rng.uniform(0.9, 1.1) + rng.normal(0, 3, size=2)
                polygon = np.clip(points, 0, [width - 1, height - 1]).reshape(-1).tolist()
                if rng.random() < 0.1:
                    category = int(rng.integers(1, 81))
            else:
                category, polygon = int(rng.integers(1, 81)), ellipse_polygon(rng, height, width, 0.2)
            rle = mask_util.merge(mask_util.frPyObjects([polygon], height, width))
            detections.append({"image_id": image_id, "category_id": category, "score": float(rng.random()),
                               "segmentation": {"size": [height, width], "counts": rle["counts"].decode()}})  # fmt: skip
    return dataset, detections


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def coco_api(implementation: str):
    """(COCO, COCOeval) as evals.protocols.box_prompts.mask_ap._coco_api picks them."""
    if implementation == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        return COCO, COCOeval
    from faster_coco_eval import COCO, COCOeval_faster

    return COCO, lambda gt, dt, iou_type: COCOeval_faster(gt, dt, iou_type, print_function=lambda *args: None)


def worker(implementation: str, annotation_file: Path, detections_file: Path) -> dict:
    """Evaluate in this process, as evals.protocols.box_prompts.mask_ap.mask_ap does, each phase timed."""
    coco_cls, cocoeval_cls = coco_api(implementation)
    detections = json.loads(detections_file.read_text())
    baseline_mb = rss_mb()
    phases, cpu = {}, {}
    with contextlib.redirect_stdout(io.StringIO()):
        state = {"detections": detections}
        del detections
        for phase in ("load ground truth", "loadRes", "evaluate", "accumulate", "summarize"):
            wall, used = time.perf_counter(), cpu_seconds()
            if phase == "load ground truth":
                state["gt"] = coco_cls(str(annotation_file))
            elif phase == "loadRes":
                state["dt"] = state["gt"].loadRes(state.pop("detections"))
            elif phase == "evaluate":
                state["ev"] = cocoeval_cls(state["gt"], state["dt"], IOU_TYPE)
                state["ev"].params.maxDets = MAX_DETS
                state["ev"].evaluate()
            elif phase == "accumulate":
                state["ev"].accumulate()
            else:
                state["ev"].summarize()
            phases[phase], cpu[phase] = time.perf_counter() - wall, cpu_seconds() - used
    return {"wall_s": phases, "cpu_s": cpu, "baseline_mb": baseline_mb, "peak_mb": rss_mb(),
            "stats": [float(v) for v in state["ev"].stats[: len(SUMMARY_KEYS)]]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--gt-per-image", type=float, default=7.3)
    parser.add_argument("--detections-per-image", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="write the generated set here (default: a temporary folder)")
    parser.add_argument("--worker", nargs=3, metavar=("IMPLEMENTATION", "GT", "DETECTIONS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        implementation, annotation_file, detections_file = args.worker
        print(json.dumps(worker(implementation, Path(annotation_file), Path(detections_file))))
        return

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        dataset, detections = generate(args.images, args.gt_per_image, args.detections_per_image)
        (folder / "instances.json").write_text(json.dumps(dataset))
        (folder / "detections.json").write_text(json.dumps(detections))
        crowd = sum(a["iscrowd"] for a in dataset["annotations"])
        print(f"generated {len(dataset['images'])} images, {len(dataset['annotations'])} ground-truth masks "
              f"({crowd} crowd), {len(detections)} detections in {time.perf_counter() - start:.0f} s")  # fmt: skip
        del dataset, detections
        runs = {}
        for implementation in IMPLEMENTATIONS:
            command = [sys.executable, __file__, "--worker", implementation, str(folder / "instances.json"),
                       str(folder / "detections.json")]  # fmt: skip
            runs[implementation] = json.loads(
                subprocess.run(command, check=True, capture_output=True, text=True).stdout
            )

    phases = list(next(iter(runs.values()))["wall_s"])
    print(f"\n{'phase (wall s / CPU s)':<24}" + "".join(f"{name:>22}" for name in runs))
    for phase in [*phases, "evaluate + accumulate", "total"]:
        chosen = {"evaluate + accumulate": ("evaluate", "accumulate"), "total": phases}.get(phase, (phase,))
        cells = []
        for run in runs.values():
            wall, cpu = sum(run["wall_s"][p] for p in chosen), sum(run["cpu_s"][p] for p in chosen)
            cells.append(f"{wall:8.2f} / {cpu:8.2f}")
        print(f"{phase:<24}" + "".join(f"{cell:>22}" for cell in cells))
    print(f"{'peak RSS MB':<24}" + "".join(f"{run['peak_mb']:>22.0f}" for run in runs.values()))
    print(f"{'  detections loaded':<24}" + "".join(f"{run['baseline_mb']:>22.0f}" for run in runs.values()))
    reference = runs["pycocotools"]["stats"]
    print("\nsummary (pycocotools) and largest |faster-coco-eval - pycocotools|:")
    for name, value, other in zip(SUMMARY_KEYS, reference, runs["faster-coco-eval"]["stats"]):
        print(f"  {name:<6} {value:.6f}  {abs(value - other):.1e}")


if __name__ == "__main__":
    main()
