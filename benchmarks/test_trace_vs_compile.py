"""nir.trace against saved_model.compile on the same model (pytest-benchmark).

    python -m pytest benchmarks/test_trace_vs_compile.py --benchmark-enable --benchmark-json=benchmarks/trace.json

ResNet50 with random weights, batch 1, the tests' neuron-cc stand-in, the compile cache off:
`compile` starts from the model exported as a SavedModel, `trace` from the live Keras model and
an example tensor. Both run the same pipeline, compiler and relift; what differs is how the
graph is obtained (loading and freezing the SavedModel against TensorFlow tracing and freezing
the function) and how the result is handed back (a SavedModel written against a model kept in
memory). Each is timed as the min of 3 rounds; `extra_info` records both minima and their ratio,
which benchmarks/README.md quotes (issue 22 asks for trace <= 1.3 x compile).
"""

from __future__ import annotations

import itertools
import os

import pytest

RESULTS: dict[str, float] = {}
ROUNDS = 3


@pytest.fixture(scope="module")
def resnet50(tmp_path_factory):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None)
    path = str(tmp_path_factory.mktemp("resnet50") / "saved")
    model.export(path, verbose=False)
    return model, path, tf.random.uniform([1, 224, 224, 3])


@pytest.fixture(scope="module")
def neuron_cc(tmp_path_factory):
    from stand_ins import write_launcher

    return write_launcher(str(tmp_path_factory.mktemp("bin")))


@pytest.fixture(autouse=True)
def no_compile_cache(monkeypatch):
    monkeypatch.setenv("NIR_COMPILE_CACHE", "off")


def test_compile_resnet50(benchmark, resnet50, neuron_cc, tmp_path):
    import nir

    _, saved, _ = resnet50
    outputs = (str(tmp_path / f"out{i}") for i in itertools.count())

    def run():
        return nir.saved_model.compile(saved, next(outputs), neuron_cc=neuron_cc, progress=False)

    report = benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    assert report["NumCompiledClusters"] == report["NumClusters"] == 1
    RESULTS["compile"] = benchmark.stats.stats.min
    benchmark.extra_info.update(seconds_min=RESULTS["compile"], on_neuron_ratio=report["OnNeuronRatio"])


def test_trace_resnet50(benchmark, resnet50, neuron_cc):
    import nir

    model, _, example = resnet50
    traced = benchmark.pedantic(lambda: nir.trace(model, example, neuron_cc=neuron_cc, progress=False),
                                rounds=ROUNDS, iterations=1)
    assert traced.report["NumCompiledClusters"] == traced.report["NumClusters"] == 1
    RESULTS["trace"] = benchmark.stats.stats.min
    benchmark.extra_info.update(seconds_min=RESULTS["trace"], on_neuron_ratio=traced.on_neuron_ratio)
    if "compile" in RESULTS:
        benchmark.extra_info["trace_over_compile"] = RESULTS["trace"] / RESULTS["compile"]
        print(f"\ntrace {RESULTS['trace']:.2f} s, compile {RESULTS['compile']:.2f} s, "
              f"ratio {RESULTS['trace'] / RESULTS['compile']:.2f}{os.linesep}")
