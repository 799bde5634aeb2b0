"""`nir opt` as a researcher runs it: a fresh process on a dump of 1,000 ops with `dce`.

    python -m pytest benchmarks/test_opt_startup.py --benchmark-enable

Parsing the dump (constant literals included) and running dce need neither TensorFlow nor its
start-up of seconds; the target is under 2 s, process start included.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from synthetic import synthetic_graph

from frontends.tensorflow.importer import import_graph_def
from nir.ir import print_module


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> str:
    graph_def, signature = synthetic_graph(1000)
    path = tmp_path_factory.mktemp("opt") / "dump.mlir"
    path.write_text(print_module(import_graph_def(graph_def, signature)))
    return str(path)


def test_opt_dce_on_1000_ops(benchmark, dump):
    benchmark.group = "nir opt (fresh process)"
    check = "import sys, nir.cli; code = nir.cli.main(['opt', sys.argv[1], '-p', 'tf-dce', '-o', '/dev/null']); " \
            "assert code == 0 and 'tensorflow' not in sys.modules, code"
    benchmark.pedantic(lambda: subprocess.run([sys.executable, "-c", check, dump], check=True), rounds=5, iterations=1)
    benchmark.extra_info["ops"] = 1000
