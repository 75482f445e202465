"""Versioned file schemas: tags parsed, older versions upgraded by registered steps, newer ones refused; the
golden version-1 files in tests/golden/ (written by this engine's first file formats) keep loading."""
import json
from pathlib import Path

import numpy as np
import pytest

from h2h_engine import Track
from h2h_engine import track as track_module
from h2h_engine.errors import CheckpointError, InputError
from h2h_engine.io import schema
from h2h_engine.morphable import MorphableModel
from h2h_engine.nodes.render_nmfc import read_boxes
from h2h_engine.synthesis.checkpoint import load_generator, read_checkpoint

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.fixture()
def upgrades(monkeypatch):
    """The upgrade registry, restored after the test (steps registered here stay test-local)."""
    monkeypatch.setattr(schema, "_UPGRADES", dict(schema._UPGRADES))
    return schema


def test_parse():
    assert schema.parse("H2HTrack.1") == ("H2HTrack", 1) and schema.parse("H2HBoxes.12") == ("H2HBoxes", 12)
    for bad in ("H2HTrack", "H2HTrack.0", "H2HTrack.1.2", "H2HTrack.x", 3, None, ".1"):
        assert schema.parse(bad) is None, bad


def test_upgrades_run_step_by_step_and_refuse_what_they_cannot(upgrades):
    @upgrades.register_upgrade("H2HExample", 1)
    def _one_to_two(doc):
        return {**{k: v for k, v in doc.items() if k != "rate"}, "fps": float(doc["rate"])}

    @upgrades.register_upgrade("H2HExample", 2)
    def _two_to_three(doc):
        return {**doc, "size": list(doc["size"])[::-1]}

    old = {"schema": "H2HExample.1", "rate": 25, "size": [480, 640]}
    assert upgrades.upgrade(old, "H2HExample.3", "example") == {"schema": "H2HExample.3", "fps": 25.0,
                                                               "size": [640, 480]}
    assert upgrades.upgrade({"schema": "H2HExample.3"}, "H2HExample.3", "example") == {"schema": "H2HExample.3"}
    with pytest.raises(InputError, match="example is H2HExample.4, written by a newer head2head; this engine "
                                         "reads up to H2HExample.3: upgrade h2h-engine"):
        upgrades.upgrade({"schema": "H2HExample.4"}, "H2HExample.3", "example")
    with pytest.raises(InputError, match="has schema 'Other.1'; this engine reads H2HExample.3"):
        upgrades.upgrade({"schema": "Other.1"}, "H2HExample.3", "example")
    with pytest.raises(CheckpointError, match="is H2HExample.3 and this engine has no upgrade from it to H2HExample.4"):
        upgrades.upgrade({"schema": "H2HExample.3"}, "H2HExample.4", "example", CheckpointError)
    with pytest.raises(ValueError, match="registered twice"):
        upgrades.register_upgrade("H2HExample", 1)(_one_to_two)


def test_golden_v1_files_load():
    track = Track.load(GOLDEN / "track_v1.h2h.npz")
    assert list(track.frames) == [0, 1, 2] and track.landmarks.shape == (3, 68, 2)
    assert track.model_name == "ict-facekit-light" and track.image_size == (360, 288)
    model = MorphableModel.load(GOLDEN / "model_v1.h2hmm.npz")
    assert model.name == "golden-tiny" and model.regions == ("face_narrow", "head_neck") and model.n_exp == 3
    assert model.region_mask("face").sum() == 40
    boxes = read_boxes(GOLDEN / "boxes_v1.json")
    assert boxes["frames"] == [0, 1, 2] and np.asarray(boxes["mouth_boxes"]).shape == (3, 4)
    assert boxes["size"] == [64, 64] and len(boxes["crop_box"]) == 4
    gen, data = load_generator(GOLDEN / "checkpoint_v1.pt")
    assert data["morphable_digest"] == track.model_digest and sum(p.numel() for p in gen.parameters()) == 9691


def test_an_older_track_is_upgraded_through_the_loader(upgrades, monkeypatch):
    """What a format bump looks like: the engine reads H2HTrack.2, the golden file is .1, a registered step
    upgrades it on load (here: version 2 would move the detector's name out of meta)."""
    @upgrades.register_upgrade("H2HTrack", 1)
    def _track_1_to_2(doc):
        return {**doc, "detector": doc["meta"].get("detector", "hog")}

    monkeypatch.setattr(track_module, "SCHEMA", "H2HTrack.2")
    track = Track.load(GOLDEN / "track_v1.h2h.npz")
    assert list(track.frames) == [0, 1, 2]
    header, _ = track_module.load_npz(GOLDEN / "track_v1.h2h.npz", ("frames",), "H2HTrack.2", "track file")
    assert header["schema"] == "H2HTrack.2" and header["detector"] == "hog"


def _with_schema(src: Path, dst: Path, tag: str) -> Path:
    with np.load(src) as z:
        arrays = {n: z[n] for n in z.files}
    header = {**json.loads(bytes(arrays.pop("header")).decode()), "schema": tag}
    np.savez(dst, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    return dst


def test_newer_files_are_refused_with_a_clear_message(tmp_path):
    newer = _with_schema(GOLDEN / "track_v1.h2h.npz", tmp_path / "newer.h2h.npz", "H2HTrack.2")
    with pytest.raises(InputError, match=r"newer\.h2h\.npz is H2HTrack\.2, written by a newer head2head"):
        Track.load(newer)
    model = _with_schema(GOLDEN / "model_v1.h2hmm.npz", tmp_path / "m.h2hmm.npz", "H2HModel.7")
    with pytest.raises(InputError, match="H2HModel.7, written by a newer head2head; this engine reads up to "
                                         "H2HModel.1"):
        MorphableModel.load(model)
    boxes = tmp_path / "b.boxes.json"
    boxes.write_text(json.dumps({**json.loads((GOLDEN / "boxes_v1.json").read_text()), "schema": "H2HBoxes.2"}))
    with pytest.raises(InputError, match="boxes sidecar .* is H2HBoxes.2, written by a newer head2head"):
        read_boxes(boxes)
    import torch

    ckpt = torch.load(GOLDEN / "checkpoint_v1.pt", weights_only=True)
    torch.save({**ckpt, "schema": "H2HCheckpoint.2"}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="is H2HCheckpoint.2, written by a newer head2head"):
        read_checkpoint(tmp_path / "c.pt")
    (tmp_path / "junk.boxes.json").write_text("{not json")
    with pytest.raises(InputError, match="is not JSON"):
        read_boxes(tmp_path / "junk.boxes.json")
