"""What every result records about how it was made: code, weights, data, parameters, machine."""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

PACKAGES = (
    "torch", "torchvision", "segment-anything", "segment-anything-hq", "sam2", "numpy", "scipy", "scikit-image", "pycocotools",
    "faster-coco-eval", "opencv-python-headless", "onnxruntime", "pandas", "numba",
)  # fmt: skip
REPO_ROOT = Path(__file__).resolve().parent.parent


def git_state() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def dataset_fingerprint(root: Path | None, files: list[Path]) -> str:
    """sha256 over the sorted (relative path, size) of every file the run read: changes when the data does."""
    digest = hashlib.sha256()
    for path in sorted(files):
        rel = path.relative_to(root) if root is not None and path.is_relative_to(root) else path
        digest.update(f"{rel.as_posix()}\t{path.stat().st_size}\n".encode())
    return digest.hexdigest()


SAMPLE_MARKER = "SAMPLE_DATA.md"  # datasets/sample/SAMPLE_DATA.md


def is_sample_data(root: Path | None) -> bool:
    """Whether `root` lies in a folder marked as bundled sample data (a SAMPLE_DATA.md in it or above it)."""
    if root is None:
        return False
    root = Path(root).resolve()
    return any((folder / SAMPLE_MARKER).is_file() for folder in (root, *root.parents))


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@functools.lru_cache(maxsize=4)
def environment_against_lock(lock: Path = REPO_ROOT / "requirements.lock") -> dict:
    """Whether this environment is the locked one: requirements.lock's sha256, and every package whose installed
    version differs from the lock's pin for this platform (a missing one: installed None). An empty
    `differs_from_lock` means the run's packages are exactly the lock's."""
    from packaging.requirements import Requirement

    if not lock.is_file():
        return {"lock_sha256": None, "differs_from_lock": None}
    differs = {}
    for line in lock.read_text().splitlines():
        if not line or line.startswith((" ", "#")):
            continue
        pin = Requirement(line)
        if pin.marker is not None and not pin.marker.evaluate():
            continue  # another platform's pin
        locked = next(iter(pin.specifier)).version
        try:
            installed = importlib.metadata.version(pin.name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != locked:
            differs[pin.name] = {"lock": locked, "installed": installed}
    return {"lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest(), "differs_from_lock": differs}


def device_description(device: str) -> str:
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def host_info(device: str) -> dict:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": device_description(device),
        # PyTorch's defaults (cuDNN convolutions in TF32, float32 matrix products in full float32) shape CUDA
        # numbers at the 1e-3 level; recorded so that a run with other settings is visible as such.
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
