"""`--task mvtec` and `--detect mvtec` on broken, missing or changed inputs, through the command line.

Every bad input ends in exit status 2 and one paragraph naming the file and what was expected, without a traceback
and without writing anything outside --out; everything a run lacks is listed in one message with where to get it; a
model without box prompts is refused before it loads; a stored prediction whose inputs changed (image or prompt-cache
entry), or whose file is truncated, is predicted again. Data: a small generated MVTec-layout dataset
(evals/mvtec/sample_data.py) with a prompt cache written here in the format `--detect mvtec` writes (no detector
runs); the model: the real SAM decoder behind a trivial encoder (tests/fakes.py) in place of the untrained network.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import models
from evals import cli
from evals.mvtec.categories import CATEGORIES
from evals.mvtec.dataset import load_mvtec_dataset
from evals.mvtec.prompt_cache import FORMAT, PromptCache
from evals.mvtec.protocol import detection_protocol
from evals.mvtec.saa_prompts import prompts_record
from evals.mvtec.sample_data import write_dataset
from evals.mvtec.task import MVTecTask
from evals.store import encode_prediction
from models.capabilities import Capabilities
from tests.fakes import toy_prompt_model

SIZE = 32
LAYOUT = {"tile": {"good": 1, "crack": 1}, "bottle": {"good": 1, "contamination": 1}}
IDS = ["tile/crack/000", "tile/good/000", "bottle/contamination/000", "bottle/good/000"]  # SAA+'s order
MVTEC_URL = "https://www.mvtec.com/research-teaching/datasets/mvtec-ad"
WRN_URL = ("https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"
           "wide_resnet50_racm-8234f177.pth")
DETECTOR_URL = "https://huggingface.co/IDEA-Research/grounding-dino-tiny"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Work in tmp_path (relative defaults such as weights/ land there) with the toy model in place of the untrained
    network `--untrained` would build; the command line's --threads is undone afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(models, "load_prompt_model", lambda *args, **kwargs: toy_prompt_model())
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def entry(boxes=((4.0, 5.0, 20.0, 22.0), (10.0, 2.0, 30.0, 12.0)), size=(SIZE, SIZE), seed=0) -> dict:
    """A prompt-cache entry as detect.py writes it (two defect boxes, an 8 x 8 saliency map)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return {
        "defect_boxes": boxes, "defect_logits": np.linspace(0.3, 0.6, len(boxes), dtype=np.float32),
        "object_boxes": np.zeros((0, 4), np.float32), "object_logits": np.zeros(0, np.float32),
        "saliency": np.random.default_rng(seed).random((8, 8)).astype(np.float32),
        "image_size": np.array(size, dtype=np.int64), "defect_phrases": ["crack"] * len(boxes),
        "defect_prompt_indices": [0] * len(boxes), "object_phrases": [], "object_area": 1.0, "max_defect_area": 1.0,
    }  # fmt: skip


@pytest.fixture
def data(tmp_path) -> Path:
    """tmp_path/data: the generated dataset; tmp_path/prompts: its prompt cache."""
    root = tmp_path / "data"
    write_dataset(root, LAYOUT, size=SIZE)
    cache = PromptCache(tmp_path / "prompts")
    cache.open_for_writing({"format": FORMAT, "protocol": detection_protocol(), "prompts": prompts_record(CATEGORIES),
                            "detector": {"backbone": None, "trained": False}, "saliency": {"trained": False},
                            "trained": False})  # fmt: skip
    for index, sample_id in enumerate(IDS):
        cache.save(sample_id, entry(seed=index))
    return root


def image_path(root: Path, sample_id: str) -> Path:
    category, defect, name = sample_id.split("/")
    return root / "mvtec_anomaly_detection" / category / "test" / defect / f"{name}.png"


def mask_path(root: Path, sample_id: str) -> Path:
    category, defect, name = sample_id.split("/")
    return root / "mvtec_anomaly_detection" / category / "ground_truth" / defect / f"{name}_mask.png"


def listing(root: Path, out: Path) -> list[tuple[str, int]]:
    """Every file and folder under `root` but `out`, with its size."""
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*")
                  if p != out and out not in p.parents)  # fmt: skip


def fails(capsys, tmp_path: Path, *argv: str) -> str:
    """Run the command line; it must fail with status 2, one 'error:' paragraph, no traceback, nothing written outside
    --out. Returns the message."""
    out = tmp_path / "out"
    before = listing(tmp_path, out)
    code = cli.main([*argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("error: ") == 1
    assert listing(tmp_path, out) == before
    return err[err.index("error: "):]


def mvtec_args(tmp_path: Path, *extra: str, limit: int | None = 1) -> list[str]:
    limited = ["--limit", str(limit)] if limit is not None else []
    return ["--task", "mvtec", "--model", "mobilesam", "--untrained", "--data-root", str(tmp_path / "data"),
            "--mvtec-prompts", str(tmp_path / "prompts"), "--mvtec-categories", "tile,bottle", "--threads", "1",
            *limited, *extra]  # fmt: skip


def results(out: Path, run: str = "mobilesam.tile+bottle-untrained-prompts") -> dict:
    return json.loads((out / "mvtec" / f"{run}.json").read_text())


# --- what a run needs ---------------------------------------------------------------------------------------------
def test_everything_a_run_lacks_is_listed_in_one_message(capsys, tmp_path):
    message = fails(capsys, tmp_path, "--task", "mvtec", "--model", "mobilesam", "--data-root", str(tmp_path / "none"))
    problems = [line for line in message.splitlines() if line.startswith("  - ")]
    assert len(problems) == 3, message
    checkpoint, dataset, cache = problems
    assert "mobile_sam.pt" in checkpoint
    assert "mvtec: MVTec AD" in dataset and f"at {tmp_path / 'none' / 'mvtec_anomaly_detection'}" in dataset
    assert MVTEC_URL in dataset and "mvtec_anomaly_detection.tar.xz" in dataset
    default_cache = tmp_path / "out" / "mvtec" / "saa_prompts"
    assert "SAA+ prompt cache" in cache and f"at {default_cache / 'manifest.json'}" in cache
    assert f"python run_eval.py --detect mvtec --data-root {tmp_path / 'none'} --mvtec-prompts {default_cache}" in cache


def test_detection_lists_the_dataset_and_both_networks_weights(capsys, tmp_path):
    message = fails(capsys, tmp_path, "--detect", "mvtec", "--data-root", str(tmp_path / "none"),
                    "--mvtec-detector", str(tmp_path / "gd"), "--mvtec-saliency-weights", str(tmp_path / "wrn.pth"))
    problems = [line for line in message.splitlines() if line.startswith("  - ")]
    assert all(line.startswith("  - --detect mvtec: ") for line in problems) and len(problems) >= 3, message
    assert any(MVTEC_URL in line for line in problems)
    assert any(f"at {tmp_path / 'gd'}" in line and DETECTOR_URL in line for line in problems)
    assert any(f"at {tmp_path / 'wrn.pth'}" in line and WRN_URL in line for line in problems)
    untrained = fails(capsys, tmp_path, "--detect", "mvtec", "--data-root", str(tmp_path / "none"), "--untrained")
    assert "wide_resnet50" not in untrained and "weights/grounding-dino-tiny" in untrained  # a random backbone only


def test_a_model_without_box_prompts_is_refused_before_it_loads(capsys, tmp_path, data, monkeypatch):
    task = MVTecTask(MVTecTask.params_from_args(cli.build_parser().parse_args(
        ["--mvtec-prompts", str(tmp_path / "prompts")])))  # fmt: skip
    assert task.capability_problems(Capabilities(multimask_outputs=1, mask_input=False, automatic_masks=False)) == []
    assert "box prompts" in task.capability_problems(Capabilities(boxes=False))[0]
    original = cli.model_variant
    monkeypatch.setattr(cli, "model_variant",
                        lambda name: dataclasses.replace(original(name), capabilities=Capabilities(boxes=False)))
    message = fails(capsys, tmp_path, *mvtec_args(tmp_path))
    assert "mvtec needs box prompts (SAA+ prompts SAM with every defect box" in message and "MobileSAM lacks" in message


def test_an_unknown_category_is_a_usage_error(capsys, tmp_path, data):
    message = fails(capsys, tmp_path, *mvtec_args(tmp_path, "--mvtec-categories", "tile,sofa"))
    assert "unknown MVTec AD category sofa" in message and "known: carpet" in message


# --- images and masks ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("damage,expected", [
    (lambda data: data[: len(data) // 2], "truncated PNG (no IEND chunk)"),
    (lambda data: data[:8] + b"\x00" * 40 + data[-12:], "not an image"),
])  # fmt: skip
def test_a_broken_image_is_named(capsys, tmp_path, data, damage, expected):
    image = image_path(data, "tile/good/000")  # a good image: no mask to compare it with first
    image.write_bytes(damage(image.read_bytes()))
    message = fails(capsys, tmp_path, *mvtec_args(tmp_path, limit=2))
    assert f"{image}: {expected}" in message


def test_a_mask_of_another_size_or_truncated_is_named_before_any_prediction(capsys, tmp_path, data):
    mask = mask_path(data, "bottle/contamination/000")
    whole = mask.read_bytes()
    cv2.imwrite(str(mask), np.zeros((SIZE, SIZE - 2), np.uint8))
    message = fails(capsys, tmp_path, *mvtec_args(tmp_path))  # --limit 1: the first image only, yet every mask
    assert f"{mask}: mask of {SIZE - 2} x {SIZE} pixels (W x H)" in message
    assert f"{image_path(data, 'bottle/contamination/000')} has {SIZE} x {SIZE}" in message
    mask.write_bytes(whole[:-20])
    assert f"{mask}: truncated PNG" in fails(capsys, tmp_path, *mvtec_args(tmp_path))


# --- the prompt cache ---------------------------------------------------------------------------------------------
def write_raw_entry(cache: Path, sample_id: str, values: dict) -> Path:
    """An entry written as it is (PromptCache.save refuses bad ones)."""
    path = cache / f"{sample_id}.npz"
    path.write_bytes(encode_prediction(values))
    return path


@pytest.mark.parametrize("change,expected", [
    ("truncate", "truncated or corrupt prompt-cache entry"),
    ({"defect_boxes": np.array([[20.0, 5.0, 4.0, 22.0]], np.float32), "defect_logits": np.array([0.5], np.float32)},
     "1 defect box(es) with negative width or height (x1 < x0 or y1 < y0)"),
    ({"defect_boxes": np.zeros((2, 3), np.float32)}, "defect_boxes has shape (2, 3), expected K x 4"),
    ({"defect_logits": np.array([0.5], np.float32)}, "defect_logits has shape (1,) (expected (2,)"),
    ({"saliency": np.full((8, 8), np.nan, np.float32)}, "saliency has shape (8, 8) or non-finite values"),
    ({"image_size": np.array([SIZE, SIZE + 1])}, f"prompts for an image of ({SIZE}, {SIZE + 1}) pixels (H, W)"),
    ("drop", "missing arrays saliency"),
])  # fmt: skip
def test_a_damaged_prompt_cache_entry_is_named(capsys, tmp_path, data, change, expected):
    path = tmp_path / "prompts" / "tile" / "crack" / "000.npz"
    if change == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif change == "drop":
        write_raw_entry(tmp_path / "prompts", "tile/crack/000", {k: v for k, v in entry().items() if k != "saliency"})
    else:
        write_raw_entry(tmp_path / "prompts", "tile/crack/000", {**entry(), **change})
    message = fails(capsys, tmp_path, *mvtec_args(tmp_path))
    assert f"{path}: " in message and expected in message
    assert "--detect mvtec" in message  # how to make it again


def test_a_missing_entry_and_a_broken_manifest_are_named(capsys, tmp_path, data):
    cache = tmp_path / "prompts"
    (cache / "bottle" / "good" / "000.npz").unlink()
    message = fails(capsys, tmp_path, *mvtec_args(tmp_path, limit=None))  # named before any prediction
    assert f"has no entry for bottle/good/000 ({cache / 'bottle' / 'good' / '000.npz'})" in message
    assert f"--detect mvtec --mvtec-prompts {cache} --mvtec-categories bottle" in message
    assert list((tmp_path / "out").rglob("*.npz")) == []  # nothing was predicted

    manifest = cache / "manifest.json"
    whole = manifest.read_text()
    manifest.write_text(whole[:40])
    message = fails(capsys, tmp_path, *mvtec_args(tmp_path))
    assert f"{manifest}: cannot read this prompt cache's manifest" in message and "truncated" in message
    content = json.loads(whole)
    content["prompts"]["tile"]["object_prompt"] = "something else"
    manifest.write_text(json.dumps(content))
    message = fails(capsys, tmp_path, *mvtec_args(tmp_path))
    assert f"{cache} was made with other prompts for tile" in message


def test_detection_makes_a_damaged_entry_again(tmp_path, data, monkeypatch, capsys):
    """`--detect mvtec` resumes over whole entries and makes truncated ones anew (the networks faked here)."""
    from evals.mvtec import detect

    made = []
    monkeypatch.setattr(detect, "detect_image", lambda *args, **kwargs: made.append(1) or entry(seed=9))
    cache = PromptCache(tmp_path / "prompts")
    stored = cache.path("tile/good/000")
    stored.write_bytes(stored.read_bytes()[:100])
    images = [sample.data for sample in load_mvtec_dataset(data, ("tile", "bottle")).samples]
    counts = detect.fill_cache(cache, images, None, None)
    assert counts["detected"] == 1 and counts["remade"] == ["tile/good/000"] and len(made) == 1
    assert cache.entry_problem("tile/good/000") is None
    assert "1 unreadable or damaged cache entries made again: tile/good/000" in capsys.readouterr().err


# --- another method's maps ------------------------------------------------------------------------------------------
def write_maps(folder: Path) -> None:
    for index, sample_id in enumerate(IDS):
        path = folder / f"{sample_id}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.random.default_rng(index).random((16, 16)).astype(np.float32))


@pytest.mark.parametrize("damage,expected", [
    (lambda path: path.unlink(), "no anomaly map for tile/good/000: expected"),
    (lambda path: path.write_bytes(path.read_bytes()[:100]), "cannot read this anomaly map"),
    (lambda path: np.save(path, np.zeros((16, 16, 3), np.float32)), "must have one channel"),
    (lambda path: np.save(path, np.full((16, 16), np.nan, np.float32)), "NaN or infinite values"),
    (lambda path: np.save(path, np.array([["a", "b"]])), "expected numbers"),
    (lambda path: (path.unlink(), cv2.imwrite(str(path.with_suffix(".png")), np.zeros((16, 16, 3), np.uint8))),
     "must have one channel"),
])  # fmt: skip
def test_bad_external_maps_are_named(capsys, tmp_path, data, damage, expected):
    maps = tmp_path / "maps"
    write_maps(maps)
    path = maps / "tile" / "good" / "000.npy"
    damage(path)
    message = fails(capsys, tmp_path, "--task", "mvtec", "--model", "other", "--predictions", str(maps),
                    "--data-root", str(data), "--mvtec-categories", "tile,bottle")  # fmt: skip
    assert expected in message and str(maps / "tile" / "good" / "000") in message


def test_external_maps_are_scored(tmp_path, data):
    maps = tmp_path / "maps"
    write_maps(maps)
    code = cli.main(["--task", "mvtec", "--model", "other", "--predictions", str(maps), "--data-root", str(data),
                     "--mvtec-categories", "tile,bottle", "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 0
    metrics = results(tmp_path / "out", "other.tile+bottle")["metrics"]
    assert metrics["categories"] == ["tile", "bottle"] and metrics["num_images"] == 4 and 0 < metrics["f1_max"] <= 100


# --- resuming -----------------------------------------------------------------------------------------------------
def test_changed_inputs_and_truncated_predictions_are_predicted_again(capsys, tmp_path, data):
    grey = image_path(data, "tile/good/000")  # grey PNGs (grid, screw, zipper) are read as 3-channel BGR
    cv2.imwrite(str(grey), cv2.cvtColor(cv2.imread(str(grey)), cv2.COLOR_BGR2GRAY))
    task = MVTecTask(MVTecTask.params_from_args(cli.build_parser().parse_args(
        ["--mvtec-prompts", str(tmp_path / "prompts"), "--mvtec-categories", "tile,bottle"])))  # fmt: skip
    samples = {s.id: s for s in task.load_dataset(data).samples}
    bgr, cached = task.load_inputs(samples["tile/good/000"])
    assert bgr.shape == (SIZE, SIZE, 3) and np.array_equal(bgr[..., 0], bgr[..., 2])
    assert cached["defect_boxes"].shape == (2, 4) and cached["saliency"].shape == (8, 8)
    assert task.sample_files(samples["tile/good/000"]) == [grey, tmp_path / "prompts" / "tile" / "good" / "000.npz"]

    out = tmp_path / "out"
    argv = [*mvtec_args(tmp_path, limit=2), "--out", str(out)]
    assert cli.main(argv) == 0
    first = results(out)
    assert first["provenance"]["timings"]["predicted_samples"] == 2 and first["metrics"]["num_images"] == 2

    image = image_path(data, "tile/crack/000")
    cv2.imwrite(str(image), cv2.flip(cv2.imread(str(image)), 1))  # same size, other pixels
    capsys.readouterr()
    assert cli.main(argv) == 0
    timings = results(out)["provenance"]["timings"]
    assert timings["predicted_samples"] == 1 and timings["resumed_samples"] == 1
    assert timings["repredicted_samples"] == {"inputs_changed": 1, "unreadable": 0}
    assert "1 stored predictions made from inputs that have changed since are predicted again: 000.npz" in (
        capsys.readouterr().err
    )

    PromptCache(tmp_path / "prompts").save("tile/good/000", entry(boxes=(2.0, 2.0, 9.0, 9.0), seed=7))  # new prompts
    stored = out / "mvtec" / "mobilesam.tile+bottle-untrained-prompts.predictions" / "tile" / "crack" / "000.npz"
    stored.write_bytes(stored.read_bytes()[:50])
    assert cli.main(argv) == 0
    again = results(out)["provenance"]["timings"]
    assert again["repredicted_samples"] == {"inputs_changed": 1, "unreadable": 1} and again["predicted_samples"] == 2
    assert "1 stored predictions unreadable are predicted again: 000.npz" in capsys.readouterr().err
