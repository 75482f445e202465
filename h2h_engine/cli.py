"""``h2h``: the command line, generated from the node specs plus a few utility commands.

Every node in :data:`h2h_engine.nodes.SPECS` becomes ``h2h <node>`` with its inputs as positional
arguments or flags, ``-o`` for its output and one ``--flag`` per knob. Errors the engine raises on bad input
(:class:`~h2h_engine.errors.H2HError`) print one line and exit with status 2; the system's failures (disk
full, out of memory, Ctrl-C, a closed pipe) also end as one line (:func:`~h2h_engine.errors.report_errors`).
The global options (``--progress bar|json|plain|none``, ``--no-progress`` = ``--progress none``, ``--json``) go
before or after the command, the trainer's included; ``--json`` is the one spelling of machine-readable output
on stdout for every command. ``python -m h2h_engine ...`` is ``h2h ...`` (what ``torchrun -m`` launches).
"""
from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import shutil
import sys
from typing import Any, Callable, Sequence

from . import __version__
from .errors import ConfigError, InputError, report_errors
from .hosts.ffmpeg_filter import add_filter_command
from .io.atomic import atomic_path
from .io.frames import is_pattern, parse_frame_range
from .io.outputs import claim_output
from .nodes import SPECS
from .nodes.spec import PROGRESS_LINES, Knob, NodeSpec


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
    help_text = _help(knob.help + (f" (default: {knob.default})" if knob.default not in (None, "", ()) else ""))
    if knob.type == "bool":
        p.add_argument(knob.flag, dest=knob.name, action=argparse.BooleanOptionalAction, default=None,
                       help=help_text)
    elif knob.type == "list":
        p.add_argument(knob.flag, dest=knob.name, action="append", default=None, metavar="VALUE", help=help_text)
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


def node_argv(spec: NodeSpec, values: dict[str, Any]) -> list[str]:
    """The command line of ``spec`` with ``values`` (as :func:`_add_node`'s parser gives them: strings, bools
    for bool knobs), which that parser reads back into the same values."""
    argv = [spec.cli_name]
    for port in spec.inputs:
        if port.name in values:
            argv += [str(values[port.name])] if port.flag is None else [port.flag, str(values[port.name])]
    for port in spec.outputs:
        if port.name in values:
            argv += ["-o" if port.flag in (None, "-o") else port.flag, str(values[port.name])]
    for knob in spec.knobs:
        if knob.name in values:
            v = values[knob.name]
            if knob.type == "bool":
                argv.append(knob.flag if v else "--no-" + knob.flag[2:])
            elif knob.type == "list":
                argv += [a for item in v for a in (knob.flag, str(item))]
            else:
                argv += [knob.flag, str(v)]
    return argv


def _node_values(args: argparse.Namespace) -> dict[str, Any]:
    """The inputs, outputs and knobs given to a node command (absent ones left out)."""
    spec: NodeSpec = args._spec
    names = {p.name for p in spec.inputs + spec.outputs} | {k.name for k in spec.knobs}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


def _run_node(args: argparse.Namespace) -> int:
    spec: NodeSpec = args._spec
    bar = _Bar() if args.progress == "bar" else None
    progress: Callable[[int, int, str], None] | None = bar if bar is not None else PROGRESS_LINES.get(args.progress)
    try:
        result = spec(progress=progress, **_node_values(args))
    finally:
        if bar is not None:
            bar.close()
    if result is not None and args.json:
        print(json.dumps(result, indent=2, default=str))
    return 0


def _cmd_model_import_ict(args: argparse.Namespace) -> int:
    from .morphable import import_ict  # noqa: PLC0415

    model = import_ict(args.src)
    model.save(args.output)
    info = {"output": args.output, "name": model.name, "vertices": model.n_vertices, "identity_modes": model.n_id,
            "expressions": model.n_exp, "triangles": len(model.triangles), "digest": model.digest}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
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


_SUBMIT_HELP = """Farm a node command over --frames in tasks of --chunk frames: h2h submit --frames 1001-1100 \
--chunk 10 --deadline job/ --opencue job.xml -- synthesize --checkpoint C --track T --plate P -o comp.####.exr.
Deadline: deadlinecommand job/job_info.job job/plugin_info.job (CommandLine plugin); OpenCue:
opencue.api.launchSpec on the XML. Every task runs h2h --progress plain NODE ... --frames A-B with absolute
paths; the output must be a frame sequence (tasks write their own frames; movies and tracks cannot be chunked)."""


def _default_executable() -> str:
    """This installation's ``h2h`` (beside the running Python, else on PATH), as an absolute path."""
    here = os.path.join(os.path.dirname(sys.executable), "h2h")
    found = here if os.access(here, os.X_OK) else shutil.which("h2h")
    if found is None:
        raise InputError("h2h submit: no h2h executable beside this Python or on PATH; pass --executable")
    return os.path.abspath(found)


def _cmd_submit(args: argparse.Namespace) -> int:
    from .hosts.farm import FarmJob, absolute_paths, chunk_ranges  # noqa: PLC0415

    _, command = hoist_global_options(args.node_command[1:] if args.node_command[:1] == ["--"] else args.node_command)
    nodes = ", ".join(spec.cli_name for spec in SPECS.values())
    if not command or command[0] not in {spec.cli_name for spec in SPECS.values()}:
        raise ConfigError(f"h2h submit needs a node command after -- (one of {nodes}); got {' '.join(command)!r}")
    if args.deadline is None and args.opencue is None:
        raise ConfigError("h2h submit writes nothing without --deadline DIR and/or --opencue FILE")
    node = build_parser().parse_args(command)
    spec: NodeSpec = node._spec
    values = _node_values(node)
    if "frames" in values:
        raise ConfigError("drop --frames from the node command: h2h submit sets each task's from --frames/--chunk")
    frames = parse_frame_range(args.frames)
    tasks = chunk_ranges(frames, args.chunk)
    spec.validate({**values, "frames": frames})  # bad knob values fail here, not on every task of the farm
    outputs = [values[p.name] for p in spec.outputs if p.name in values]
    for out in outputs:
        if not is_pattern(out):
            raise ConfigError(f"output {out} is not a frame sequence: farm tasks each write their frames of one "
                              "sequence (movies and tracks cannot be chunked; farm out.####.exr, then encode)")
    paths = [p.name for p in spec.inputs + spec.outputs] + [k.name for k in spec.knobs if k.type == "path"]
    values = absolute_paths(values, paths)
    name = args.name or f"h2h {spec.cli_name}"
    job = FarmJob(name, args.executable or _default_executable(), tuple(node_argv(spec, values)), frames, args.chunk)
    files: dict[str, str] = {}
    if args.deadline is not None:
        output = next((values[p.name] for p in spec.outputs if p.name in values), None)
        files.update({os.path.join(args.deadline, k): v for k, v in job.deadline_files(output).items()})
    if args.opencue is not None:
        files[args.opencue] = job.opencue_spec(args.show, args.shot or name, args.user or getpass.getuser())
    with contextlib.ExitStack() as claims:  # every file claimed before any is written
        for path in files:
            claims.enter_context(claim_output(path, force=args.force))
        for path, text in files.items():
            with atomic_path(path) as tmp:
                tmp.write_text(text)
    if args.json:
        print(json.dumps({"tasks": [list(t) for t in tasks], "files": list(files),
                          "commands": job.task_commands()}, indent=2))
    else:
        print(f"h2h submit: {len(tasks)} tasks of up to {args.chunk} frames over {frames[0]}-{frames[1]}; wrote "
              f"{', '.join(files)}")
    return 0


# Commands served by the trainer (``h2h_engine.training``, imported only when one of them runs; ``h2h train``
# is a node): the CLI hands the rest of the command line to ``h2h_engine.training.cli``.
TRAINER_COMMANDS = {
    "eval": ("main_eval", "evaluate: h2h eval self-reenactment RUN_DIR | h2h eval reenactment RESULT --driving "
                          "TRACK --target TRACK | h2h eval cycle RUN_X RUN_Y -o DIR | h2h eval ablate TARGET "
                          "--track TRACK --preset P -o DIR"),
    "export-generator": ("main_export", "write a checkpoint's generator as TorchScript or ONNX (G.onnx)"),
}


# ``h2h eval KIND``: the trainer's function per kind of evaluation.
EVAL_COMMANDS = {"self-reenactment": "main_eval", "reenactment": "main_eval_reenactment",
                 "cycle": "main_eval_cycle", "ablate": "main_eval_ablate"}


def _run_trainer_command(argv: Sequence[str], as_json: bool) -> int:
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
    if as_json:
        rest.append("--json")  # the global option, hoisted off the trainer's own arguments
    try:
        cli = importlib.import_module(f"{__package__}.training.cli")
    except ImportError as e:
        print(f"h2h: error: h2h {name} needs the trainer (h2h_engine.training), which cannot be imported here "
              f"({e}): install the engine from the repository (pip install -e '.[train]')", file=sys.stderr)
        return 2
    return getattr(cli, function)(rest)


_GLOBAL_OPTIONS = {"--progress": True, "--json": False, "--no-progress": False}  # option -> takes a value


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
        if name == "--no-progress":
            front += ["--progress", "none"]  # the spelling h2h train has long taken
        elif name in _GLOBAL_OPTIONS:
            front.append(a)
            if _GLOBAL_OPTIONS[name] and "=" not in a and args:
                front.append(args.pop(0))
        else:
            rest.append(a)
    return front, rest


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="h2h", description="head2head: video-based neural head synthesis")
    parser.add_argument("--version", action="version", version=f"h2h {__version__}")
    parser.add_argument("--progress", choices=("bar", "json", "plain", "none"), default="bar",
                        help="progress display: a bar, JSON lines on stderr (for hosts), 'PROGRESS: 42%%' lines on "
                        "stdout (Deadline, OpenCue), or none")
    parser.add_argument("--json", action="store_true", help="machine-readable output: the command's result as "
                        "JSON on stdout (any command, before or after it)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for spec in SPECS.values():
        _add_node(sub, spec)

    for name, (_, help_text) in TRAINER_COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)

    info = sub.add_parser("info", help="summarise a track file: frames, faces, reprojection error, NME")
    info.add_argument("track", help="track file (.h2h.npz)")
    info.set_defaults(_func=_cmd_info)

    model = sub.add_parser("model", help="import and inspect morphable models")
    msub = model.add_subparsers(dest="model_command", required=True)
    imp = msub.add_parser("import-ict", help="convert the ICT Face Model Light (folder or FaceXModel.tar.xz)")
    imp.add_argument("src", help="FaceXModel/ folder or FaceXModel.tar.xz")
    imp.add_argument("-o", "--output", required=True, help="model file to write (.h2hmm.npz)")
    imp.set_defaults(_func=_cmd_model_import_ict)

    add_filter_command(sub, _add_knob)

    submit = sub.add_parser("submit", help="write a Deadline job and an OpenCue job spec that farm a node "
                            "command over a frame range in chunks", description=_help(_SUBMIT_HELP))
    submit.add_argument("--frames", required=True, metavar="A-B", help="the job's frame range")
    submit.add_argument("--chunk", type=int, default=10, help="frames per task (default: 10)")
    submit.add_argument("--name", help="job name (default: h2h <node>)")
    submit.add_argument("--deadline", metavar="DIR", help="write DIR/job_info.job and DIR/plugin_info.job")
    submit.add_argument("--opencue", metavar="FILE", help="write an OpenCue job spec (XML) with one shell layer")
    submit.add_argument("--executable", help="h2h on the workers (default: this installation's, absolute)")
    submit.add_argument("--show", default="h2h", help="OpenCue show (default: h2h)")
    submit.add_argument("--shot", help="OpenCue shot (default: the job name)")
    submit.add_argument("--user", help="OpenCue user (default: you)")
    submit.add_argument("--force", action="store_true", help="replace existing job files")
    submit.add_argument("node_command", nargs=argparse.REMAINDER, metavar="-- NODE ...",
                        help="the node command as for h2h, without --frames")
    submit.set_defaults(_func=_cmd_submit)

    specs = sub.add_parser("specs", help="print every node spec as JSON (what host plugins build their UI from)")
    specs.set_defaults(_func=_cmd_specs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    front, rest = hoist_global_options(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if rest and rest[0] in TRAINER_COMMANDS:
        options = parser.parse_args([*front, rest[0]])
        return report_errors(lambda: _run_trainer_command(rest, options.json))
    args = parser.parse_args([*front, *rest])
    return report_errors(lambda: _run_node(args) if hasattr(args, "_spec") else args._func(args))


if __name__ == "__main__":
    sys.exit(main())
