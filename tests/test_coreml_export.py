"""--export coreml: packages with RepViT-SAM's Core ML layout (THU-MIG/RepViT @ 298f420, sam/scripts/
export_coreml_{encoder,decoder}.py), checked from the saved spec here and against torch on macOS; a Mac's timing of
them (benchmarks/coreml_latency.py) as a latency-table row of its own platform.

The expected layouts below are written out from the reference scripts, not taken from models/coreml_export.py.
"""
from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest
import torch

from evals import cli
from evals.tables import render_tables
from models.coreml_export import (
    DECODER_OUTPUTS,
    SamCoreMLDecoder,
    describe_package,
    export_and_check,
    export_encoder,
    layout_problems,
)
from models.errors import UnsupportedSetting
from models.sam_assembly import assemble_sam
from tests.fakes import PoolingEncoder, toy_prompt_model

REPO = Path(__file__).resolve().parents[1]
FIXED = None  # no shape range: a fixed shape
# (name, default shape, per-dimension (lower, upper) or FIXED, dtype), in the programs' order.
ENCODER_INPUTS = [("image", [1, 3, 1024, 1024], FIXED, "FLOAT32")]  # normalised and padded, as their notebook feeds it
ENCODER_OUTPUTS = [("embedding", [1, 256, 64, 64], FIXED, "FLOAT32")]
# Their ct.convert inputs; the points axis is RangeDim(lower_bound=0, upper_bound=5, default=1).
DECODER_INPUT_LAYOUT = [
    ("image_embeddings", [1, 256, 64, 64], FIXED, "FLOAT32"),
    ("point_coords", [1, 1, 2], [[1, 1], [0, 5], [2, 2]], "FLOAT32"),
    ("point_labels", [1, 1], [[1, 1], [0, 5]], "FLOAT32"),
    ("mask_input", [1, 1, 256, 256], FIXED, "FLOAT32"),
    ("has_mask_input", [1], FIXED, "FLOAT32"),
]
DECODER_OUTPUT_LAYOUT = [  # SamCoreMLModel(orig_img_size=[1024, 1024], return_single_mask=True)
    ("masks", [1, 1, 1024, 1024], FIXED, "FLOAT32"),
    ("iou_predictions", [1, 1], FIXED, "FLOAT32"),
    ("low_res_masks", [1, 1, 256, 256], FIXED, "FLOAT32"),
]


def features(description: dict, kind: str) -> list[tuple]:
    return [(f["name"], f["shape"], f["range"], f["dtype"]) for f in description[kind]]


def assert_reference_layout(report: dict, precision: str) -> None:
    encoder, decoder = (describe_package(Path(report[name])) for name in ("image_encoder", "mask_decoder"))
    assert features(encoder, "inputs") == ENCODER_INPUTS and features(encoder, "outputs") == ENCODER_OUTPUTS
    assert features(decoder, "inputs") == DECODER_INPUT_LAYOUT and features(decoder, "outputs") == DECODER_OUTPUT_LAYOUT
    for description in (encoder, decoder):
        counts = description["float_results"]  # of every operation but constants and casts
        expected = (True, False) if precision == "fp16" else (False, True)
        assert (counts["FLOAT16"] > 0, counts["FLOAT32"] > 0) == expected, counts
        assert description["specification_version"] == 6  # ML program, iOS 15 / macOS 12: coremltools' default target
    assert report["layout_problems"] == {"image_encoder": [], "mask_decoder": []}
    assert report["precision"] == precision


@pytest.fixture(scope="module")
def toy_encoder_package(tmp_path_factory) -> dict:
    """The toy model's encoder converted in fp16: seconds, most of them importing coremltools. SAM's decoder takes
    15-25 s to convert here, so every test of a whole export is slow."""
    model = toy_prompt_model()
    path = tmp_path_factory.mktemp("coreml") / "image_encoder.mlpackage"
    return describe_package(export_encoder(model.network.image_encoder, model.encoder_example(), path, "fp16"))


@pytest.fixture(scope="module")
def toy_export(tmp_path_factory):
    """One fp16 export of the toy model (a real SAM decoder behind a pooling encoder), for the slow tests."""
    model, directory = toy_prompt_model(), tmp_path_factory.mktemp("coreml")
    return model, directory, export_and_check(model, directory, "fp16")


def test_encoder_package_has_the_reference_layout_in_fp16(toy_encoder_package):
    assert features(toy_encoder_package, "inputs") == ENCODER_INPUTS
    assert features(toy_encoder_package, "outputs") == ENCODER_OUTPUTS
    assert toy_encoder_package["float_results"]["FLOAT16"] > 0 and toy_encoder_package["float_results"]["FLOAT32"] == 0


def test_layout_problems_name_what_differs(toy_encoder_package):
    description = {**toy_encoder_package, "inputs": [dict(f, name="x_1") for f in toy_encoder_package["inputs"]]}
    expected = {"inputs": {"image": ([1, 3, 1024, 1024], FIXED)}, "outputs": {"embedding": ([1, 256, 64, 64], FIXED)}}
    assert layout_problems(toy_encoder_package, expected, "fp16") == []
    assert layout_problems(description, expected, "fp32") == [
        "inputs ['x_1'], expected ['image']",
        f"computes in fp16 ({toy_encoder_package['float_results']}), asked fp32",
    ]  # fmt: skip


@pytest.mark.slow
def test_packages_have_the_reference_layout_and_precision(toy_export):
    model, directory, report = toy_export
    assert report["image_encoder"] == str(directory / "image_encoder.mlpackage")
    assert report["mask_decoder"] == str(directory / "mask_decoder.mlpackage")
    assert_reference_layout(report, "fp16")
    metadata = describe_package(directory / "mask_decoder.mlpackage")["metadata"]
    assert json.loads(metadata["samzero.provenance"]) == model.provenance  # the Mac's timing names the model by it
    assert metadata["samzero.precision"] == "fp16" and "298f420" in metadata["samzero.reference"]


@pytest.mark.slow
def test_what_was_checked_and_skipped_is_recorded(toy_export):
    _, _, report = toy_export
    assert any("names, shapes" in check for check in report["checked"])
    if sys.platform == "darwin":
        assert "numeric" in report and report["skipped"] == {}
    else:
        assert report["skipped"] == {"outputs against torch": "Core ML runs only on macOS (coremltools' runtime, "
                                     f"libcoremlpython, is macOS-only); this is {sys.platform}"}  # fmt: skip
        assert "numeric" not in report


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "darwin", reason="Core ML runs only on macOS")
def test_packages_compute_what_torch_computes_on_macos(toy_export):
    numeric = toy_export[2]["numeric"]
    assert numeric["encoder_relative_error"] <= 1e-2  # fp16
    for errors in numeric["decoder_relative_error"].values():
        assert set(errors) == set(DECODER_OUTPUTS) and max(errors.values()) <= 2e-2


def test_decoder_is_segment_anythings_onnx_decoder_at_a_fixed_size():
    """SamCoreMLDecoder = SamOnnxModel(return_single_mask=True) with orig_im_size 1024x1024, as RepViT-SAM's
    SamCoreMLModel is, for any number of points (1: the reference notebook's prompt; 5: its upper bound)."""
    from segment_anything.utils.onnx import SamOnnxModel

    from models.coreml_export import example_decoder_inputs

    sam = assemble_sam(PoolingEncoder(), embed_dim=32)  # a narrow decoder (fast): the equality holds at any width
    ours, reference = SamCoreMLDecoder(sam).eval(), SamOnnxModel(sam, return_single_mask=True).eval()
    for num_points in (1, 5):
        inputs = example_decoder_inputs(sam, num_points, seed=num_points)
        with torch.no_grad():
            outputs = dict(zip(DECODER_OUTPUTS, ours(*inputs.values())))
            expected = dict(zip(DECODER_OUTPUTS, reference(*inputs.values(), torch.tensor([1024.0, 1024.0]))))
        for name in DECODER_OUTPUTS:
            assert torch.equal(outputs[name], expected[name]), (num_points, name)
        assert outputs["masks"].shape == (1, 1, 1024, 1024) and outputs["iou_predictions"].shape == (1, 1)
        assert outputs["low_res_masks"].shape == (1, 1, 256, 256)


def test_a_network_other_than_sams_is_refused():
    model = types.SimpleNamespace(network=torch.nn.Linear(2, 2), provenance={"display": "SAM 2.1 Hiera-T"})
    with pytest.raises(UnsupportedSetting, match="SAM 2.1 Hiera-T has another one"):
        export_and_check(model, Path("unused"))


@pytest.mark.parametrize("argv,message", [
    (["--coreml-precision", "fp32"], "--coreml-precision is used only with --export coreml"),
    (["--export", "coreml", "--backend", "onnxruntime"], "drop --backend / --precision"),
])  # fmt: skip
def test_coreml_options_are_checked_before_anything_loads(argv, message, tmp_path, capsys):
    argv = ["--task", "latency", "--model", "mobilesam", "--untrained", "--out", str(tmp_path), *argv]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


# --- the Mac's timing as a latency-table row ------------------------------------------------------------------------
def coreml_latency_script():
    spec = importlib.util.spec_from_file_location("coreml_latency", REPO / "benchmarks" / "coreml_latency.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mac_result(model: str, encoder_ms: float, decoder_ms: float, chip: str = "Apple M1 Pro", units: str = "ALL",
               precision: str = "fp16", trained: bool = True) -> dict:  # fmt: skip
    """A results JSON as benchmarks/coreml_latency.py writes it on a Mac, with given timings (nothing is timed)."""
    provenance = {"model": model, "display": {"repvit": "RepViT-SAM", "mobilesam": "MobileSAM"}[model],
                  "trained": trained, "backend": "eager", "precision": "fp32"}  # fmt: skip
    protocol = {"batch": 1, "warmup": 2, "runs": 3, "decoder_runs": 30, "dtype": "float32", "export": None,
                "decoder_points": 1}  # fmt: skip
    coreml = {"chip": chip, "compute_units": units, "coremltools": "9.0", "macos": "15.1"}
    return coreml_latency_script().results_json(provenance, precision, coreml, protocol, [encoder_ms] * 3,
                                                [decoder_ms] * 30, [1, 3, 1024, 1024])  # fmt: skip


def latency_rows(out: Path) -> list[str]:
    section = render_tables(out).split("## Latency")[1].split("\n## ")[0]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| Model")]


def test_a_mac_core_ml_run_is_a_row_of_its_platform_beside_the_papers_device(tmp_path):
    runs = [mac_result("repvit", 45.0, 11.0), mac_result("mobilesam", 400.0, 11.5),
            mac_result("repvit", 120.0, 20.0, units="CPU_ONLY"),  # not the paper's settings: no paper value
            mac_result("repvit", 30.0, 8.0, chip="Apple M3", precision="fp32")]  # another chip: no paper device
    assert [run["run"] for run in runs] == ["repvit.coreml-all.fp16", "mobilesam.coreml-all.fp16",
                                            "repvit.coreml-cpu_only.fp16", "repvit.coreml-all"]  # fmt: skip
    (tmp_path / "latency").mkdir()
    for run in runs:
        (tmp_path / "latency" / f"{run['run']}.json").write_text(json.dumps(run))
    rows = latency_rows(tmp_path)
    mine = [row for row in rows if "(measured)" in row]
    assert mine == [
        "| MobileSAM | Core ML, Apple M1 Pro, ALL, fp16 (measured) | paper protocol | 400.0 (paper 482.2, -82.2) |"
        " 11.5 |",  # the paper printed the decoder on RepViT-SAM's row only
        "| RepViT-SAM | Core ML, Apple M1 Pro, ALL, fp16 (measured) | paper protocol | **45.0** (paper 44.8, +0.2) |"
        " **11.0** (paper 11.8, -0.8) |",  # marked among the rows of its own platform
        "| RepViT-SAM | Core ML, Apple M1 Pro, CPU_ONLY, fp16 (measured) | paper protocol | 120.0 | 20.0 |",
        "| RepViT-SAM | Core ML, Apple M3, ALL, fp32 (measured) | paper protocol | 30.0 | 8.0 |",
    ]  # fmt: skip
    assert "| MobileSAM | MacBook M1 Pro, Core ML (paper) | the paper's measurement | <u>482.2</u> |  |" in rows


def test_the_mac_timing_names_what_it_lacks(tmp_path, capsys):
    assert coreml_latency_script().main(["--model", "repvit", "--out", str(tmp_path), "--runs", "0"]) == 2
    err = capsys.readouterr().err
    command = f"`python run_eval.py --task latency --model repvit --export coreml --out {tmp_path}`"
    for name in ("image_encoder", "mask_decoder"):
        assert f"{tmp_path}/latency/coreml/repvit/{name}.mlpackage is missing: make it with {command}" in err
    assert "--runs must be at least 1" in err
    assert ("Core ML runs only on macOS" in err) is (sys.platform != "darwin")


def test_an_untrained_core_ml_run_gets_no_paper_value(tmp_path):
    (tmp_path / "latency").mkdir()
    (tmp_path / "latency" / "mobilesam.coreml-all.fp16.json").write_text(
        json.dumps(mac_result("mobilesam", 500.0, 12.0, trained=False)))
    (row,) = [row for row in latency_rows(tmp_path) if "(measured)" in row]
    assert row == "| MobileSAM | Core ML, Apple M1 Pro, ALL, fp16 (measured) | ⚠ untrained weights | 500.0 | 12.0 |"


# --- the real families (slow: a RepViT-SAM or MobileSAM encoder takes a minute or more to convert here) ------------
@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp16", "fp32"])
@pytest.mark.parametrize("name", ["repvit", "mobilesam"])
def test_families_export_with_the_reference_layout(name, precision, tmp_path):
    from models import load_prompt_model

    report = export_and_check(load_prompt_model(name, untrained=True), tmp_path, precision)
    assert_reference_layout(report, precision)
    assert report["fused"] is (True if name == "repvit" else False)


@pytest.mark.slow
def test_latency_command_writes_and_records_the_packages(tmp_path):
    argv = ["--task", "latency", "--model", "mobilesam", "--untrained", "--export", "coreml", "--runs", "1",
            "--warmup", "0", "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    directory = tmp_path / "latency" / "coreml" / "mobilesam"
    results = json.loads((tmp_path / "latency" / "mobilesam.json").read_text())
    coreml = results["metrics"]["coreml"]
    assert coreml["image_encoder"] == str(directory / "image_encoder.mlpackage")
    assert coreml["mask_decoder"] == str(directory / "mask_decoder.mlpackage")
    assert results["provenance"]["protocol"]["coreml_precision"] == "fp16"
    assert_reference_layout(coreml, "fp16")
