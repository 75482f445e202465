"""``plugin/nuke/h2h_nuke/host.py`` driven through a stand-in ``nuke`` module, with the real engine behind it."""
import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

from h2h_engine.io import read_image
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
    out = g["output"].value()
    proxy = out.replace("/output.####.exr", "/proxy/output.####.exr")
    for f in range(6):
        assert read_image(proxy.replace("####", f"{f:04d}")).shape[:2] == (180, 320)
    read = g.children["h2h_read"]
    assert read["file"].value() == out and read["proxy"].value() == proxy
    assert (read["first"].value(), read["last"].value()) == (0, 5) and read["reload"].executed >= 2


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
    cmd = host.build.build_command(spec, host._values(g, spec), host.context())
    assert cmd[cmd.index("--colourspace") + 1] == "ACEScg" and "/shows/x/sh010/plate.####.exr" in cmd
    g["colourspace"].setValue("lin_ap1")
    cmd = host.build.build_command(spec, host._values(g, spec), host.context())
    assert cmd[cmd.index("--colourspace") + 1] == "lin_ap1"
    assert host.build.read_colourspace("") == "auto" and host.build.read_colourspace("Linear Rec.709 (sRGB)") == \
        "Linear Rec.709 (sRGB)"
