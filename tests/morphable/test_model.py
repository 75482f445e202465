from dataclasses import replace

import numpy as np
import pytest

from h2h_engine.errors import InputError
from h2h_engine.morphable import REGIONS, MorphableModel, import_ict
from h2h_engine.morphable.registry import ict_source, resolve_model_path
from h2h_engine.render.nmfc import render_mesh


def test_ict_model_contents(model):
    assert model.name == "ict-facekit-light"
    assert model.mean.shape == (26719, 3)
    assert model.id_basis.shape == (100, 26719, 3)
    assert model.exp_basis.shape == (53, 26719, 3)
    assert model.expressions[model.expression_index("jawOpen")] == "jawOpen"
    # quads split into triangles; every index valid
    assert model.triangles.max() < model.n_vertices and model.triangles.min() >= 0
    # the ICT face region has 18,461 triangles once quads are split
    assert len(model.region_triangles("face")) == 18461
    assert model.landmarks.shape == (68,)
    assert model.region[model.landmarks].max() <= REGIONS.index("face_outer")  # all 68 on the face
    assert model.nmfc.min() == 0.0 and model.nmfc.max() == 1.0
    assert len(model.contour_left) == len(model.contour_right) == 17


def test_identity_modes_are_scaled_pca(model):
    # modes ordered by decreasing energy, so unit-variance coefficients are a sensible prior
    norms = np.linalg.norm(model.id_basis.reshape(100, -1), axis=1)
    assert norms[0] > 10 * norms[-1]


def test_jaw_open_moves_chin_down(model):
    chin = model.landmarks[8]
    delta = model.exp_basis[model.expression_index("jawOpen"), chin]
    assert delta[1] < -1.0  # model units are cm, +y up


def test_roundtrip(tmp_path, model):
    path = tmp_path / "m.h2hmm.npz"
    model.save(path)
    back = MorphableModel.load(path)
    assert back.digest == model.digest
    np.testing.assert_array_equal(back.triangles, model.triangles)
    np.testing.assert_array_equal(back.exp_basis, model.exp_basis)


def _relabelled(model, regions: tuple[str, ...], label_of: dict[str, str]) -> MorphableModel:
    """The model with another region table: each ICT region renamed by ``label_of`` (default: kept) and
    numbered by its position in ``regions``, as an importer of another 3DMM would write it."""
    lut = np.array([regions.index(label_of.get(name, name)) for name in REGIONS], np.uint8)
    return replace(model, region=lut[model.region], regions=regions)


def test_region_table_of_the_file_is_honoured(tmp_path, model):
    """An importer for another 3DMM fills its own ``regions`` header: labels in another order, other names."""
    shuffled = tuple(reversed(REGIONS)) + ("unused",)
    path = tmp_path / "other.h2hmm.npz"
    _relabelled(model, shuffled, {}).save(path)
    other = MorphableModel.load(path)
    assert other.regions == shuffled and other.digest == model.digest  # tracks of the model still apply
    assert not np.array_equal(other.region, model.region)
    for names in ("face_narrow", "face", "mouth", "eyeballs,head", ["iris_left", "teeth"]):
        assert np.array_equal(other.region_mask(names), model.region_mask(names)), names
    ref, got = render_mesh(model, ("face_narrow",)), render_mesh(other, ("face_narrow",))
    assert np.array_equal(ref.vertices, got.vertices) and np.array_equal(ref.triangles, got.triangles)
    # a coarser 3DMM: only a face and the rest; groups stand for the members it has
    coarse = _relabelled(model, ("rest", "face_narrow"),
                         {r: "rest" for r in REGIONS if r != "face_narrow"})
    assert np.array_equal(coarse.region_mask("face"), model.region_mask("face_narrow"))
    with pytest.raises(ValueError, match="has no region 'mouth'; its regions: rest, face_narrow"):
        coarse.region_mask("mouth")


def test_region_labels_beyond_the_header_are_refused(tmp_path, model):
    path = tmp_path / "bad.h2hmm.npz"
    replace(model, regions=REGIONS[:3]).save(path)
    with pytest.raises(InputError, match="region labels go up to 15 but its header names 3 regions"):
        MorphableModel.load(path)


def test_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        MorphableModel.load(tmp_path / "missing.h2hmm.npz")
    junk = tmp_path / "junk.h2hmm.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a head2head model"):
        MorphableModel.load(junk)
    with pytest.raises(InputError, match="not the ICT"):
        (tmp_path / "empty").mkdir()
        import_ict(tmp_path / "empty")


def test_ict_archive_comes_only_from_the_environment(tmp_path, monkeypatch):
    """The installed package never looks beside itself for ../shared: with an empty cache and no
    H2H_ICT_SOURCE the built-in model is a clear error, even inside a checkout that has the archive."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("H2H_MODEL_PATH", raising=False)
    monkeypatch.delenv("H2H_ICT_SOURCE", raising=False)
    assert ict_source() is None
    with pytest.raises(InputError, match="H2H_ICT_SOURCE is not set.*import-ict"):
        resolve_model_path("ict")
    monkeypatch.setenv("H2H_ICT_SOURCE", str(tmp_path / "missing.tar.xz"))
    with pytest.raises(InputError, match="missing.tar.xz does not exist"):
        resolve_model_path("ict")
    assert not (tmp_path / "cache").exists()  # nothing half-imported


def test_import_cli(tmp_path):
    from h2h_engine.cli import main

    src = ict_source()
    if src is None or not src.exists():
        pytest.skip("shared ICT archive not found")
    out = tmp_path / "ict.h2hmm.npz"
    assert main(["model", "import-ict", str(src), "-o", str(out)]) == 0
    assert MorphableModel.load(out).n_exp == 53


def test_shape_of_a_frame_does_not_depend_on_the_batch(model):
    """Farm chunks render frames in other batches than the whole shot: vertices must be bit-identical."""
    rng = np.random.default_rng(3)
    ident = rng.normal(size=model.n_id).astype(np.float32)
    exp = rng.uniform(0, 1, size=(37, model.n_exp)).astype(np.float32)
    whole = model.shape(ident, exp)
    for a, b in ((0, 5), (5, 6), (6, 37), (17, 23)):
        assert np.array_equal(model.shape(ident, exp[a:b]), whole[a:b])
    assert np.array_equal(model.shape(ident, exp[9]), whole[9])
    sel = np.arange(0, model.n_vertices, 7)
    part = model.shape(ident, exp, vertices=sel)
    assert np.array_equal(model.shape(ident, exp[3:8], vertices=sel), part[3:8])


def test_shape_equals_the_linear_model_in_float64(model):
    """The native blendshape kernel is the model's definition, mean + id . id_basis + exp . exp_basis."""
    rng = np.random.default_rng(4)
    ident = rng.normal(size=model.n_id).astype(np.float32)
    exp = rng.uniform(0, 1, size=(5, model.n_exp)).astype(np.float32)
    exp[:, ::3] = 0  # zero coefficients are skipped by the kernel
    ref = (model.mean.astype(np.float64) + np.tensordot(ident.astype(np.float64), model.id_basis, axes=1))[None] \
        + np.tensordot(exp.astype(np.float64), model.exp_basis, axes=1)
    got = model.shape(ident, exp)
    assert got.dtype == np.float32 and got.shape == (5, model.n_vertices, 3)
    assert np.abs(got - ref).max() < 1e-4 * np.abs(ref).max()
    sel = np.arange(3, model.n_vertices, 11)
    mask = np.zeros(model.n_vertices, bool)
    mask[sel] = True
    assert np.array_equal(model.shape(ident, exp, vertices=sel), got[:, sel])
    assert np.array_equal(model.shape(ident, exp, vertices=mask), got[:, sel])


def _fixed_order_sum(base: np.ndarray, basis: np.ndarray, coefs: np.ndarray) -> np.ndarray:
    """The kernel's promise in numpy: (K, 3) base + sum over e ascending of coefs[:, e] * basis[e] in float32,
    one multiply and one add per term, zero coefficients skipped."""
    acc = np.repeat(base[None], len(coefs), axis=0)
    for e in range(len(basis)):
        c = coefs[:, e, None, None]
        acc = np.where(c != 0, acc + c * basis[e][None], acc)
    return acc


def test_shape_is_the_fixed_order_sum_bit_for_bit(model):
    """The register-blocked kernel (4 frames x 12 values, tails, threads) gives exactly the in-order float32 sum,
    for the whole model (a tail of values) and for a gathered vertex subset."""
    rng = np.random.default_rng(5)
    ident = rng.normal(size=model.n_id).astype(np.float32)
    exp = rng.uniform(0, 1, size=(7, model.n_exp)).astype(np.float32)
    exp[rng.random(exp.shape) < 0.4] = 0
    base = _fixed_order_sum(model.mean, model.id_basis, ident[None])[0]
    assert model.shape(ident).tobytes() == base.tobytes()
    assert model.shape(ident, exp).tobytes() == _fixed_order_sum(base, model.exp_basis, exp).tobytes()
    sel = rng.choice(model.n_vertices, 1001, replace=False)
    want = _fixed_order_sum(base[sel], model.exp_basis[:, sel], exp)
    assert model.shape(ident, exp, vertices=sel).tobytes() == want.tobytes()
    with pytest.raises(ValueError, match="vertices must be"):
        model.shape(ident, exp, vertices=np.array([-1]))
