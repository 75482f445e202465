"""``h2h``: the command line, generated from the node specs plus a few utility commands.

Every node in :data:`h2h_engine.nodes.SPECS` becomes ``h2h <node>`` with its inputs as positional
arguments or flags, ``-o`` for its output and one ``--flag`` per knob. Errors the engine raises on bad input
(:class:`~h2h_engine.errors.H2HError`) print one line and exit with status 2; the system's failures (disk
full, out of memory, Ctrl-C, a closed pipe) also end as one line (:func:`~h2h_engine.errors.report_errors`).
The global options (``--progress``, ``--print-result``) go before or after the command, trainer's included.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Sequence

from .errors import report_errors
from .hosts.ffmpeg_filter import add_filter_command
from .nodes import SPECS
from .nodes.spec import Knob, NodeSpec, stderr_json_progress


class _Bar:
    """tqdm progress bar driven by node progress callbacks."""

    def __init__(self) -> None:
        self.bar = None

    def __call__(self, done: int, total: int, what: str = "") -> None:
        from tqdm import tqdm  # noqa: PLC0415 - only the CLI draws bars

        if self.bar is None or self.bar.desc != what:
            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(total=total, desc=what, dynamic_ncols=True)
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()
        if done >= total:  # a finished stage closes its bar, so later stages (e.g. training) draw below it
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _help(text: str) -> str:
    """Spec help as argparse help: argparse %-formats help strings, so patterns like %04d are escaped."""
    return text.replace("%", "%%")


def _add_knob(p: argparse.ArgumentParser, knob: Knob) -> None:
    help_text = _help(knob.help + (f" (default: {knob.default})" if knob.default not in (None, "") else ""))
    if knob.type == "bool":
        p.add_argument(knob.flag, dest=knob.name, action=argparse.BooleanOptionalAction, default=None,
                       help=help_text)
    else:
        metavar = {"frames": "A-B", "size": "WxH"}.get(knob.type)
        p.add_argument(knob.flag, dest=knob.name, default=None, metavar=metavar, help=help_text,
                       choices=knob.choices if knob.type == "choice" else None)


def _add_node(sub: Any, spec: NodeSpec) -> None:
    p = sub.add_parser(spec.cli_name, help=_help(spec.help.splitlines()[0]), description=_help(spec.help))
    for port in spec.inputs:
        if port.flag is None:
            p.add_argument(port.name, help=_help(port.help), nargs="?" if port.optional else None)
        else:
            p.add_argument(port.flag, dest=port.name, required=not port.optional, help=_help(port.help))
    for port in spec.outputs:
        p.add_argument(*(["-o", "--output"] if port.flag in (None, "-o") else [port.flag]), dest=port.name,
                       required=not port.optional, help=_help(port.help))
    for knob in spec.knobs:
        _add_knob(p, knob)
    p.set_defaults(_spec=spec)


def _run_node(args: argparse.Namespace) -> int:
    spec: NodeSpec = args._spec
    names = {p.name for p in spec.inputs + spec.outputs} | {k.name for k in spec.knobs}
    values = {k: v for k, v in vars(args).items() if k in names and v is not None}
    bar = _Bar() if args.progress == "bar" else None
    progress: Callable[[int, int, str], None] | None = (
        bar if bar is not None else stderr_json_progress if args.progress == "json" else None)
    try:
        result = spec(progress=progress, **values)
    finally:
        if bar is not None:
            bar.close()
    if result is not None and args.print_result:
        print(json.dumps(result, indent=2, default=str))
    return 0


def _cmd_model_import_ict(args: argparse.Namespace) -> int:
    from .morphable import import_ict  # noqa: PLC0415

    model = import_ict(args.src)
    model.save(args.output)
    print(f"{args.output}: {model.name}, {model.n_vertices} vertices, {model.n_id} identity modes, "
          f"{model.n_exp} expressions, {len(model.triangles)} triangles (digest {model.digest})")
    return 0


def _cmd_specs(args: argparse.Namespace) -> int:
    print(json.dumps({name: spec.to_json() for name, spec in SPECS.items()}, indent=1))
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .nodes.track import summarize  # noqa: PLC0415
    from .track import Track  # noqa: PLC0415

    info = summarize(Track.load(args.track))
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k:>20}: {v}")
    return 0


# Commands served by the trainer package (``training/``), which the engine itself never imports: the CLI
# hands the rest of the command line to ``training.cli``.
TRAINER_COMMANDS = {
    "train": ("main_train", "train the Head2Head GAN on one target shot (h2h train --help)"),
    "eval": ("main_eval", "evaluate: h2h eval self-reenactment RUN_DIR | h2h eval reenactment RESULT --driving "
                          "TRACK --target TRACK | h2h eval cycle RUN_X RUN_Y -o DIR | h2h eval ablate TARGET "
                          "--track TRACK --preset P -o DIR"),
    "export-generator": ("main_export", "write a checkpoint's generator as TorchScript"),
}


# ``h2h eval KIND``: the trainer's function per kind of evaluation.
EVAL_COMMANDS = {"self-reenactment": "main_eval", "reenactment": "main_eval_reenactment",
                 "cycle": "main_eval_cycle", "ablate": "main_eval_ablate"}


def _run_trainer_command(argv: Sequence[str], progress: str) -> int:
    import importlib  # noqa: PLC0415

    name, rest = argv[0], list(argv[1:])
    function = TRAINER_COMMANDS[name][0]
    if name == "eval":
        if not rest or rest[0] not in EVAL_COMMANDS:
            print("h2h: error: usage: h2h eval self-reenactment RUN_DIR [--json] | h2h eval reenactment RESULT "
                  "--driving TRACK --target TRACK [--json] [--report DIR] | h2h eval cycle RUN_X RUN_Y -o DIR | "
                  "h2h eval ablate TARGET --track TRACK --preset P -o DIR [--steps N]", file=sys.stderr)
            return 2
        function, rest = EVAL_COMMANDS[rest[0]], rest[1:]
    if name == "train" and progress != "bar" and "--no-progress" not in rest:
        rest.append("--no-progress")  # the trainer draws a bar or nothing
    try:
        cli = importlib.import_module("training.cli")
    except ImportError:
        print("h2h: error: the trainer package `training` is not installed (pip install -e . from the repository)",
              file=sys.stderr)
        return 2
    return getattr(cli, function)(rest)


_GLOBAL_OPTIONS = {"--progress": True, "--print-result": False}  # option -> takes a value


def hoist_global_options(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(global options, the rest)``: the global options wherever they were given (``h2h train ...
    --progress none`` as ``h2h --progress none train ...``); nothing after ``--`` is touched."""
    front: list[str] = []
    rest: list[str] = []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--":
            rest += [a, *args]
            break
        name = a.split("=", 1)[0]
        if name in _GLOBAL_OPTIONS:
            front.append(a)
            if _GLOBAL_OPTIONS[name] and "=" not in a and args:
                front.append(args.pop(0))
        else:
            rest.append(a)
    return front, rest


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="h2h", description="head2head: video-based neural head synthesis")
    parser.add_argument("--progress", choices=("bar", "json", "none"), default="bar",
                        help="progress display: a bar, JSON lines on stderr (for hosts), or none")
    parser.add_argument("--print-result", action="store_true", help="print the node's result as JSON")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for spec in SPECS.values():
        _add_node(sub, spec)

    for name, (_, help_text) in TRAINER_COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)

    info = sub.add_parser("info", help="summarise a track file: frames, faces, reprojection error, NME")
    info.add_argument("track", help="track file (.h2h.npz)")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(_func=_cmd_info)

    model = sub.add_parser("model", help="import and inspect morphable models")
    msub = model.add_subparsers(dest="model_command", required=True)
    imp = msub.add_parser("import-ict", help="convert the ICT Face Model Light (folder or FaceXModel.tar.xz)")
    imp.add_argument("src", help="FaceXModel/ folder or FaceXModel.tar.xz")
    imp.add_argument("-o", "--output", required=True, help="model file to write (.h2hmm.npz)")
    imp.set_defaults(_func=_cmd_model_import_ict)

    add_filter_command(sub, _add_knob)

    specs = sub.add_parser("specs", help="print every node spec as JSON (what host plugins build their UI from)")
    specs.set_defaults(_func=_cmd_specs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    front, rest = hoist_global_options(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if rest and rest[0] in TRAINER_COMMANDS:
        options = parser.parse_args([*front, rest[0]])
        return report_errors(lambda: _run_trainer_command(rest, options.progress))
    args = parser.parse_args([*front, *rest])
    return report_errors(lambda: _run_node(args) if hasattr(args, "_spec") else args._func(args))


if __name__ == "__main__":
    sys.exit(main())
