"""Farm jobs: one node command over a frame range, cut into chunks, as a Deadline job and an OpenCue layer.

``h2h submit --frames 1001-1100 --chunk 10 --deadline job/ --opencue job.xml -- synthesize --checkpoint C
--track T --plate plate.####.exr -o comp.####.exr`` writes the Deadline CommandLine-plugin job
(``job/job_info.job``, ``job/plugin_info.job``: ``deadlinecommand job/job_info.job job/plugin_info.job``) and
an OpenCue job spec with one shell layer (``opencue.api.launchSpec(open("job.xml").read())``). Both queues cut
``Frames``/``range`` into tasks of ``ChunkSize``/``chunk`` frames from the first frame, the last one shorter:
:func:`chunk_ranges`, which :func:`task_commands` expands to the exact command each task runs. Every task
renders ``--frames A-B`` of a sequence, so chunks and retries join bit for bit (docs/host.md, "Farm").
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from typing import Any, Sequence
from xml.sax.saxutils import escape

from ..errors import ConfigError

DEADLINE_RANGE = "<STARTFRAME>-<ENDFRAME>"  # CommandLine plugin tokens: the task's first and last frame
OPENCUE_RANGE = "#FRAME_START#-#FRAME_END#"  # OpenCue command tokens: the chunk's first and last frame
OPENCUE_DTD = "http://localhost:8080/spcue/dtd/cjsl-1.14.dtd"


def chunk_ranges(frames: tuple[int, int], chunk: int) -> list[tuple[int, int]]:
    """The tasks of the inclusive range ``frames`` as Deadline (``Frames`` + ``ChunkSize``) and OpenCue
    (``range`` + ``chunk``) cut it: ``chunk`` frames each from the first frame, the last task shorter.

    Example:
        >>> chunk_ranges((1001, 1025), 10)
        [(1001, 1010), (1011, 1020), (1021, 1025)]
    """
    a, b = frames
    if chunk < 1:
        raise ConfigError(f"--chunk must be at least 1 frame; got {chunk}")
    if b < a:
        raise ConfigError(f"frame range {a}-{b} ends before it starts")
    return [(s, min(s + chunk - 1, b)) for s in range(a, b + 1, chunk)]


@dataclass(frozen=True)
class FarmJob:
    """A node command (``argv`` after the executable, without ``--frames``) run over ``frames`` in tasks of
    ``chunk`` frames by ``executable`` on the farm's workers."""

    name: str
    executable: str
    argv: tuple[str, ...]
    frames: tuple[int, int]
    chunk: int

    def command(self, frame_range: str) -> list[str]:
        """The full command of one task, whose ``--frames`` is ``frame_range`` (a range or a queue's tokens)."""
        return [self.executable, "--progress", "plain", *self.argv, "--frames", frame_range]

    def task_commands(self) -> list[list[str]]:
        """The command each task runs, in task order (what the queues make of the job files)."""
        return [self.command(f"{a}-{b}") for a, b in chunk_ranges(self.frames, self.chunk)]

    def deadline_files(self, output: str | None = None) -> dict[str, str]:
        """``{"job_info.job": ..., "plugin_info.job": ...}`` for Deadline's CommandLine plugin (``output``:
        the sequence the job renders, shown by Deadline's monitor)."""
        chunk_ranges(self.frames, self.chunk)  # checks the range and chunk
        job = {"Plugin": "CommandLine", "Name": self.name, "Frames": f"{self.frames[0]}-{self.frames[1]}",
               "ChunkSize": str(self.chunk)}
        if output is not None:
            job.update(OutputDirectory0=os.path.dirname(output), OutputFilename0=os.path.basename(output))
        executable, *arguments = self.command(DEADLINE_RANGE)
        plugin = {"Executable": executable, "Arguments": " ".join(_deadline_quote(a) for a in arguments),
                  "ShellExecute": "False", "StartupDirectory": os.getcwd()}
        return {"job_info.job": _ini(job), "plugin_info.job": _ini(plugin)}

    def opencue_spec(self, show: str, shot: str, user: str) -> str:
        """An OpenCue job spec (XML, cjsl 1.14) with one shell layer over the job's range and chunk."""
        chunk_ranges(self.frames, self.chunk)
        layer = _nmtoken(self.argv[0] if self.argv else "h2h")
        cmd = escape(shlex.join(self.command(OPENCUE_RANGE)))
        return (f'<?xml version="1.0"?>\n<!DOCTYPE spec PUBLIC "SPI Cue  Specification Language" "{OPENCUE_DTD}">\n'
                f"<spec>\n  <show>{escape(show)}</show>\n  <shot>{escape(shot)}</shot>\n  <user>{escape(user)}</user>\n"
                f'  <job name="{_nmtoken(self.name)}">\n    <paused>False</paused>\n    <maxretries>2</maxretries>\n'
                f'    <layers>\n      <layer name="{layer}" type="Render">\n        <cmd>{cmd}</cmd>\n'
                f"        <range>{self.frames[0]}-{self.frames[1]}</range>\n        <chunk>{self.chunk}</chunk>\n"
                "        <services><service>shell</service></services>\n      </layer>\n    </layers>\n  </job>\n"
                "</spec>\n")


def _ini(items: dict[str, str]) -> str:
    """Deadline's ``key=value`` job files; a value holding a line break would start another key."""
    bad = [k for k, v in items.items() if "\n" in v or "\r" in v]
    if bad:
        raise ConfigError(f"{bad[0]} of the Deadline job holds a line break: {items[bad[0]]!r}")
    return "".join(f"{k}={v}\n" for k, v in items.items())


def _deadline_quote(arg: str) -> str:
    """One argument of the CommandLine plugin's ``Arguments`` (split like a Windows command line: double
    quotes group words); quotes inside an argument cannot be passed through it, so they are refused."""
    if '"' in arg:
        raise ConfigError(f"argument {arg!r} holds a double quote, which Deadline's Arguments line cannot carry")
    return f'"{arg}"' if not arg or re.search(r"\s", arg) else arg


def _nmtoken(name: str) -> str:
    """``name`` as an XML NMTOKEN (what OpenCue job and layer names must be)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "h2h"


def absolute_paths(values: dict[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """``values`` with the entries named in ``paths`` made absolute (farm workers start elsewhere)."""
    return {k: (os.path.abspath(str(v)) if k in paths else v) for k, v in values.items()}
