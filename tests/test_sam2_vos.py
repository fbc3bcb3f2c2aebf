"""DAVIS with SAM 2's own protocol (`--vos-protocol sam2`, evals/davis/sam2_vos.py) against the official
tools/vos_inference.py: the id maps our task stores equal the PNGs the official tool wrote for the same clip with the
same weights (tests/data/sam2_vos/, made by make_reference.py there)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from evals.davis.task import DavisTask
from evals.errors import DataError, UsageError
from tests.davis_clip import VIDEO, sample_clip
from tests.test_parity import fixed_threads  # noqa: F401  (the autouse fixture: 2 threads)
from tests.test_parity import parity_prompt_model

REFERENCE = Path(__file__).parent / "data" / "sam2_vos"


def sam2_task() -> DavisTask:
    parser = argparse.ArgumentParser()
    DavisTask.add_arguments(parser)
    return DavisTask(DavisTask.params_from_args(parser.parse_args(["--vos-protocol", "sam2"])))


def test_masks_equal_official_vos_inference(tmp_path):
    ref = np.load(REFERENCE / f"{VIDEO}.npz")
    task = sam2_task()
    dataset = task.load_dataset(sample_clip(tmp_path / "DAVIS"))
    (sample,) = dataset.samples
    model = parity_prompt_model("sam2.1_hiera_t", float64=True)  # the reference's weights and float64 encoder
    prediction = task.predict(model, sample, task.load_inputs(sample))
    assert prediction["frame_names"] == list(ref["frame_names"])
    assert prediction["masks"].shape == ref["masks"].shape == (3, 480, 854)
    # Equal up to pixels whose logit is within float rounding of the threshold (none on the machine that made them).
    assert (prediction["masks"] != ref["masks"]).mean() <= 1e-4
    assert prediction["masks"][1:].any()  # the object is followed, not lost
    assert model.encoder_calls == 3  # each frame embedded once, by the model's (timed) encoder
    assert model.video_predictor() is model.video_predictor()  # built once per model, not once per video


def test_protocol_is_a_named_variant_not_comparable_with_the_paper():
    task = sam2_task()
    assert task.variant() == "sam2vos" and not task.paper_comparable()
    assert "vos_inference.py" in task.protocol_notes()["protocol"] and task.params.sam2_vos.score_threshold == 0.0
    parser = argparse.ArgumentParser()
    DavisTask.add_arguments(parser)
    with pytest.raises(UsageError, match="--refinement-iterations: SAM-PT options"):
        DavisTask.params_from_args(parser.parse_args(["--vos-protocol", "sam2", "--refinement-iterations", "3"]))


def test_models_without_a_video_predictor_are_refused():
    from models.capabilities import Capabilities

    assert sam2_task().capability_problems(Capabilities()) == [
        "a video predictor that propagates masks with memory (--vos-protocol sam2: SAM 2 models)"
    ]
    assert sam2_task().capability_problems(Capabilities(video_propagation=True)) == []


def test_a_folder_with_unannotated_frames_is_named(tmp_path):
    from evals.davis.sam2_vos import frame_folder

    root = sample_clip(tmp_path / "DAVIS")
    folder = root / "JPEGImages" / "480p" / VIDEO
    paths = tuple(sorted(folder.glob("*.jpg")))
    assert frame_folder(paths) == folder
    (folder / "00099.jpg").write_bytes(paths[0].read_bytes())
    with pytest.raises(DataError, match=r"reads every JPEG.*holds 4 where the annotations name 3.*00099.jpg"):
        frame_folder(paths)


def test_reference_provenance():
    info = json.loads((REFERENCE / f"{VIDEO}.json").read_text())
    assert info["official_commit"].startswith("2b90b9f")
    assert info["config"] == "configs/sam2.1/sam2.1_hiera_t.yaml"
