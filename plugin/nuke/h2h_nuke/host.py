"""The Nuke side of the plugin: thin functions around ``nuke`` calls; all decisions live in ``build``."""
from __future__ import annotations

import sys
from typing import Any

import nuke  # only importable inside Nuke

from . import build

_SPECS: dict[str, dict] | None = None
_JOBS: dict[str, build.Job] = {}


def specs() -> dict[str, dict]:
    """The engine's node specs (read once per session from the plugin's ``specs.json``; the engine is not run)."""
    global _SPECS
    if _SPECS is None:
        _SPECS = build.load_specs()
    return _SPECS


def install_menu() -> None:
    """Nodes > Head2Head: one entry per engine node."""
    menu = nuke.menu("Nodes").addMenu("Head2Head")
    for name in specs():
        menu.addCommand(name.replace("_", " ").title(), f"import h2h_nuke.host; h2h_nuke.host.create_node({name!r})")


def context() -> build.HostContext:
    """The script's frame range, format, proxy mode and path."""
    root = nuke.root()
    fmt = root.format()
    proxy_scale = float(root["proxy_scale"].value()) if root["proxy_type"].value() == "scale" else (
        root["proxy_format"].value().width() / max(fmt.width(), 1))
    script = root.name() if root.name() not in ("", "Root") else ""  # "Root" until the script is saved
    return build.HostContext(int(root["first_frame"].value()), int(root["last_frame"].value()), fmt.width(),
                             fmt.height(), bool(root["proxy"].value()), proxy_scale, script)


def _make_knob(desc: build.KnobDesc) -> Any:
    cls = getattr(nuke, desc.nuke_class)
    knob = cls(desc.name, desc.label, list(desc.values)) if desc.values else cls(desc.name, desc.label)
    knob.setTooltip(desc.tooltip)
    if desc.range is not None:
        knob.setRange(*desc.range)
    if desc.default is not None:
        knob.setValue(desc.default)
    return knob


def create_node(name: str) -> Any:
    """A Group for one engine node: its knobs, a Render button, and a Read of its frames output."""
    spec = specs()[name]
    group = nuke.createNode("Group", inpanel=False)
    group.setName(f"H2H_{name}")
    group.addKnob(nuke.Tab_Knob("h2h_tab", "Head2Head"))
    group.addKnob(nuke.Text_Knob("h2h_help", "", spec["help"]))
    node_knob = nuke.String_Knob("h2h_node", "engine node", name)
    node_knob.setVisible(False)
    group.addKnob(node_knob)
    ctx = context()
    for desc in build.knob_descs(spec):
        knob = _make_knob(desc)
        if desc.role == "output":
            port = next(p for p in spec["outputs"] if p["name"] == desc.name)
            knob.setValue(build.default_output(ctx, group.name(), port))
        group.addKnob(knob)
    for knob, label, func in (("h2h_render", "Render", "render"), ("h2h_cancel", "Cancel", "cancel")):
        group.addKnob(nuke.PyScript_Knob(knob, label, f"import h2h_nuke.host; h2h_nuke.host.{func}(nuke.thisNode())"))
    group.addKnob(nuke.Text_Knob("h2h_status", "status", ""))
    with group:
        inp = nuke.nodes.Input(name="plate")
        frames_out = [p for p in spec["outputs"] if p["kind"] == "frames"]
        src = nuke.nodes.Read(name="h2h_read") if frames_out else inp
        nuke.nodes.Output(inputs=[src])
    if frames_out:
        _point_read(group, spec, ctx)
    return group


def _path(knob: Any) -> str:
    """A file knob's path: TCL expressions evaluated (``evaluate()``), frame tokens (####, %04d) kept."""
    raw = str(knob.value() or "")
    return build.keep_frame_tokens(raw, str(knob.evaluate() or ""), int(nuke.frame())) if raw else ""


def _values(group: Any, spec: dict) -> dict[str, Any]:
    """The Group's knob values; file knobs evaluated (ValueError for a path whose frame number is lost)."""
    return {d.name: _path(group[d.name]) if d.nuke_class == "File_Knob" else group[d.name].value()
            for d in build.knob_descs(spec)}


def _upstream_input(group: Any, spec: dict, values: dict[str, Any], ctx: build.HostContext) -> dict[str, Any]:
    """An empty frames input takes what is plugged into the Group: a bare Read's file as it is; anything else
    (Grade, Reformat, TimeOffset... upstream, or a Read with a frame offset) precomped first through a Write
    to an EXR sequence over the render range and one frame past it (the optical flow of the last frame reads
    the next one); RuntimeError when Nuke cannot render it."""
    upstream = group.input(0)
    port = next((p for p in spec["inputs"] if p["kind"] == "frames" and not values.get(p["name"])), None)
    if upstream is None or port is None:
        return values
    if upstream.Class() == "Read" and not str(upstream["frame"].value()).strip():
        values = {**values, port["name"]: _path(upstream["file"])}
        # the Read's colour space goes through unless the Group names one (a precomp is the Write's EXR)
        if values.get("colourspace") in ("", "auto"):
            values["colourspace"] = build.read_colourspace(upstream["colorspace"].value())
        return build.read_first_frame(values[port["name"]], values, upstream["first"].value())
    path = build.precomp_path(ctx, group.name(), port)
    first, last = build.render_range(spec, values, ctx)
    with nuke.root():
        write = nuke.nodes.Write(inputs=[upstream])
    try:
        write["file"].setValue(path)
        write["file_type"].setValue("exr")
        write["create_directories"].setValue(True)
        nuke.execute(write, first, last + 1)
    finally:
        nuke.delete(write)
    return {**values, port["name"]: path}


def _point_read(group: Any, spec: dict, ctx: build.HostContext) -> None:
    values = build.resolved_values(spec, _values(group, spec), ctx)
    port = next(p for p in spec["outputs"] if p["kind"] == "frames")
    with group:
        read = nuke.toNode("h2h_read")
        full = build.nuke_sequence_path(group[port["name"]].value())
        read["file"].setValue(full)
        read["proxy"].setValue(build.nuke_sequence_path(build.proxy_path(full)))
        first, last = build.render_range(spec, values, ctx)
        for k in ("first", "origfirst"):
            read[k].setValue(first)
        for k in ("last", "origlast"):
            read[k].setValue(last)
        read["on_error"].setValue("black")
        read["reload"].execute()


def render(group: Any) -> None:
    """Run the engine for this Group in the background; progress in Nuke's progress bar, whose cancel button
    is polled on a timer; the progress task is released when the engine ends, whatever its exit status."""
    name = group.name()
    if name in _JOBS and _JOBS[name].process is not None and _JOBS[name].process.poll() is None:
        nuke.message(f"{name} is already rendering")
        return
    spec = specs()[group["h2h_node"].value()]
    ctx = context()
    try:
        values = _upstream_input(group, spec, _values(group, spec), ctx)
        cmd = build.build_command(spec, values, ctx)
    except (ValueError, RuntimeError) as e:
        nuke.message(str(e))
        return
    held = {"task": nuke.ProgressTask(f"Head2Head {spec['name']}")}  # the only reference: popping releases it

    def on_progress(done: int, total: int, what: str) -> None:
        def update() -> None:
            task = held.get("task")
            if task is not None:
                task.setMessage(f"{what} {done}/{total}")
                task.setProgress(int(100 * done / max(total, 1)))
        nuke.executeInMainThread(update)

    def cancelled() -> bool:
        task = held.get("task")
        return task is not None and task.isCancelled()

    def on_done(rc: int, message: str) -> None:
        def finish() -> None:
            held.pop("task", None)
            group["h2h_status"].setValue("done" if rc == 0 else f"failed: {message}")
            if any(p["kind"] == "frames" for p in spec["outputs"]):
                _point_read(group, spec, ctx)
        nuke.executeInMainThread(finish)

    group["h2h_status"].setValue("rendering: " + " ".join(cmd[3:5]))
    try:
        _JOBS[name] = build.Job(cmd, on_progress, on_done, cancelled=cancelled).start()
    except build.EngineNotFound as e:
        held.pop("task")
        group["h2h_status"].setValue(f"failed: {e}")
        nuke.message(str(e))


def render_chunk(group: Any, first: int | None = None, last: int | None = None) -> int:
    """Render this Group in this process and wait (a farm task under ``nuke -t``, see ``farm.py``): frames
    ``first``..``last`` (default: its frames knob, else the script's range), its input precomped as for
    :func:`render`; progress lines on stdout, the engine's error on stderr; returns the engine's exit status."""
    spec = specs()[group["h2h_node"].value()]
    ctx = context()
    values = _values(group, spec)
    if first is not None:
        if not any(k["name"] == "frames" and k["type"] == "frames" for k in spec["knobs"]):
            raise ValueError(f"{spec['name']} renders a whole shot in one task; it has no frame range to split")
        values["frames"] = f"{first}-{first if last is None else last}"
    values = _upstream_input(group, spec, values, ctx)
    job = build.Job(build.build_command(spec, values, ctx),
                    on_progress=lambda done, total, what: print(f"{what} {done}/{total}", flush=True))
    rc = job.start().wait()
    if rc:
        print(job.errors[-1] if job.errors else f"h2h exited with status {rc}", file=sys.stderr)
    return rc


def cancel(group: Any) -> None:
    job = _JOBS.get(group.name())
    if job is not None:
        job.cancel()
