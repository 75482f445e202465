"""Train node: ``h2h train --target VIDEO --track TRACK -o RUN_DIR``, the person-specific Head2Head GAN of one
target shot (self-reenactment: its first two thirds train, the rest is held out).

The trainer itself is ``h2h_engine.training`` (the repository's ``training/`` folder), imported only when
this node runs: the spec below needs nothing of it, so every other node, the CLI and the hosts work where the
trainer (or its ``[train]`` extra) is not installed. Under ``torchrun`` each process runs this same node
(``torchrun --standalone --nproc_per_node N -m h2h_engine train ...``); rank 0 holds the run's checkpoint.

The output is a run folder: ``config.yaml`` and ``run.json`` before step 0, ``cache/`` (the conditioning),
``log.jsonl``, ``samples/``, ``bank/`` (appearance presets) and ``checkpoint.pt``, which the synthesize node
takes (the checkpoint or the folder). In the Python graph the folder is the node's cache entry: a run that
was interrupted resumes when the node runs again with ``resume`` set (``resume`` is not part of the key).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import MissingPackageError
from ..io.outputs import claim_output
from ..synthesis.checkpoint import CHECKPOINT
from .spec import Knob, NodeSpec, Port

# The trainer's presets (training/configs/*.yaml; tests/training/test_config.py checks the two agree).
PRESETS = ("instant", "preview", "production", "paper", "tiny")


def _trainer() -> Any:
    """The trainer's modules (config, train); MissingPackageError when the trainer is not installed."""
    try:
        from ..training import config, train  # noqa: PLC0415 - the engine runs without the trainer
    except ImportError as e:
        raise MissingPackageError(f"h2h train needs the trainer (h2h_engine.training), which cannot be imported "
                                  f"here ({e}): install the engine from the repository (pip install -e '.[train]')"
                                  ) from None
    return config, train


def run(target: str, track: str, output: str, preset: str | None, config: str, set: Sequence[str],  # noqa: A002
        device: str | None, resume: bool, stop_after: int, progress: Callable[[int, int, str], None]
        ) -> dict[str, Any]:
    """Train (or with ``resume`` continue) the run in ``output``; returns ``{"checkpoint": path}``."""
    config_module, train_module = _trainer()
    items = [*set, f"device={device}"] if device else list(set)
    cfg = config_module.run_config(output, preset, config or None, items, resume)
    # rank 0 holds the run's checkpoint (torchrun's other ranks write nothing): lock it, clear a killed run's temps
    claim = (claim_output(str(Path(output) / CHECKPOINT), (target, track), force=True)
             if os.environ.get("RANK", "0") == "0" else contextlib.nullcontext())
    with claim:
        ckpt = train_module.train(target, track, output, cfg, resume=resume, stop_after=stop_after or None,
                                  show_progress=False, progress=progress)
    return {"checkpoint": str(ckpt)}


SPEC = NodeSpec(
    name="train",
    help="Train the Head2Head GAN on one target shot (self-reenactment: the first 2/3 of its frames train, the "
         "rest is held out); the run folder's checkpoint.pt is what synthesize takes.",
    inputs=(Port("target", "frames", "target shot (movie or image sequence)", flag="--target"),
            Port("track", "track", "its track file (.h2h.npz, from h2h track)", flag="--track")),
    outputs=(Port("output", "run", "run folder (config, cache, log, samples, checkpoint.pt)"),),
    knobs=(
        Knob("preset", "choice", None, "base settings: instant (no network), preview (CPU), production/paper "
             "(GPU), tiny (tests); default tiny; a resumed run keeps its own", choices=PRESETS),
        Knob("config", "path", "", "YAML file overriding the preset (unknown keys are an error)"),
        Knob("set", "list", (), "override one setting, KEY=VALUE (e.g. epochs=10, model.ngf=32); repeatable"),
        Knob("device", "choice", None, "where training runs: auto (CUDA when there is one), cpu or cuda; default: "
             "the config's (auto). Where a run trained does not change what it trains, up to rounding: a resumed "
             "run may move", choices=("auto", "cpu", "cuda"), keyed=False),
        Knob("resume", "bool", False, "continue the run in the output folder from its checkpoint, with the run's "
             "own config.yaml (--set may change only device, checkpoint_every, sample_every, log_every)",
             keyed=False),
        Knob("stop_after", "int", 0, "stop with a checkpoint after this many steps (time-sliced jobs; resume "
             "later); 0: train to the end", minimum=0),
    ),
    run=run,
)
