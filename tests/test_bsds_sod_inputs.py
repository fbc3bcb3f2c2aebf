"""`--task bsds` and `--task sod`, and the command line itself, on bad inputs (issue "Reliability" probes 1, 3, 5, 6,
9): exit status 2 naming the file, no traceback, nothing written outside --out, and a stored prediction of an input
that was broken then fixed is predicted again. The model: tests/fakes.py's toy model in place of the untrained one."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import pytest
import torch

import models
from evals import cli
from tests.fakes import toy_prompt_model

SAMPLE = Path(__file__).resolve().parent.parent / "datasets" / "sample"
BENCH_PNG = Path(__file__).resolve().parent / "data" / "bsds500_bench" / "png"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(models, "load_prompt_model", lambda *args, **kwargs: toy_prompt_model())
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def bsds_root(tmp_path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(SAMPLE / "BSDS500", root / "BSDS500")
    return root


def files_outside(root: Path, out: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if out not in p.parents and p != out}


def bsds(root: Path, out: Path, *extra: str) -> int:
    return cli.main(["--task", "bsds", "--model", "repvit", "--untrained", "--data-root", str(root), "--out", str(out),
                     "--bsds-points-per-side", "2", "--bsds-thresholds", "5", "--bsds-workers", "1", *extra])  # fmt: skip


def first_image(root: Path) -> Path:
    return sorted((root / "BSDS500" / "images" / "test").glob("*.jpg"))[0]


@pytest.mark.parametrize("damage,message", [
    (lambda data: data[: len(data) // 3], "truncated JPEG"),
    (lambda data: os.urandom(len(data)), "not an image OpenCV can decode"),
])  # fmt: skip
def test_a_broken_bsds_image_is_named_and_nothing_is_written_outside_out(bsds_root, tmp_path, capsys, damage, message):
    image = first_image(bsds_root)
    image.write_bytes(damage(image.read_bytes()))
    before = files_outside(tmp_path, tmp_path / "out")
    assert bsds(bsds_root, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"{image}: {message}" in err and "Traceback" not in err
    assert files_outside(tmp_path, tmp_path / "out") == before


def test_a_prediction_of_a_broken_then_fixed_image_is_made_again(bsds_root, tmp_path, capsys):
    image = first_image(bsds_root)
    whole = image.read_bytes()
    assert bsds(bsds_root, tmp_path / "out", "--limit", "2") == 0
    image.write_bytes(whole[: len(whole) // 3])  # truncated: refused, nothing stored for it
    assert bsds(bsds_root, tmp_path / "out", "--limit", "2") == 2
    cv2.imwrite(str(image), cv2.imread(str(first_image(SAMPLE)))[::-1].copy())  # another whole image: stale store
    assert bsds(bsds_root, tmp_path / "out", "--limit", "2") == 0
    image.write_bytes(whole)  # the original again
    assert bsds(bsds_root, tmp_path / "out", "--limit", "2") == 0
    results = json.loads((tmp_path / "out" / "bsds" / "repvit.custom-points_per_side-bench.json").read_text())
    assert results["provenance"]["timings"]["repredicted_samples"] == {"inputs_changed": 1, "unreadable": 0}
    assert results["provenance"]["timings"]["predicted_samples"] == 1
    assert f"are predicted again: {image.stem}.npz" in capsys.readouterr().err


def test_a_run_name_cannot_escape_out(tmp_path, capsys):
    out = tmp_path / "x" / "a" / "b"
    code = cli.main(["--task", "bsds", "--model", "../../../../../escaped_row", "--predictions", str(BENCH_PNG),
                     "--data-root", str(SAMPLE), "--out", str(out)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "'../../../../../escaped_row' cannot name a file" in err and "Traceback" not in err
    assert not list(tmp_path.rglob("*escaped_row*")) and not out.exists()


def test_out_that_is_a_file_or_not_writable_fails_before_any_work(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert cli.main(["--task", "bsds", "--model", "bench", "--predictions", str(BENCH_PNG), "--data-root", str(SAMPLE),
                     "--out", str(tmp_path / "file")]) == 2  # fmt: skip
    assert f"--out {tmp_path / 'file'} is a file, not a folder" in capsys.readouterr().err
    # A folder that cannot be made (below a file; a permission test would not fail as root, which CI runs as).
    assert cli.main(["--tables", "--out", str(tmp_path / "file" / "results")]) == 2
    assert f"--out {tmp_path / 'file' / 'results'}: cannot write there (Not a directory)" in capsys.readouterr().err


def test_sod_mask_and_image_that_do_not_pair_are_named(tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(SAMPLE / "DUTS-TE", root / "DUTS-TE")
    mask = sorted((root / "DUTS-TE" / "DUTS-TE-Mask").glob("*.png"))[0]
    mask.rename(mask.with_name("orphan.png"))
    code = cli.main(["--task", "sod", "--model", "repvit", "--untrained", "--data-root", str(root),
                     "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "do not pair up by file name" in err and mask.stem in err and "orphan" in err and "Traceback" not in err
