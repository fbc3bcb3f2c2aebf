"""The paper-format tables: row order, best bold / second underlined, paper values and differences, flags."""
from __future__ import annotations

import json

from evals.base import Column
from evals.tables import rank_marks, render_model_rows, render_tables


def result(model: str, display: str, metrics: dict, trained: bool = True, samples: int = 200) -> dict:
    return {
        "metrics": metrics,
        "provenance": {
            "model": {"model": model, "display": display, "trained": trained, "backend": "eager"},
            "dataset": {"num_samples": samples, "num_samples_available": 200},
            "host": {"device": "cpu", "device_name": "Test CPU"},
        },
    }


ODS = Column("ODS", "ODS", "Edges", {"vit_h": 0.768, "repvit": 0.764, "vit_b": 0.743}, digits=3)
MAE = Column("MAE", "MAE", "Edges", {"vit_h": 0.046, "repvit": 0.066}, higher_is_better=False, digits=3)


def test_rank_marks_handle_direction_and_ties():
    assert rank_marks({"a": 1.0, "b": 3.0, "c": 2.0, "d": None}, True) == {"b": "best", "c": "second"}
    assert rank_marks({"a": 1.0, "b": 3.0, "c": 1.0}, False) == {"a": "best", "c": "best", "b": "second"}


def test_model_rows_in_paper_order_with_marks_and_paper_values():
    results = {
        "bsds": {
            "repvit": result("repvit", "RepViT-SAM", {"ODS": 0.760, "MAE": 0.07}),
            "vit_h": result("vit_h", "ViT-H-SAM", {"ODS": 0.770, "MAE": 0.05}),
            "mine": result("mine", "mine", {"ODS": 0.700, "MAE": 0.2}, trained=False, samples=2),
            "vit_b": result("vit_b", "ViT-B-SAM", {"ODS": 0.743}),
        }
    }
    table = render_model_rows("Edges", [("bsds", ODS), ("bsds", MAE)], results).splitlines()
    rows = [line for line in table if line.startswith("| ") and "Model" not in line]
    assert [r.split(" | ")[0] for r in rows] == [
        "| ViT-H-SAM", "| ViT-B-SAM", "| RepViT-SAM", "| mine ⚠ UNTRAINED WEIGHTS (2/200 samples)",
    ]  # fmt: skip
    assert "**0.770** (0.768, +0.002)" in rows[0] and "**0.050** (0.046, +0.004)" in rows[0]
    assert "<u>0.760</u> (0.764, -0.004)" in rows[2] and "<u>0.070</u> (0.066, +0.004)" in rows[2]
    assert rows[1].endswith("|  |")  # ViT-B has no MAE: an empty cell


def test_render_tables_reads_results_folder_and_skips_foreign_json(tmp_path):
    (tmp_path / "latency").mkdir()
    latency = result("repvit", "RepViT-SAM", {"encoder_ms": 1234.5, "decoder_ms": 9.5})
    (tmp_path / "latency" / "repvit.json").write_text(json.dumps(latency))
    (tmp_path / "latency" / "notes.json").write_text("[1, 2]")
    (tmp_path / "latency" / "broken.json").write_text("{")
    text = render_tables(tmp_path)
    assert "| Test CPU (cpu, eager, fp32, measured) |  |  |  | **1234.5** | 9.5 |" in text
    assert "| MacBook M1 Pro (paper, Core ML) |  | 6249.5 | <u>482.2</u> | **44.8** | 11.8 |" in text
