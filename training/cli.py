"""Command lines of the trainer's evaluations: ``h2h eval self-reenactment``, ``h2h eval reenactment``,
``h2h eval cycle``, ``h2h eval ablate``, and ``h2h export-generator``.

``h2h train`` is a node (``h2h_engine/nodes/train.py``), its command line generated from its spec like every
node's; under ``torchrun`` each process runs that same command: ``torchrun --standalone --nproc_per_node 8
-m h2h_engine train --target ... -o RUN`` (several machines: see :mod:`h2h_engine.training.distributed`).
Also runnable as ``python -m h2h_engine.training.cli {eval,eval-reenactment,eval-cycle,eval-ablate,export} ...``.
Each ``main_*`` returns an exit status: 0, or after printing one line the status of
:func:`~h2h_engine.errors.report_errors` (2 for an H2HError).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from h2h_engine.errors import ConfigError, report_errors
from h2h_engine.io.outputs import claim_output

from .config import PRESETS, parse_overrides

def _guard(fn: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser,
           argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    return report_errors(lambda: fn(args))


def eval_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="h2h eval self-reenactment",
                                description="Paper metrics of a run on the held-out last third of its target shot, "
                                "against the mean-training-frame baseline; writes RUN_DIR/eval/.")
    p.add_argument("run", help="training run folder")
    p.add_argument("--json", action="store_true", help="print the JSON summary instead of a table")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    return p


def _eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_run, format_summary  # noqa: PLC0415

    summary = evaluate_run(args.run, device=args.device)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def main_eval(argv: Sequence[str] | None = None) -> int:
    """``h2h eval self-reenactment RUN_DIR [--json]`` (argv starts after ``self-reenactment``)."""
    return _guard(_eval, eval_parser(), argv)


def eval_reenactment_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="h2h eval reenactment",
                                description="Score a synthesized result with no ground truth: our tracker on the "
                                "result against the driving track (expression, pose, gaze), dlib identity against "
                                "the target's and the source's real frames, motion-compensated flicker; each beside "
                                "the same measures on the real target plate.")
    p.add_argument("result", help="the synthesized movie or image sequence (row i made from the driving track's row i)")
    p.add_argument("--driving", required=True, help="the driving (retargeted) track the result was made from")
    p.add_argument("--target", required=True, help="the target's own track (h2h track of the plate)")
    p.add_argument("--plate", help="the target's real footage (default: the one its track records)")
    p.add_argument("--source", help="the source's real footage (default: the one the driving track records)")
    p.add_argument("--baseline", help="another result of the same driving track (e.g. the instant preset's), "
                   "scored the same way")
    p.add_argument("--identity-frames", type=int, default=None, metavar="N",
                   help="evenly spaced rows that get a dlib descriptor (0: all; default 16)")
    p.add_argument("--report", metavar="DIR", help="write the QC page DIR/index.html and DIR/contact_sheet.png")
    p.add_argument("--force", action="store_true", help="replace an existing report")
    p.add_argument("--json", action="store_true", help="print the JSON summary instead of a table")
    return p


def _eval_reenactment(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .eval_reenactment import IDENTITY_FRAMES, evaluate_reenactment, format_reenactment  # noqa: PLC0415
    from .qc_report import REPORT_PAGE, write_report  # noqa: PLC0415

    if args.identity_frames is not None and args.identity_frames < 0:
        raise ConfigError(f"--identity-frames must be >= 0; got {args.identity_frames}")
    inputs = [args.result, args.driving, args.target, args.plate, args.source, args.baseline]
    page = str(Path(args.report) / REPORT_PAGE) if args.report else None
    with claim_output(page, inputs, force=args.force) if page else contextlib.nullcontext():
        ev = evaluate_reenactment(args.result, args.driving, args.target, plate=args.plate, source=args.source,
                                  baseline=args.baseline, identity_frames=IDENTITY_FRAMES if args.identity_frames
                                  is None else args.identity_frames)
        if page:
            write_report(args.report, ev, ["h2h", "eval", "reenactment", *argv])
    print(json.dumps(ev.summary, indent=2) if args.json else format_reenactment(ev.summary))
    return 0


def main_eval_reenactment(argv: Sequence[str] | None = None) -> int:
    """``h2h eval reenactment RESULT --driving TRACK --target TRACK [--json] [--report DIR]`` (argv starts after
    ``reenactment``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return _guard(lambda args: _eval_reenactment(args, argv), eval_reenactment_parser(), argv)


def eval_cycle_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="h2h eval cycle",
                                description="Cycle reenactment (paper IV-A): X's held-out frames drive Y with Y's "
                                "network (face mode), the tracked result drives X back with X's network; "
                                "per-pixel L2 of the round trip against X's real frames, with heat maps.")
    p.add_argument("run_x", help="X's training run folder (its held-out frames drive, and are the reference)")
    p.add_argument("run_y", help="Y's training run folder")
    p.add_argument("-o", "--output", required=True, help="folder for cycle.json and the heat maps")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where the networks run")
    p.add_argument("--force", action="store_true", help="replace an existing cycle.json")
    p.add_argument("--json", action="store_true", help="print the JSON summary instead of a table")
    return p


def _eval_cycle(args: argparse.Namespace) -> int:
    from .eval_cycle import SUMMARY, evaluate_cycle, format_cycle  # noqa: PLC0415

    with claim_output(str(Path(args.output) / SUMMARY), [args.run_x, args.run_y], force=args.force):
        summary = evaluate_cycle(args.run_x, args.run_y, args.output, device=args.device)
    print(json.dumps(summary, indent=2) if args.json else format_cycle(summary))
    return 0


def main_eval_cycle(argv: Sequence[str] | None = None) -> int:
    """``h2h eval cycle RUN_X RUN_Y -o DIR [--json]`` (argv starts after ``cycle``)."""
    return _guard(_eval_cycle, eval_cycle_parser(), argv)


def eval_ablate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="h2h eval ablate",
                                description="Train the ablation variants of a preset (full; without D_M; without "
                                "D_D; pix2pix-style; appearance inputs; no network) on the same frames and budget "
                                "and print one table of their self-reenactment APD, MAPD, mouth APD and flicker.")
    p.add_argument("target", help="target video (movie or image-sequence pattern)")
    p.add_argument("--track", required=True, help="its track file (.h2h.npz, from h2h track)")
    p.add_argument("--preset", required=True, choices=PRESETS, help="the full model's settings")
    p.add_argument("-o", "--output", required=True, help="new folder: one run folder per variant + ablation.json")
    p.add_argument("--steps", type=int, help="training steps of every variant (default: the preset's schedule)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting of every variant, e.g. --set data.max_frames=90 (repeatable)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where training and G run")
    p.add_argument("--json", action="store_true", help="print the JSON summary instead of a table")
    return p


def _eval_ablate(args: argparse.Namespace) -> int:
    from .ablate import SUMMARY, ablate, check_new_folder, format_ablation  # noqa: PLC0415

    check_new_folder(args.output)
    overrides = parse_overrides([*args.set, f"device={args.device}"])
    with claim_output(str(Path(args.output) / SUMMARY), [args.target, args.track]):
        summary = ablate(args.target, args.track, args.output, args.preset, steps=args.steps, overrides=overrides,
                         device=args.device)
    print(json.dumps(summary, indent=2) if args.json else format_ablation(summary))
    return 0


def main_eval_ablate(argv: Sequence[str] | None = None) -> int:
    """``h2h eval ablate TARGET --track TRACK --preset P -o DIR [--steps N]`` (argv starts after ``ablate``)."""
    return _guard(_eval_ablate, eval_ablate_parser(), argv)


def export_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="h2h export-generator",
                                description="Write a checkpoint's generator for hosts that run it: TorchScript, or "
                                "ONNX (the per-frame step G(cond, prev) -> frame, opset 17) for ML nodes that read "
                                "ONNX models.")
    p.add_argument("checkpoint", help="checkpoint.pt of a training run")
    p.add_argument("-o", "--output", required=True, help="file to write: G.ts.pt (TorchScript) or G.onnx")
    p.add_argument("--format", choices=("auto", "torchscript", "onnx"), default="auto",
                   help="auto: ONNX for a .onnx output, else TorchScript")
    p.add_argument("--json", action="store_true", help="print the output, its format and G's size as JSON")
    return p


def _export(args: argparse.Namespace) -> int:
    from h2h_engine.io.outputs import claim_output  # noqa: PLC0415
    from h2h_engine.synthesis.checkpoint import load_generator  # noqa: PLC0415
    from h2h_engine.synthesis.engine import export_onnx, step_inputs  # noqa: PLC0415
    from h2h_engine.synthesis.inference import export_torchscript  # noqa: PLC0415

    fmt = args.format if args.format != "auto" else ("onnx" if args.output.lower().endswith(".onnx")
                                                    else "torchscript")
    gen, _ = load_generator(args.checkpoint)
    with claim_output(args.output, force=True, inputs=[args.checkpoint]):
        (export_onnx if fmt == "onnx" else export_torchscript)(gen, args.output)
    inputs = step_inputs(gen.cfg)
    print(json.dumps({"output": args.output, "format": fmt, "size": gen.cfg.size,
                      **({"inputs": inputs} if fmt == "onnx" else {})}) if args.json
          else f"{args.output}: {'ONNX' if fmt == 'onnx' else 'TorchScript'} generator ({gen.cfg.size} px"
               + (f"; inputs {', '.join(inputs)} -> frame)" if fmt == "onnx" else ")"))
    return 0


def main_export(argv: Sequence[str] | None = None) -> int:
    """``h2h export-generator CKPT -o OUT.pt|OUT.onnx [--format auto|torchscript|onnx]``."""
    return _guard(_export, export_parser(), argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"eval": main_eval, "eval-reenactment": main_eval_reenactment, "eval-cycle": main_eval_cycle,
                "eval-ablate": main_eval_ablate, "export": main_export}
    if not argv or argv[0] not in commands:
        print(f"usage: python -m h2h_engine.training.cli {{{','.join(commands)}}} ... (training: h2h train, or "
              "torchrun ... -m h2h_engine train)", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
