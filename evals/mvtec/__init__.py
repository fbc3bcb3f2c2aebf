"""MVTec AD zero-shot anomaly segmentation with SAA+'s hybrid prompts (`--task mvtec`, `--detect mvtec`).

task.py is the plugin; protocol.py and saa_prompts.py hold the reference's settings with their sources;
detect.py (Grounding DINO: grounding.py, proposals.py; saliency.py) fills the prompt cache (prompt_cache.py) that
anomaly_map.py turns into maps with a SAM model; evaluator.py and ranking_metrics.py score them.

`TASK` is imported on first use: `evals.mvtec.ranking_metrics` (the exact F1-max / AUROC / AP) needs numpy only.
"""


def __getattr__(name: str):
    if name == "TASK":
        from .task import MVTecTask

        return MVTecTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TASK"]
