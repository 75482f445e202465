"""``h2h_engine/_native.pyi`` describes the built module: every constant has the declared type and every
declared function exists (the CUDA launcher only in CUDA builds)."""
import ast
import builtins
import inspect
from pathlib import Path

from h2h_engine import _native

STUB = Path(inspect.getfile(_native)).with_name("_native.pyi")


def test_stub_matches_the_module():
    tree = ast.parse(STUB.read_text())
    constants = {n.target.id: n.annotation.id for n in tree.body if isinstance(n, ast.AnnAssign)}
    functions = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert constants == {"has_cuda": "bool", "raster_subpixel_bits": "int", "raster_guard_band": "float"}
    for name, type_name in constants.items():
        assert type(getattr(_native, name)) is getattr(builtins, type_name), f"{name}: {type_name} in the stub"
    missing = [f for f in functions if not hasattr(_native, f) and not (f.endswith("_cuda") and not _native.has_cuda)]
    assert not missing, f"declared in {STUB.name} but not built: {missing}"
    built = [f for f in dir(_native) if callable(getattr(_native, f)) and not f.startswith("_")]
    assert set(built) <= set(functions), f"built but not declared: {sorted(set(built) - set(functions))}"
