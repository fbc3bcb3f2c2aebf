#!/usr/bin/env python
"""The interactive demo: `python app/app.py [--models repvit,mobilesam] [--device cuda] [--port N] [--untrained]`.

The model names, `--checkpoint` and `--port` are checked before torch, a model or Gradio is loaded (the device right
after torch), with the command line's own checks (evals/cli.py): a typo answers "did you mean"; every such problem
is exit status 2 and one message, no traceback. A model whose checkpoint is missing shows where to get it in its
panel (or runs untrained with `--untrained`); the others work. The page is served on 127.0.0.1 only, unless
`--share` asks Gradio for a public link.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

if __name__ == "__main__":  # `python app/app.py` puts app/ first on sys.path, where `import app` would find this file
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import socket

from evals.cli import Parser, check_device, check_model_name
from evals.errors import UsageError
from models.errors import SamzeroError
from models.registry import load_plugins

DEFAULT_MODELS = "repvit,mobilesam"
DEFAULT_PORT = 7860


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="app/app.py", description="Interactive demo: the same prompts to several SAM-family models, "
                                                   "their masks side by side.")  # fmt: skip
    parser.add_argument("--models", default=DEFAULT_MODELS, metavar="M[,M...]",
                        help=f"models side by side, comma-separated (python run_eval.py --list-models lists them; "
                             f"default: {DEFAULT_MODELS})")  # fmt: skip
    parser.add_argument("--model-module", action="append", default=[], metavar="MODULE",
                        help="import MODULE, a plug-in model family, before resolving --models (repeatable)")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="MODEL=PATH",
                        help="checkpoint file of one model (repeatable; default: weights/<official file name>)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default: {DEFAULT_PORT})")
    parser.add_argument("--untrained", action="store_true",
                        help="a model whose checkpoint is missing runs with untrained weights (its panel says so) "
                             "instead of showing where to get the file")  # fmt: skip
    parser.add_argument("--share", action="store_true",
                        help="also ask Gradio for a public share link (without it: 127.0.0.1 only)")
    return parser


def model_names(args: argparse.Namespace) -> list[str]:
    """The --models names, each checked as run_eval.py checks --model (plug-ins loaded first)."""
    if args.model_module:
        load_plugins(tuple(args.model_module))
    names = list(dict.fromkeys(name.strip() for name in args.models.split(",") if name.strip()))
    if not names:
        raise UsageError("--models names no model")
    for name in names:
        check_model_name(argparse.Namespace(model=name, predictions=None))
    return names


def checkpoints(args: argparse.Namespace, names: list[str]) -> dict[str, Path]:
    """--checkpoint MODEL=PATH, each for a model of --models and an existing file."""
    chosen, problems = {}, []
    for spec in args.checkpoint:
        name, equals, path = spec.partition("=")
        if not equals or not path:
            problems.append(f"--checkpoint {spec!r}: expected MODEL=PATH")
        elif name not in names:
            problems.append(f"--checkpoint {spec!r}: {name!r} is not one of --models ({', '.join(names)})")
        elif not Path(path).is_file():
            problems.append(f"--checkpoint {spec!r}: {path} not found")
        else:
            chosen[name] = Path(path)
    if problems:
        raise UsageError("; ".join(problems))
    return chosen


def check_port(port: int) -> None:
    """The port can be served on (before minutes of loading find out it cannot)."""
    if not 0 < port < 65536:
        raise UsageError(f"--port {port}: not a port number (1-65535)")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a just-stopped demo's port
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as err:
            raise UsageError(f"--port {port}: cannot serve there ({err.strerror or err}); pick another port") from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        names = model_names(args)
        paths = checkpoints(args, names)
        check_port(args.port)
        check_device(argparse.Namespace(device=args.device, task=None, predictions=None))
        from app.panels import load_slot

        slots = []
        for name in names:
            loading = time.perf_counter()
            slot = load_slot(name, args.device, untrained=args.untrained, checkpoint=paths.get(name))
            state = slot.problem or ("untrained weights" if slot.untrained else "trained weights")
            print(f"{name}: {state} ({time.perf_counter() - loading:.1f} s)", file=sys.stderr)
            slots.append(slot)
        from app.ui import build_page, launch

        demo = build_page(slots, args.device)
    except SamzeroError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        launch(demo, args.port, args.share)
    except OSError as err:  # the port was taken while the models loaded
        print(f"error: --port {args.port}: cannot serve there ({err}); pick another port", file=sys.stderr)
        return 2
    print(f"page ready {time.perf_counter() - started:.1f} s after start", file=sys.stderr)
    demo.block_thread()  # until Ctrl-C, which closes the server
    return 0


if __name__ == "__main__":
    sys.exit(main())
