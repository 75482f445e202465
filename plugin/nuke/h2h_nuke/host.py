"""The Nuke side of the plugin: thin functions around ``nuke`` calls; all decisions live in ``build``."""
from __future__ import annotations

from typing import Any

import nuke  # only importable inside Nuke

from . import build

_SPECS: dict[str, dict] | None = None
_JOBS: dict[str, build.Job] = {}


def specs() -> dict[str, dict]:
    """The engine's node specs (read once per session from ``h2h specs``)."""
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


def _values(group: Any, spec: dict) -> dict[str, Any]:
    values = {d.name: group[d.name].value() for d in build.knob_descs(spec)}
    # an empty frames input takes the file of the Read node plugged into the Group
    upstream = group.input(0)
    for port in spec["inputs"]:
        if port["kind"] == "frames" and not values.get(port["name"]) and upstream is not None \
                and upstream.Class() == "Read":
            values[port["name"]] = upstream["file"].value()
    # the Read's colour space goes through unless the Group names one
    if values.get("colourspace") in ("", "auto") and upstream is not None and upstream.Class() == "Read":
        values["colourspace"] = build.read_colourspace(upstream["colorspace"].value())
    return values


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
    """Run the engine for this Group in the background; progress in Nuke's progress bar."""
    name = group.name()
    if name in _JOBS and _JOBS[name].process is not None and _JOBS[name].process.poll() is None:
        nuke.message(f"{name} is already rendering")
        return
    spec = specs()[group["h2h_node"].value()]
    ctx = context()
    try:
        cmd = build.build_command(spec, _values(group, spec), ctx)
    except ValueError as e:
        nuke.message(str(e))
        return
    task = nuke.ProgressTask(f"Head2Head {spec['name']}")

    def on_progress(done: int, total: int, what: str) -> None:
        def update() -> None:
            task.setMessage(f"{what} {done}/{total}")
            task.setProgress(int(100 * done / max(total, 1)))
            if task.isCancelled():
                _JOBS[name].cancel()
        nuke.executeInMainThread(update)

    def on_done(rc: int, message: str) -> None:
        def finish() -> None:
            group["h2h_status"].setValue("done" if rc == 0 else f"failed: {message}")
            if any(p["kind"] == "frames" for p in spec["outputs"]):
                _point_read(group, spec, ctx)
        nuke.executeInMainThread(finish)

    group["h2h_status"].setValue("rendering: " + " ".join(cmd[3:5]))
    _JOBS[name] = build.Job(cmd, on_progress, on_done).start()


def cancel(group: Any) -> None:
    job = _JOBS.get(group.name())
    if job is not None:
        job.cancel()
