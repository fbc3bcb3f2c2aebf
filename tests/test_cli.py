"""run_eval.py's command line: errors that say what to do, and the latency task end to end on a fast model."""
from __future__ import annotations

import json

import pytest

from evals import cli
from evals.engine import Run, execute
from evals.latency.task import LatencyTask
from evals.tables import write_tables
from tests.fakes import toy_prompt_model


def test_task_that_has_not_landed_exits_nonzero(capsys, monkeypatch):
    from evals import registry

    monkeypatch.setitem(registry.TASKS, "uvo", None)  # as a registry entry reads before its plugin lands
    assert cli.main(["--task", "uvo", "--model", "repvit", "--untrained"]) == 2
    assert "has not landed" in capsys.readouterr().err


def test_missing_checkpoint_names_file_and_url(tmp_path, capsys):
    code = cli.main(["--task", "latency", "--model", "vit_b", "--checkpoint", str(tmp_path / "x.pth"), "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "x.pth" in err and "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth" in err


def test_unknown_model_is_an_error(capsys):
    assert cli.main(["--task", "latency", "--model", "sam2"]) == 2
    assert "unknown model 'sam2'" in capsys.readouterr().err


def test_latency_task_writes_results_and_tables(tmp_path):
    params = LatencyTask.params_from_args(cli.build_parser().parse_args(["--runs", "3", "--warmup", "1", "--out", str(tmp_path)]))
    results = execute(Run(task=LatencyTask(params), run_name="repvit", out=tmp_path, data_root=tmp_path), toy_prompt_model())
    metrics = results["metrics"]
    assert metrics["encoder"]["runs"] == 3 and metrics["decoder"]["runs"] == 30
    assert metrics["encoder"]["min_ms"] <= metrics["encoder_ms"] <= metrics["encoder"]["max_ms"]
    assert metrics["encoder"]["encoder_input_shape"] == [1, 3, 1024, 1024]
    assert json.loads((tmp_path / "latency" / "repvit.json").read_text())["metrics"]["encoder_ms"] == metrics["encoder_ms"]
    assert "(cpu, eager, fp32, measured)" in write_tables(tmp_path).read_text()


@pytest.mark.parametrize("argv,message", [([], "give --task"), (["--task", "latency"], "--task needs --model")])
def test_incomplete_command_lines_are_usage_errors(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("precision", ["fp16", "bf16x3"])
def test_cuda_precision_on_cpu_fails_before_the_model_loads(precision, tmp_path, capsys, monkeypatch):
    import models.loading

    monkeypatch.setattr(models.loading, "build_model", lambda *a, **k: pytest.fail("the model was built before the check"))
    code = cli.main(["--task", "latency", "--model", "repvit", "--untrained", "--precision", precision, "--out", str(tmp_path)])
    assert code == 2
    assert f"--precision {precision} needs a CUDA device" in capsys.readouterr().err


def test_run_name_records_backend_and_precision():
    from evals.engine import run_name

    task = LatencyTask()
    assert run_name("repvit", task) == "repvit"
    assert run_name("repvit", task, "channels_last", "bf16") == "repvit.channels_last.bf16"


def test_console_messages_are_rank_aware(monkeypatch, capsys):
    """Under torchrun, rank 0 says everything; other ranks only warnings and errors, marked with their rank."""
    from evals.log import setup

    try:
        monkeypatch.setenv("RANK", "1")
        logger = setup()
        logger.info("progress")
        logger.warning("stored predictions are predicted again")
        assert capsys.readouterr().err == "[rank 1] stored predictions are predicted again\n"
        monkeypatch.setenv("RANK", "0")
        setup().info("progress")
        assert capsys.readouterr().err == "progress\n"
    finally:
        monkeypatch.delenv("RANK")
        setup()
