"""The Nuke plugin's knobs and commands correspond exactly to the engine's node specs."""
import json
import sys
import time

import pytest

from h2h_engine.cli import build_parser
from h2h_engine.nodes import SPECS
from h2h_engine.nodes.spec import NodeSpec


@pytest.fixture(scope="module")
def specs_json(nuke_build):
    """The specs as the plugin reads them: the specs JSON it ships (never by running the engine)."""
    got = nuke_build.load_specs()
    assert got == json.loads(json.dumps({n: s.to_json() for n, s in SPECS.items()}))
    return got


def test_specs_file_needs_its_schema(nuke_build, tmp_path):
    bad = tmp_path / "specs.json"
    bad.write_text(json.dumps({n: s.to_json() for n, s in SPECS.items()}))  # the bare `h2h specs` output
    with pytest.raises(ValueError, match="is not a H2HNodeSpecs.1 file .* reinstall the plugin"):
        nuke_build.load_specs(bad)


def test_file_knob_paths_keep_frame_tokens(nuke_build):
    keep = nuke_build.keep_frame_tokens
    tcl = "[file dirname [value root.name]]/h2h/plate.####.exr"
    assert keep(tcl, "/shows/x/h2h/plate.0007.exr", 7) == "/shows/x/h2h/plate.####.exr"
    assert keep("/a/[value root.name]_%04d.exr", "/a/sh010_1001.exr", 1001) == "/a/sh010_%04d.exr"
    assert keep("[value root.name].h2h.npz", "sh010.h2h.npz", 3) == "sh010.h2h.npz"
    assert keep("/a/plate.#.exr", "/a/plate.12.exr", 12) == "/a/plate.#.exr"
    with pytest.raises(ValueError, match="after the TCL expressions"):
        keep("[string map {#### 0001} x]/a.exr", "x/a.exr", 1)
    with pytest.raises(ValueError, match="cannot be located"):
        keep("/a/b.####.exr", "/a/b.exr", 1)


def test_engine_environment_drops_nukes_python(nuke_build, tmp_path, monkeypatch):
    """The engine's Python never sees Nuke's PYTHONPATH/PYTHONHOME (it would import Nuke's modules)."""
    nukes = {"PYTHONPATH": "/opt/Nuke15/plugins", "PYTHONHOME": str(tmp_path / "nuke_python"), "HOME": "/h"}
    assert nuke_build.engine_env(nukes) == {"HOME": "/h"}
    for k in ("PYTHONPATH", "PYTHONHOME"):
        monkeypatch.setenv(k, nukes[k])
    # a Job's default environment (with this PYTHONHOME the interpreter could not even start)
    probe = "import os, sys; sys.exit(3 if {'PYTHONPATH', 'PYTHONHOME'} & set(os.environ) else 0)"
    assert nuke_build.Job([sys.executable, "-c", probe]).start().wait(60) == 0


def test_cancel_is_polled_without_progress_lines(nuke_build):
    """A silent engine (a long first stage) still stops when cancel is pressed."""
    done = []
    t0 = time.monotonic()
    job = nuke_build.Job([sys.executable, "-c", "import time; time.sleep(60)"], cancelled=lambda: True,
                         on_done=lambda rc, m: done.append(rc), poll_s=0.05).start()
    assert job.wait(20) != 0 and done and time.monotonic() - t0 < 15


def test_missing_engine_is_one_line(nuke_build, tmp_path):
    with pytest.raises(nuke_build.EngineNotFound, match="cannot be run .* set H2H_EXECUTABLE"):
        nuke_build.Job([str(tmp_path / "no" / "h2h"), "specs"]).start()


def _sample_values(spec: NodeSpec) -> dict:
    """A non-default value for every knob (what a user might dial in)."""
    out = {}
    for k in spec.knobs:
        if k.type == "int":
            out[k.name] = int(k.maximum if k.maximum is not None else (k.default or 0) + 3)
        elif k.type == "float":
            out[k.name] = float(k.maximum if k.maximum is not None else (k.default or 0.0) + 0.25)
        elif k.type == "bool":
            out[k.name] = not k.default
        elif k.type == "choice":
            out[k.name] = next(c for c in reversed(k.choices) if c != k.default) if len(k.choices) > 1 else k.default
        elif k.type == "multichoice":
            out[k.name] = ",".join(k.choices[:1])
        elif k.type == "frames":
            out[k.name] = "1001-1010"
        elif k.type == "size":
            out[k.name] = "320x240"
        elif k.type == "list":
            out[k.name] = f"{k.name}.a=1\n{k.name}.b=two words"  # a multi-line knob: one item per line
        else:
            out[k.name] = f"/tmp/{k.name} with space"
    for p in spec.inputs + spec.outputs:
        out[p.name] = f"/data/{p.name}{p.to_json()['suffix']}"
    return out


def test_every_node_has_a_menu_entry_and_knobs(specs_json, nuke_build):
    assert set(specs_json) == set(SPECS)
    for name, spec in SPECS.items():
        descs = nuke_build.knob_descs(specs_json[name])
        assert [d.name for d in descs] == [p.name for p in spec.inputs + spec.outputs] + [k.name for k in spec.knobs]
        for d in descs[len(spec.inputs) + len(spec.outputs):]:
            k = spec.knob(d.name)
            assert d.nuke_class == nuke_build.NUKE_KNOB_CLASS[k.type]
            assert d.tooltip.startswith(k.help)
            # a choice without an engine default shows an empty first entry, left out of the command
            assert d.values == ((("",) if k.default is None else ()) + k.choices if k.type == "choice" else ())
            assert d.range == ((k.minimum, k.maximum) if k.minimum is not None and k.maximum is not None else None)
            if k.default not in (None, ""):  # the knob shows the engine's default, spelled as the CLI takes it
                assert k.parse(d.default) == k.parse(k.default)
        for d in descs[: len(spec.inputs) + len(spec.outputs)]:
            assert d.nuke_class == "File_Knob"


def test_commands_parse_back_to_the_same_values(specs_json, nuke_build):
    ctx = nuke_build.HostContext(1001, 1100, 1920, 1080, script="/shows/x/sh010.nk")
    for name, spec in SPECS.items():
        values = _sample_values(spec)
        cmd = nuke_build.build_command(specs_json[name], values, ctx, executable="h2h")
        assert cmd[:4] == ["h2h", "--progress", "json", spec.cli_name]
        args = vars(build_parser().parse_args(cmd[1:]))
        assert args["progress"] == "json"
        parsed = spec.validate({k: v for k, v in args.items() if v is not None and
                                k in {p.name for p in spec.inputs + spec.outputs} | {k.name for k in spec.knobs}})
        assert parsed == spec.validate(values), name


def test_host_context_fills_range_format_and_proxy(specs_json, nuke_build):
    for name, spec in SPECS.items():
        js = specs_json[name]
        values = {p.name: f"/data/{p.name}{p.to_json()['suffix']}" for p in spec.inputs + spec.outputs}
        full = nuke_build.resolved_values(js, values, nuke_build.HostContext(1001, 1048, 2048, 1152))
        proxy = nuke_build.resolved_values(js, values, nuke_build.HostContext(1001, 1048, 2048, 1152, True, 0.5))
        for k in spec.knobs:
            if k.type == "frames":
                assert full[k.name] == proxy[k.name] == "1001-1048"
            if k.type == "size":
                assert (full[k.name], proxy[k.name]) == ("2048x1152", "1024x576")
        for p in spec.outputs:
            if p.kind == "frames":
                assert proxy[p.name] == f"/data/proxy/{p.name}.####.exr" and full[p.name] == values[p.name]


def test_missing_input_is_a_clear_error(specs_json, nuke_build):
    ctx = nuke_build.HostContext(1, 10, 100, 100)
    for name, spec in SPECS.items():
        required = [p for p in spec.inputs if not p.optional]
        if required:
            with pytest.raises(ValueError, match=f"set the {required[0].name} file"):
                nuke_build.build_command(specs_json[name], {}, ctx)


def test_progress_lines(nuke_build):
    assert nuke_build.parse_progress('{"progress": 3, "total": 10, "what": "fit"}\n') == (3, 10, "fit")
    assert nuke_build.parse_progress("h2h: error: input x does not exist") is None


def test_job_reports_engine_errors(nuke_build, h2h_exe, tmp_path):
    """A failing engine run ends with its one-line error (shown on the node), not a hang."""
    done = []
    job = nuke_build.Job([h2h_exe, "--progress", "json", "specs", "--bogus"],
                         on_done=lambda rc, m: done.append((rc, m)))
    assert job.start().wait(60) == 2 and done and done[0][0] == 2 and "unrecognized arguments" in done[0][1]


def test_render_range(nuke_build):
    spec = {"knobs": [{"name": "frames", "type": "frames"}]}
    ctx = nuke_build.HostContext(1001, 1100, 64, 64)
    assert nuke_build.render_range(spec, {"frames": ""}, ctx) == (1001, 1100)
    assert nuke_build.render_range(spec, {"frames": "1010-1020"}, ctx) == (1010, 1020)
    assert nuke_build.render_range({"knobs": []}, {}, ctx) == (1001, 1100)
    assert nuke_build.nuke_sequence_path("/a/comp.$F4.exr") == "/a/comp.####.exr"


def test_nuke_command_renders_the_script_range(specs_json, nuke_build, h2h_exe, env_threads, tmp_path, clip):
    """The command a Track Group runs, on a real clip: script range 0-4, progress lines, the output file."""
    from h2h_engine import Track

    spec = specs_json["track"]
    ctx = nuke_build.HostContext(0, 4, 256, 256, script=str(tmp_path / "sh010.nk"))
    values = {d.name: d.default for d in nuke_build.knob_descs(spec)}  # a fresh Group's knobs
    values["input"] = str(clip("W009_front_neutral"))
    values["output"] = nuke_build.default_output(ctx, "H2H_track1", spec["outputs"][0])
    assert values["output"] == str(tmp_path / "h2h" / "H2H_track1" / "output.h2h.npz")
    events, done = [], []
    job = nuke_build.Job(nuke_build.build_command(spec, values, ctx, h2h_exe),
                         on_progress=lambda *p: events.append(p),
                         on_done=lambda rc, m: done.append((rc, m)), env=env_threads)
    assert job.start().wait(300) == 0 and done == [(0, "")]
    assert Track.load(values["output"]).frames.tolist() == [0, 1, 2, 3, 4]
    assert events and all(t >= d >= 0 for d, t, _ in events)
    assert any(d == t and t > 0 for d, t, _ in events)  # finished stages report done == total
