"""Nested parameter groups (evals/params.py `Params`): typed, recorded as before, read back, unknown names refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals import cli
from evals.errors import UsageError
from evals.interactive.edgesam_params import EdgeSamParams
from evals.interactive.task import InteractiveParams
from evals.mvtec.saa_prompts import category_prompts
from evals.mvtec.task import SAMPLE_CATEGORIES, SAMPLE_PROMPTS, MVTecParams, PromptCacheIdentity, mvtec_params
from evals.protocols.amg import AMG_DEFAULTS, AmgParams
from evals.params import FileIdentity
from evals.registry import task_class
from evals.seginw.task import SegInWParams
from evals.sod.task import SodParams, sod_params
from evals.trackers import CoTrackerSettings, LkSettings, PipsSettings, TrackerSettings, tracker_params
from evals.uvo.task import UvoParams, UvoTask

BASELINE = Path(__file__).parent / "data" / "regression_baseline"


def json_round_trip(value: dict) -> dict:
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("params", [
    AmgParams(points_per_side=8, pred_iou_thresh=0.5),
    LkSettings(),
    PipsSettings(checkpoint="weights/pips/reference_model/model-000200000.pth", checkpoint_sha256="ab" * 32),
    CoTrackerSettings(checkpoint="weights/cotracker/cotracker_stride_4_wind_8.pth", checkpoint_sha256=None),
    category_prompts("metal_nut"),
    PromptCacheIdentity(identity_sha256="cd" * 32, trained=False, protocol={"box_threshold": 0.1}),
    EdgeSamParams(prompt="box", num_multimask_outputs=3, multimask_select="oracle", seed=5),
], ids=lambda params: type(params).__name__)  # fmt: skip
def test_nested_params_read_back_from_their_record(params):
    recorded = json_round_trip(params.to_dict())
    assert type(params).from_dict(recorded) == params
    if isinstance(params, TrackerSettings):  # the record names its tracker: read as that tracker's settings
        assert TrackerSettings.from_dict(recorded) == params


def test_task_params_with_nested_groups_read_back_typed():
    cases = [
        (sod_params(amg={"points_per_side": 4}), "amg", AmgParams),
        (UvoTask.sam_pt_params("lk", amg_points_per_side=8), "tracker", LkSettings),
        (UvoTask.sam_pt_params("cotracker", require_weights=False), "tracker", CoTrackerSettings),
        (mvtec_params(categories=SAMPLE_CATEGORIES, prompt_dir=SAMPLE_PROMPTS), "prompt_cache", PromptCacheIdentity),
        (InteractiveParams(protocol="edgesam", edgesam=EdgeSamParams()), "edgesam", EdgeSamParams),
    ]
    for params, field, kind in cases:
        back = type(params).from_dict(json_round_trip(params.to_dict()))
        assert back == params and type(getattr(back, field)) is kind, field
    prompts = MVTecParams.from_dict(json_round_trip(cases[3][0].to_dict())).prompts
    assert list(prompts) == list(SAMPLE_CATEGORIES) and prompts["tile"] == category_prompts("tile")


def test_seginw_files_read_back_as_file_identities():
    files = {"Airplane-Parts": FileIdentity(file="boxes/Airplane-Parts.json", sha256="ef" * 32),
             "Bottles": FileIdentity(file="boxes/Bottles.json", sha256=None)}  # fmt: skip
    params = SegInWParams(datasets=tuple(files), boxes_dir="boxes", boxes_files=files,
                          boxes_detector={"Airplane-Parts": {"sha256": "ef" * 32}, "Bottles": None})  # fmt: skip
    recorded = json_round_trip(params.to_dict())
    assert recorded["boxes_files"]["Bottles"] == {"file": "boxes/Bottles.json", "sha256": None}  # as before typing
    back = SegInWParams.from_dict(recorded)
    assert back == params and type(back.boxes_files["Bottles"]) is FileIdentity


def test_nested_groups_record_the_dicts_results_hold():
    """The record of a nested group is the dict results held before it was typed: stores keep their fingerprint."""
    sod = json.loads((BASELINE / "sod" / "repvit.oracle-amg4.json").read_text())["provenance"]["protocol"]
    assert sod_params(amg={"points_per_side": 4}).to_dict()["amg"] == sod["amg"]
    assert SodParams().to_dict()["amg"] == AMG_DEFAULTS
    uvo = json.loads((BASELINE / "uvo" / "repvit.lk.amg8.json").read_text())["provenance"]["protocol"]
    recorded = UvoTask.sam_pt_params("lk", amg_points_per_side=8).to_dict()
    assert recorded["amg"] == uvo["amg"]
    prose = {"method", "lost_points"}  # written by older versions, now protocol notes
    assert recorded["tracker"] == {k: v for k, v in uvo["tracker"].items() if k not in prose} | {
        "opencv": recorded["tracker"]["opencv"]}
    mvtec = json.loads((BASELINE / "mvtec" / "repvit.tile+bottle-untrained-prompts.json").read_text())
    rebuilt = task_class("mvtec").from_recorded(mvtec["provenance"]["protocol"]).params.to_dict()
    assert rebuilt["prompts"] == mvtec["provenance"]["protocol"]["prompts"]
    assert rebuilt["prompt_cache"] == mvtec["provenance"]["protocol"]["prompt_cache"]
    assert EdgeSamParams().to_dict() == {"prompt": "point", "point_from": "mask-center", "refine_iter": 3,
                                         "num_multimask_outputs": 1, "multimask_select": "score", "seed": 0,
                                         "max_prompts": -1}  # fmt: skip
    assert "edgesam" not in InteractiveParams().to_dict()  # an unused group left at None is not written
    assert "tracker" not in UvoParams(masks_from="predictions", predictions="x.json").to_dict()


def test_an_unknown_name_is_refused_with_the_allowed_ones():
    with pytest.raises(UsageError, match=r"^AmgParams: unknown parameter 'points'; allowed: points_per_side, "
                                         r"points_per_batch, .*, output_mode$"):  # fmt: skip
        AmgParams().replace(points=3)
    with pytest.raises(UsageError, match=r"LkSettings: unknown parameters 'window', 'levels'; allowed: tracker, "):
        tracker_params("lk").replace(window=21, levels=3)
    with pytest.raises(ValueError, match="name the tracker 'raft'; known: "):
        TrackerSettings.from_dict({"tracker": "raft"})


def test_a_bad_nested_value_from_the_command_line_exits_2(capsys):
    argv = ["--task", "interactive", "--model", "repvit", "--interactive-protocol", "edgesam", "--prompt-types",
            "point", "--edgesam-refine-iter", "0"]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "--edgesam-refine-iter) must be at least 1; got 0" in err and "Traceback" not in err
