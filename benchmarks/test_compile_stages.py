"""Compile time per stage, per model, and peers on the same graph (pytest-benchmark).

    python -m pytest benchmarks --benchmark-enable --benchmark-json=benchmarks/results.json

Figures and the machine they come from are in benchmarks/README.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest
from synthetic import synthetic_graph

from frontends.tensorflow.importer import import_graph_def
from frontends.tensorflow.loader import load_saved_model
from nir.examples import BUILDERS
from nir.passmanager import PassManager
from nir.pipeline import default_pipeline

MODELS = ["resnet50", "mobilenetv2", "transformer"]
PASSES = ["batch-specialize", "shape-inference", "canonicalize", "legalize", "cluster", "dce"]
SIZES = [1000, 5000, 20000, 50000]


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench-zoo")
    paths = {}
    for name in MODELS:
        paths[name] = str(root / name)
        BUILDERS[name](paths[name])
    return paths


@pytest.fixture(scope="session")
def loaded(models):
    return {name: load_saved_model(path) for name, path in models.items()}


@pytest.mark.parametrize("name", MODELS)
def test_load_and_freeze(benchmark, models, name):
    benchmark.group = f"{name}: stages"
    benchmark.pedantic(load_saved_model, args=(models[name],), rounds=2, iterations=1)


@pytest.mark.parametrize("name", MODELS)
def test_import_to_nir(benchmark, loaded, name):
    benchmark.group = f"{name}: stages"
    model = loaded[name]
    benchmark.pedantic(import_graph_def, args=(model.graph_def, model.signature), rounds=3, iterations=1)


@pytest.mark.parametrize("pass_name", PASSES)
@pytest.mark.parametrize("name", MODELS)
def test_pass(benchmark, loaded, name, pass_name):
    benchmark.group = f"{name}: stages"
    model = loaded[name]
    passes = default_pipeline().split(",")
    position = [p.split("{")[0] for p in passes].index(pass_name)

    def setup():
        module = import_graph_def(model.graph_def, model.signature)
        if position:
            PassManager.parse(",".join(passes[:position]), verify_each=False).run(module)
        return (module,), {}

    manager = PassManager.parse(passes[position], verify_each=False)
    benchmark.pedantic(manager.run, setup=setup, rounds=3, iterations=1)


@pytest.fixture(scope="session")
def clustered(loaded):
    """name -> (GraphDef with NeuronOps, signature) after the default pipeline."""
    from nir.saved_model import _export_with_neuron_ops

    out = {}
    for name, model in loaded.items():
        module = import_graph_def(model.graph_def, model.signature)
        PassManager.parse(default_pipeline(), verify_each=False).run(module)
        out[name] = (module, *_export_with_neuron_ops(module, False))
    return out


@pytest.mark.parametrize("name", MODELS)
def test_print_ir(benchmark, clustered, name):
    from nir.ir import print_module

    benchmark.group = f"{name}: stages"
    benchmark.pedantic(print_module, args=(clustered[name][0],), rounds=3, iterations=1)


@pytest.mark.parametrize("name", MODELS)
def test_export_to_neuron_ops(benchmark, clustered, name):
    from nir.saved_model import _export_with_neuron_ops

    benchmark.group = f"{name}: stages"
    benchmark.pedantic(_export_with_neuron_ops, args=(clustered[name][0], False), rounds=3, iterations=1)


@pytest.mark.parametrize("name", MODELS)
def test_emit_workdir(benchmark, clustered, name, tmp_path):
    from nir.saved_model import _emit

    benchmark.group = f"{name}: stages"
    _, graph_def, signature = clustered[name]
    runs = iter(range(100))

    def emit():
        workdir = str(tmp_path / f"work{next(runs)}")
        os.makedirs(workdir)
        _emit(graph_def, signature, workdir, "neuron-cc", [])

    benchmark.pedantic(emit, rounds=3, iterations=1)


@pytest.mark.parametrize("name", MODELS)
def test_relift(benchmark, clustered, name, tmp_path):
    from nir.saved_model import relift_graph

    benchmark.group = f"{name}: stages"
    _, graph_def, signature = clustered[name]

    def setup():
        copy = type(graph_def)()
        copy.CopyFrom(graph_def)
        return (copy, signature, str(tmp_path)), {}

    benchmark.pedantic(relift_graph, setup=setup, rounds=3, iterations=1)


@pytest.mark.parametrize("name", MODELS)
def test_write_saved_model(benchmark, clustered, name, tmp_path):
    from frontends.tensorflow.writer import write_saved_model
    from nir.saved_model import relift_graph

    benchmark.group = f"{name}: stages"
    _, graph_def, signature = clustered[name]
    copy = type(graph_def)()
    copy.CopyFrom(graph_def)
    final, final_signature, _ = relift_graph(copy, signature, str(tmp_path))
    runs = iter(range(100))
    benchmark.pedantic(
        lambda: write_saved_model(str(tmp_path / f"out{next(runs)}"), final, final_signature),
        rounds=3, iterations=1,
    )


def _compile_in_subprocess(model_dir: str) -> dict:
    """The whole `nir compile` in a fresh process: wall time and peak RSS (VmHWM: ru_maxrss
    would include this pytest process, which the child inherits across fork and exec)."""
    code = (
        "import json, resource, sys, time, warnings; warnings.simplefilter('ignore');"
        "t = time.perf_counter(); import nir;"
        "r = nir.saved_model.compile(sys.argv[1], sys.argv[2], progress=False);"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1];"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'peak_rss_mb': int(hwm) / 1024}))"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", code, model_dir, os.path.join(tmp, "out")],
            capture_output=True, text=True, check=True, env={**os.environ, "PATH": "/usr/bin:/bin"},
        )
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def _weight_bytes(model_dir: str) -> int:
    variables = os.path.join(model_dir, "variables")
    return sum(os.path.getsize(os.path.join(variables, f)) for f in os.listdir(variables))


@pytest.mark.parametrize("name", MODELS)
def test_whole_compile(benchmark, models, name):
    benchmark.group = "whole nir compile (fresh process, no neuron-cc)"
    results = []
    benchmark.pedantic(lambda: results.append(_compile_in_subprocess(models[name])), rounds=2, iterations=1)
    benchmark.extra_info["peak_rss_mb"] = max(r["peak_rss_mb"] for r in results)
    benchmark.extra_info["weight_mb"] = _weight_bytes(models[name]) / 2**20
    benchmark.extra_info["memory_target_mb"] = 3 * benchmark.extra_info["weight_mb"] + 500


@pytest.mark.parametrize("name", MODELS)
def test_peer_grappler_on_the_same_frozen_graph(benchmark, loaded, name):
    """TensorFlow's own Grappler (default optimizers) over the graph nir compiles."""
    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2, meta_graph_pb2
    from tensorflow.python.grappler import tf_optimizer

    benchmark.group = "peers"
    model = loaded[name]
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(model.graph_def, name="")
    meta_graph = tf.compat.v1.train.export_meta_graph(graph_def=model.graph_def, graph=graph)
    fetch = meta_graph_pb2.CollectionDef()
    fetch.node_list.value.extend(s.tensor_name.split(":")[0] for s in model.signature.outputs)
    meta_graph.collection_def["train_op"].CopyFrom(fetch)
    config = config_pb2.ConfigProto()
    benchmark.pedantic(tf_optimizer.OptimizeGraph, args=(config, meta_graph), rounds=3, iterations=1)


@pytest.mark.parametrize("name", MODELS)
def test_peer_nir_pipeline_on_the_same_frozen_graph(benchmark, loaded, name):
    """nir's import + default pipeline over the same graph, to compare with Grappler."""
    benchmark.group = "peers"
    model = loaded[name]

    def run():
        module = import_graph_def(model.graph_def, model.signature)
        PassManager.parse(default_pipeline(), verify_each=False).run(module)

    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.fixture(scope="session")
def synthetic():
    return {size: synthetic_graph(size) for size in SIZES}


@pytest.mark.parametrize("size", SIZES)
def test_synthetic_import_and_pipeline(benchmark, synthetic, size):
    benchmark.group = "synthetic graphs: import + default pipeline"
    graph_def, signature = synthetic[size]

    def run():
        module = import_graph_def(graph_def, signature)
        PassManager.parse(default_pipeline(), verify_each=False).run(module)

    benchmark.pedantic(run, rounds=2, iterations=1)
    benchmark.extra_info["ops"] = len(graph_def.node)


@pytest.mark.parametrize("instrumented", [False, True], ids=["bare-xdsl-pipeline", "nir-passmanager-off"])
def test_pass_manager_overhead(benchmark, synthetic, instrumented):
    """nir's PassManager with instrumentation off vs xDSL's PassPipeline on the same passes."""
    from xdsl.passes import PassPipeline

    from nir.ir import make_context

    benchmark.group = "pass manager overhead (20k-op graph)"
    graph_def, signature = synthetic[20000]
    manager = PassManager.parse(default_pipeline(), verify_each=False)

    def setup():
        return (import_graph_def(graph_def, signature),), {}

    if instrumented:
        benchmark.pedantic(manager.run, setup=setup, rounds=3, iterations=1)
    else:
        pipeline = PassPipeline(tuple(manager.passes))
        benchmark.pedantic(lambda m: pipeline.apply(make_context(), m), setup=setup, rounds=3, iterations=1)

