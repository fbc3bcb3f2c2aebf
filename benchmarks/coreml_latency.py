"""Core ML latency of the packages `--export coreml` writes, timed on a Mac: the paper's own measurement path.

    python run_eval.py --task latency --model repvit --export coreml --out results     # converts (Linux or macOS)
    python benchmarks/coreml_latency.py --model repvit --compute-units ALL --runs 10    # times them (macOS)

Reads <out>/latency/coreml/<model>/{image_encoder,mask_decoder}.mlpackage (`--packages DIR` for another folder) and
times `MLModel.predict`: the encoder on one random 1x3x1024x1024 float32 input, the decoder on a random embedding with
one point and no padding point (RepViT-SAM's notebook `coreml_example.ipynb` prompts it so), each the median of
`--runs` calls (the decoder's of 10x as many, as the latency task) after `--warmup` untimed ones. The decoder package
includes the best-mask selection and the upscaling to 1024x1024, as the reference's does; the PyTorch rows' decoder
time excludes the upscaling (evals/latency/task.py).

Writes <out>/latency/<model>.coreml-<units>[.fp32].json in the latency task's results format, with a `platform`
("Core ML, Apple M1 Pro, ALL, fp16") that the latency table shows as a row of its own, and `provenance.coreml` (chip,
compute units, precision, coremltools, macOS): a comparable run (trained weights) on an M1 Pro with compute units ALL
and fp16 is shown beside the paper's MacBook M1 Pro numbers (evals/tables.py `paper_platform`). `provenance.model` is
the converted network's, from the packages' metadata, with backend "coreml"; the Core ML precision is the package's.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evals.latency.task import LatencyTask, summarize_times, time_call  # noqa: E402

COMPUTE_UNITS = ("ALL", "CPU_AND_NE", "CPU_AND_GPU", "CPU_ONLY")  # coremltools.ComputeUnit's names
PACKAGES = ("image_encoder", "mask_decoder")


def chip_name() -> str:
    """The Mac's chip as the paper names its devices ("Apple M1 Pro")."""
    try:
        name = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        name = ""
    return name or platform.processor() or platform.machine()


def package_metadata(path: Path) -> dict:
    """What `--export coreml` stored in a package: the model's provenance, the precision, the reference."""
    from models.coreml_export import read_spec

    metadata = dict(read_spec(path).description.metadata.userDefined)
    return {"provenance": json.loads(metadata.get("samzero.provenance", "{}")),
            "precision": metadata.get("samzero.precision"), "reference": metadata.get("samzero.reference")}  # fmt: skip


def results_json(model_provenance: dict, precision: str, coreml: dict, protocol: dict, encoder_times: list[float],
                 decoder_times: list[float], encoder_shape: list[int], host: dict | None = None) -> dict:  # fmt: skip
    """The latency task's results format (evals/engine.py `execute`) for a Core ML timing; `coreml` holds chip,
    compute_units, coremltools, macos and the package paths."""
    from evals.engine import run_name
    from evals.provenance import environment_against_lock, git_state, package_versions, utc_now

    model = model_provenance.get("model", "model")
    task = LatencyTask.from_recorded(protocol)
    encoder = {**summarize_times(encoder_times), "encoder_input_shape": encoder_shape}
    decoder = summarize_times(decoder_times)
    return {
        "task": task.name,
        "run": run_name(model, task, f"coreml-{coreml['compute_units'].lower()}", precision),
        "variant": task.variant(),
        "variant_label": task.variant_label(),
        "paper_comparable": task.paper_comparable(),
        "platform": f"Core ML, {coreml['chip']}, {coreml['compute_units']}, {precision}",
        "metrics": {"encoder_ms": encoder["median_ms"], "decoder_ms": decoder["median_ms"],
                    "encoder": encoder, "decoder": decoder},  # fmt: skip
        "provenance": {
            "created": utc_now(),
            "command": " ".join(sys.argv),
            "git": git_state(),
            "model": {**model_provenance, "backend": "coreml"},
            "coreml": {**coreml, "precision": precision},
            "dataset": {"name": "synthetic input at the encoder's size", "split": "-", "root": None, "num_samples": 2,
                        "num_samples_available": 2, "limit": None, "sample_data": False},  # fmt: skip
            "protocol": protocol,
            "host": host or {},
            "packages": package_versions() | {"coremltools": coreml.get("coremltools")},
            "environment": environment_against_lock(),
        },
    }


def time_packages(directory: Path, compute_units: str, warmup: int, runs: int) -> tuple[list, list, list[int]]:
    """Milliseconds of each timed encoder and decoder prediction, and the encoder's input shape."""
    import torch

    from models.coreml_export import import_coremltools

    ct = import_coremltools()
    units = ct.ComputeUnit[compute_units]
    encoder = ct.models.MLModel(str(directory / "image_encoder.mlpackage"), compute_units=units)
    decoder = ct.models.MLModel(str(directory / "mask_decoder.mlpackage"), compute_units=units)
    rng = np.random.default_rng(0)
    image_shape = list(encoder.get_spec().description.input[0].type.multiArrayType.shape)
    image = {"image": rng.standard_normal(image_shape).astype(np.float32)}
    shapes = {f.name: list(f.type.multiArrayType.shape) for f in decoder.get_spec().description.input}
    size = image_shape[-1]
    prompt = {
        "image_embeddings": rng.standard_normal(shapes["image_embeddings"]).astype(np.float32),
        "point_coords": np.array([[[0.5 * size, 0.375 * size]]], dtype=np.float32),  # the latency task's point
        "point_labels": np.ones((1, 1), dtype=np.float32),
        "mask_input": np.zeros(shapes["mask_input"], dtype=np.float32),
        "has_mask_input": np.zeros(1, dtype=np.float32),
    }
    cpu = torch.device("cpu")  # predict returns when the outputs are ready: nothing to synchronise
    encoder_times = time_call(lambda: encoder.predict(image), cpu, warmup, runs)
    decoder_times = time_call(lambda: decoder.predict(prompt), cpu, warmup, 10 * runs)
    return encoder_times, decoder_times, image_shape


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the --model whose packages `--export coreml` wrote")
    parser.add_argument("--out", type=Path, default=REPO / "results", help="results folder (default results/)")
    parser.add_argument("--packages", type=Path,
                        help="folder of the two packages (default <out>/latency/coreml/<model>)")
    parser.add_argument("--compute-units", choices=COMPUTE_UNITS, default="ALL",
                        help="Core ML compute units (default ALL, coremltools' default and the reference's)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed predictions first (default 2)")
    parser.add_argument("--runs", type=int, default=10,
                        help="timed encoder predictions; the decoder gets 10x (default 10)")
    args = parser.parse_args(argv)
    from models.coreml_export import coreml_runtime_problem, import_coremltools

    directory = args.packages or args.out / "latency" / "coreml" / args.model
    problems = [problem for problem in (coreml_runtime_problem(),) if problem]
    problems += [f"{directory / name}.mlpackage is missing: make it with `python run_eval.py --task latency --model "
                 f"{args.model} --export coreml --out {args.out}`" for name in PACKAGES
                 if not (directory / f"{name}.mlpackage").is_dir()]  # fmt: skip
    if args.runs < 1 or args.warmup < 0:
        problems.append("--runs must be at least 1 and --warmup at least 0")
    if problems:
        print("error: " + "; ".join(problems), file=sys.stderr)
        return 2
    metadata = package_metadata(directory / "image_encoder.mlpackage")
    encoder_times, decoder_times, shape = time_packages(directory, args.compute_units, args.warmup, args.runs)
    from evals.provenance import host_info

    chip = chip_name()
    coreml = {"chip": chip, "compute_units": args.compute_units, "coremltools": import_coremltools().__version__,
              "macos": platform.mac_ver()[0], "reference": metadata["reference"],
              "packages": {name: str(directory / f"{name}.mlpackage") for name in PACKAGES}}  # fmt: skip
    protocol = {"batch": 1, "warmup": args.warmup, "runs": args.runs, "decoder_runs": 10 * args.runs,
                "dtype": "float32", "export": None, "decoder_points": 1}  # fmt: skip
    host = host_info("cpu") | {"device": f"coreml ({args.compute_units})", "device_name": chip}
    results = results_json(metadata["provenance"] or {"model": args.model}, metadata["precision"], coreml, protocol,
                           encoder_times, decoder_times, shape, host)  # fmt: skip
    from evals.store import atomic_write_json

    path = args.out / "latency" / f"{results['run']}.json"
    atomic_write_json(path, results)
    print(f"{results['platform']}: encoder {results['metrics']['encoder_ms']:.1f} ms, decoder "
          f"{results['metrics']['decoder_ms']:.1f} ms -> {path}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
