"""``plugin/nuke/h2h_nuke/host.py`` driven through a stand-in ``nuke`` module, with the real engine behind it."""
import gc
import importlib
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from h2h_engine.io import open_frames, read_image
from h2h_engine.nodes import SPECS


def _standin():
    spec = importlib.util.spec_from_file_location("nuke_standin", Path(__file__).with_name("nuke_standin.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def nuke_host(nuke_build, h2h_exe, env_threads, monkeypatch, tmp_path):
    """``h2h_nuke.host`` imported against a stand-in ``nuke``: script 0-5, 640x360, proxy mode at 1/2."""
    module = _standin().make_module(0, 5, 640, 360, script=str(tmp_path / "sh010.nk"), proxy=True, proxy_scale=0.5)
    monkeypatch.setitem(sys.modules, "nuke", module)
    monkeypatch.setenv("H2H_EXECUTABLE", h2h_exe)
    for k, v in env_threads.items():
        monkeypatch.setenv(k, v)
    host = importlib.reload(importlib.import_module("h2h_nuke.host"))
    yield host, module


def test_menu_and_groups(nuke_host):
    host, nuke = nuke_host
    host.install_menu()
    entries = nuke.STATE.menus["Nodes"].menus["Head2Head"].items
    assert [e[1].split("create_node(")[1][:-1] for e in entries] == [repr(n) for n in SPECS]
    for name, spec in SPECS.items():
        g = host.create_node(name)
        assert g["h2h_node"].value() == name and g.name() == f"H2H_{name}"
        for k in spec.knobs:
            knob = g[k.name]
            assert knob.tooltip.startswith(k.help)
            assert type(knob).__name__ == host.build.NUKE_KNOB_CLASS[k.type]
        for p in spec.outputs:
            assert g[p.name].value().endswith(f"/h2h/H2H_{name}/{p.name}{p.to_json()['suffix']}")


def test_render_render_nmfc_group(nuke_host, track_file, tmp_path):
    """A RenderNMFC Group in proxy mode renders the script range at half the format and its Read shows it."""
    host, nuke = nuke_host
    g = host.create_node("render_nmfc")
    g["track"].setValue(str(track_file))
    g["size"].setValue("")  # the script's format (proxy: halved)
    host.render(g)
    job = host._JOBS[g.name()]
    assert job.wait(300) == 0, job.errors
    assert g["h2h_status"].value() == "done"
    task = nuke.STATE.tasks[-1]
    assert task.progress and task.progress[-1] == 100
    gc.collect()
    assert task.released  # the progress bar is gone
    out = g["output"].value()
    proxy = out.replace("/output.####.exr", "/proxy/output.####.exr")
    for f in range(6):
        assert read_image(proxy.replace("####", f"{f:04d}")).shape[:2] == (180, 320)
    read = g.children["h2h_read"]
    assert read["file"].value() == out and read["proxy"].value() == proxy
    assert (read["first"].value(), read["last"].value()) == (0, 5) and read["reload"].executed >= 2


def test_startup_without_an_engine(nuke_host, tmp_path, monkeypatch):
    """The menu and Groups come from the shipped specs; a missing engine is one message at render time."""
    host, nuke = nuke_host
    monkeypatch.setenv("H2H_EXECUTABLE", str(tmp_path / "not_installed" / "h2h"))
    host._SPECS = None
    host.install_menu()
    assert len(nuke.STATE.menus["Nodes"].menus["Head2Head"].items) == len(SPECS)
    g = host.create_node("render_nmfc")
    g["track"].setValue(str(tmp_path / "shot.h2h.npz"))
    host.render(g)
    assert len(nuke.STATE.messages) == 1 and "H2H_EXECUTABLE" in nuke.STATE.messages[0]
    assert g["h2h_status"].value().startswith("failed: Head2Head engine")
    gc.collect()
    assert [t.released for t in nuke.STATE.tasks] == [True]


def _linear(rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float32) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def test_tcl_knob_and_graded_input_are_precomped(nuke_host, track_file, clip, tmp_path):
    """A Grade between the Read and the Group: its frames are precomped to EXR through a Write and the engine
    renders from them; the track knob is a TCL expression of the script's path."""
    host, nuke = nuke_host
    shutil.copy(track_file, tmp_path / "sh010.h2h.npz")
    with nuke.root():
        read = nuke.nodes.Read(name="Read1")
        read["file"].setValue(str(clip("W009_front_neutral")))
        grade = nuke.nodes.Grade(name="Grade1", inputs=[read])
        grade["multiply"].setValue(0.5)
    g = host.create_node("render_nmfc")
    g.inputs_ = [grade]
    g["track"].setValue("[file dirname [value root.name]]/[file rootname [file tail [value root.name]]].h2h.npz")
    g["what"].setValue("nmfc,flow")  # the flow needs the source frames
    host.render(g)
    job = host._JOBS[g.name()]
    assert job.wait(300) == 0, job.errors
    precomp = str(tmp_path / "h2h" / g.name() / "precomp" / "source.####.exr")
    assert nuke.STATE.executed == [(precomp, 0, 6)] and nuke.STATE.deleted == ["Write"]  # + the flow's next frame
    assert job.command[job.command.index("--source") + 1] == precomp
    assert job.command[4] == str(tmp_path / "sh010.h2h.npz")
    assert g["h2h_status"].value() == "done"
    frames = dict(open_frames(str(clip("W009_front_neutral")), (0, 5)))
    for f in (0, 5):
        got = read_image(precomp.replace("####", f"{f:04d}"))[..., :3]
        assert np.allclose(got, 0.5 * _linear(frames[f]), atol=2e-3)
    gc.collect()
    assert all(t.released for t in nuke.STATE.tasks)


def test_read_with_a_frame_offset_is_precomped(nuke_host, clip, tmp_path):
    host, nuke = nuke_host
    spec = host.specs()["render_nmfc"]
    with nuke.root():
        read = nuke.nodes.Read(name="Read1")
    read["file"].setValue(str(clip("W009_front_neutral")))
    g = host.create_node("render_nmfc")
    g.inputs_ = [read]
    ctx = host.context()
    bare = host._upstream_input(g, spec, host._values(g, spec), ctx)
    assert bare["source"] == str(clip("W009_front_neutral")) and not nuke.STATE.executed
    read["frame"].setValue("-2")  # frame f shows the movie's frame f + 2
    moved = host._upstream_input(g, spec, host._values(g, spec), ctx)
    assert moved["source"].endswith("/precomp/source.####.exr") and nuke.STATE.executed[0][1:] == (0, 6)
    _, rgb = next(iter(open_frames(str(clip("W009_front_neutral")), (2, 2))))
    got = read_image(moved["source"].replace("####", "0000"))[..., :3]
    assert np.allclose(got, _linear(rgb), atol=2e-3)


def test_farm_task_renders_one_chunk(nuke_host, track_file, capsys):
    """``nuke -t farm.py SCRIPT GROUP 2-3``: the Group's engine command for frames 2-3 only, run to the end."""
    host, nuke = nuke_host
    farm = importlib.import_module("h2h_nuke.farm")
    g = host.create_node("render_nmfc")
    g["track"].setValue(str(track_file))
    script = nuke.root().name()
    assert farm.main([script, g.name(), "2-3"]) == 0 and nuke.STATE.opened == [script]
    out = g["output"].value().replace("/output.####.exr", "/proxy/output.####.exr")  # the script is in proxy mode
    assert [f for f in range(6) if Path(out.replace("####", f"{f:04d}")).is_file()] == [2, 3]
    progress = [line.split()[-1].split("/") for line in capsys.readouterr().out.splitlines()]
    assert progress and any(d == t != "0" for d, t in progress)  # "<stage> done/total" lines; stages finish
    assert farm.main([script, "H2H_nothing", "2-3"]) == 2
    assert farm.main([script, g.name(), "3-2"]) == 2
    assert farm.main([script]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"h2h farm: {script} has no Head2Head Group named 'H2H_nothing'",
                   "h2h farm: frame chunk '3-2': last frame before first", farm.USAGE]


def test_read_colourspace_passes_through(nuke_host):
    """A Group fed by a Read takes the Read's colour space (Nuke's "default (NAME)" unwrapped) unless its own
    colourspace knob names one."""
    host, nuke = nuke_host
    spec = host.specs()["track"]
    g = host.create_node("track")
    read = type(g)("Read", "plate_read")  # a Read in the script, upstream of the Group
    read["file"].setValue("/shows/x/sh010/plate.####.exr")
    read["colorspace"].setValue("default (ACEScg)")
    g.inputs_ = [read]
    ctx = host.context()
    cmd = host.build.build_command(spec, host._upstream_input(g, spec, host._values(g, spec), ctx), ctx)
    assert cmd[cmd.index("--colourspace") + 1] == "ACEScg" and "/shows/x/sh010/plate.####.exr" in cmd
    g["colourspace"].setValue("lin_ap1")
    cmd = host.build.build_command(spec, host._upstream_input(g, spec, host._values(g, spec), ctx), ctx)
    assert cmd[cmd.index("--colourspace") + 1] == "lin_ap1"
    assert host.build.read_colourspace("") == "auto" and host.build.read_colourspace("Linear Rec.709 (sRGB)") == \
        "Linear Rec.709 (sRGB)"


def test_movie_read_numbers_frames_as_nuke_does(nuke_host):
    """A movie Read counts from its ``first`` (Nuke: 1); a track Group fed by it uses those numbers unless its
    own first_frame knob says otherwise; a sequence keeps its own numbers."""
    host, nuke = nuke_host
    spec = host.specs()["track"]
    g = host.create_node("track")
    read = type(g)("Read", "movie_read")
    read["file"].setValue("/shows/x/sh010/plate.mov")
    read["first"].setValue(1)
    g.inputs_ = [read]
    ctx = host.context()

    def command() -> list[str]:
        return host.build.build_command(spec, host._upstream_input(g, spec, host._values(g, spec), ctx), ctx)

    cmd = command()
    assert cmd[cmd.index("--first-frame") + 1] == "1"
    g["first_frame"].setValue(1001)
    cmd = command()
    assert cmd[cmd.index("--first-frame") + 1] == "1001"
    g["first_frame"].setValue(0)
    read["file"].setValue("/shows/x/sh010/plate.####.exr")
    cmd = command()
    assert "--first-frame" not in cmd or cmd[cmd.index("--first-frame") + 1] == "0"
