"""Task registry: a `--task` name -> the module whose `TASK` is the plugin class.

Adding a task is its own folder under evals/ plus one line here. `None` marks a task whose plugin has not
landed yet: asking for it is an error that says so.
"""
from __future__ import annotations

import importlib

from .base import Task
from .errors import UsageError

# In the order of the paper's tables.
TASKS: dict[str, str | None] = {
    "latency": "evals.latency",
    "bsds": "evals.bsds",
    "coco": "evals.coco",
    "seginw": "evals.seginw",
    "davis": "evals.davis",
    "uvo": "evals.uvo",
    "sod": "evals.sod",
    "mvtec": "evals.mvtec",
    "interactive": "evals.interactive",
}


class TaskNotAvailable(UsageError):
    """A --task name without a plugin."""


def task_class(name: str) -> type[Task]:
    if name not in TASKS:
        raise TaskNotAvailable(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    module = TASKS[name]
    if module is None:
        raise TaskNotAvailable(f"task {name!r} has not landed in this version of the suite yet")
    return importlib.import_module(module).TASK


def available_tasks() -> list[str]:
    return [name for name, module in TASKS.items() if module is not None]
