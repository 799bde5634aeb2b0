"""nir's packages depend on each other in one direction only; this test reads every import
(function-local ones too) and fails on any that goes the other way.

    core       nir.errors, nir.ir, nir.passmanager, nir.target: the IR, the pass manager, the
               target interface. Imports nothing of the layers above.
    frontends  the TensorFlow bridge (SavedModel/GraphDef <-> IR, running TF on a few ops).
    passes     the transformations; they reach targets through nir.target only.
    backends   targets and compilers; they register themselves with nir.target.
    api        nir.saved_model, nir.cli, nir.pipeline, nir.explain, ...: may use everything.

A module whose name has a part starting with `_` (not `__init__`) is private to its top-level
package.
"""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("nir", "frontends", "passes", "backends")
CORE = ("nir.errors", "nir.ir", "nir.passmanager", "nir.target")
RANKS = {"core": 0, "frontends": 1, "passes": 2, "backends": 3, "api": 4}


def layer(module: str) -> str:
    if any(module == c or module.startswith(c + ".") for c in CORE):
        return "core"
    top = module.split(".")[0]
    return "api" if top == "nir" else top


def source_modules() -> dict[str, str]:
    modules = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    modules[module.removesuffix(".__init__")] = path
    return modules


def imports_of(path: str, known: set[str]) -> list[tuple[str, int]]:
    """(imported module, line) for every import of nir's own packages in the file: import
    statements (function-local ones too), and module names written as strings (what
    `importlib.import_module` and nir/__init__'s lazy table load)."""
    found = []
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.append((submodule if submodule in known else node.module, node.lineno))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value and node.value in known:
            found.append((node.value, node.lineno))
    return [(m, line) for m, line in found if m.split(".")[0] in PACKAGES]


def violation(importer: str, imported: str) -> str | None:
    """Why `importer` may not import `imported`, or None."""
    private = [p for p in imported.split(".")[1:] if p.startswith("_") and not p.startswith("__")]
    if private and imported.split(".")[0] != importer.split(".")[0]:
        return f"{imported} is private to the {imported.split('.')[0]} package"
    if imported == "nir" and layer(importer) == "core":
        return "core imports the nir package (the API layer)"
    low, high = layer(importer), layer(imported)
    if RANKS[high] > RANKS[low]:
        return f"{low} may not import {high}"
    return None


def test_every_import_goes_down_the_layers():
    modules = source_modules()
    problems = []
    for module, path in sorted(modules.items()):
        for imported, line in imports_of(path, set(modules)):
            why = violation(module, imported)
            if why:
                problems.append(f"{os.path.relpath(path, ROOT)}:{line}: imports {imported}: {why}")
    assert not problems, "\n".join(problems)


# The edges this check was written against (each existed once); it must refuse them all.
BACK_EDGES = [
    ("passes.legalize", "backends.inferentia.target"),
    ("passes.cluster", "backends.inferentia.target"),
    ("passes.lower_clusters", "backends.inferentia.neuron_op"),
    ("passes.legalize", "backends.target"),
    ("backends.inferentia.neuron_op", "passes._util"),
    ("nir.explain", "passes._util"),
    ("nir.passmanager.manager", "nir.partition_svg"),
    ("nir.ir.verifier", "passes.shape_inference"),
    ("frontends.tensorflow.importer", "passes.control_flow"),
    ("nir.target", "backends.inferentia.target"),
]


@pytest.mark.parametrize(("importer", "imported"), BACK_EDGES)
def test_the_check_refuses_each_back_edge(importer, imported):
    assert violation(importer, imported) is not None


def test_module_names_in_strings_count_as_imports(tmp_path):
    source = tmp_path / "registry.py"
    source.write_text('import importlib\nBUILTIN = ("passes.dce",)\nimportlib.import_module("backends.driver")\n')
    found = {m for m, _ in imports_of(str(source), {"passes.dce", "backends.driver"})}
    assert found == {"passes.dce", "backends.driver"}


def module_graph():
    """importer -> the nir modules it imports, in any way imports_of sees."""
    import networkx as nx

    modules = source_modules()
    graph = nx.DiGraph()
    for module, path in modules.items():
        graph.add_node(module)
        for imported, _ in imports_of(path, set(modules)):
            while imported not in modules and "." in imported:
                imported = imported.rpartition(".")[0]
            if imported in modules and imported != module and not module.startswith(imported + "."):
                graph.add_edge(module, imported)
    return graph


def test_no_import_cycle():
    """No module reaches itself through imports, function-local ones included: a cycle hidden
    in a function is still two modules that cannot be understood (or moved) apart."""
    import networkx as nx

    cycles = [sorted(c) for c in nx.strongly_connected_components(module_graph()) if len(c) > 1]
    assert not cycles, cycles


# A module-level comment starting with this covers every function-local import of the module.
MODULE_REASON = "# Local imports:"


def local_imports_without_reason(path: str) -> list[int]:
    """Lines of function-local imports of nir's packages with no comment saying why: on the
    line, above it (or above the block of imports it is in), or for the whole module."""
    text = open(path).read()
    if any(line.startswith(MODULE_REASON) for line in text.splitlines()):
        return []
    lines = text.splitlines()
    missing = []
    for fn in ast.walk(ast.parse(text, path)):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            if not module or module.split(".")[0] not in PACKAGES or "#" in lines[node.lineno - 1]:
                continue
            above = node.lineno - 2
            while above >= 0 and lines[above].strip().startswith(("from ", "import ", ")")) or (
                above >= 0 and lines[above].startswith(" " * 8) and lines[above].strip().endswith(",")
            ):
                above -= 1
            if above < 0 or not lines[above].strip().startswith("#"):
                missing.append(node.lineno)
    return missing


def test_function_local_imports_say_why():
    """nir imports its own modules at the top; an import inside a function is there to keep
    TensorFlow or Ray from loading where they are not needed, and says so."""
    problems = [
        f"{os.path.relpath(path, ROOT)}:{line}"
        for path in source_modules().values() for line in local_imports_without_reason(path)
    ]
    assert not problems, "function-local imports without a reason comment: " + ", ".join(problems)


def test_the_reason_check_sees_a_bare_local_import(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    x = 1\n    from nir.ir import parse_module\n    return parse_module\n")
    assert local_imports_without_reason(str(source)) == [3]
    source.write_text("def f():\n    # Imported here: a reason.\n    from nir.ir import parse_module\n    return parse_module\n")
    assert local_imports_without_reason(str(source)) == []


def test_ruff_is_clean():
    """pyflakes (unused imports, undefined names) and isort, as configured in pyproject.toml."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", ROOT], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_the_ir_loads_the_ir_alone():
    """`import nir.ir` (what a pass author or a plug-in starts with) loads the IR, not the API,
    the frontends, the passes, the backends or TensorFlow: nir/__init__ loads its public names
    on first use."""
    import subprocess
    import sys

    script = "import sys, nir.ir; print('\\n'.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True,
                            cwd=ROOT).stdout.split()
    ours = [m for m in loaded if m.split(".")[0] in PACKAGES]
    assert ours and all(layer(m) == "core" or m == "nir" for m in ours), ours
    assert "nir.saved_model" not in loaded and "tensorflow" not in loaded


def test_public_names_resolve_on_first_use():
    import nir

    for name in nir.__all__:
        assert getattr(nir, name) is not None, name
    assert callable(nir.trace) and nir.trace.__module__ == "nir.tracing"
    assert nir.saved_model.compile.__module__ == "nir.saved_model"
