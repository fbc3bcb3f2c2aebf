"""Every file a user supplies is unpickled safely: each `torch.load` in the suite passes `weights_only=True` (never
left to torch's default, which an environment variable turns off) and each `np.load` passes `allow_pickle=False`."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAFE = {("torch", "load"): ("weights_only", True), ("np", "load"): ("allow_pickle", False)}


def loads(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            key = (node.func.value.id, node.func.attr)
            if key in SAFE:
                yield key, node


def test_every_load_refuses_pickled_code():
    unsafe, seen = [], 0
    for path in sorted([*ROOT.glob("evals/**/*.py"), *ROOT.glob("models/**/*.py"), *ROOT.glob("app/**/*.py")]):
        for key, call in loads(ast.parse(path.read_text())):
            seen += 1
            name, value = SAFE[key]
            given = {k.arg: k.value for k in call.keywords}
            if not (name in given and isinstance(given[name], ast.Constant) and given[name].value is value):
                unsafe.append(f"{path.relative_to(ROOT)}:{call.lineno} {'.'.join(key)} without {name}={value}")
    assert seen >= 5  # the checkpoint loader, tracker and saliency weights, stored predictions, prediction files
    assert unsafe == []
