"""The tests' zoo compiled for each target, with the tests' compiler stand-ins (pytest-benchmark).

    python -m pytest benchmarks/test_targets.py --benchmark-enable --benchmark-json=benchmarks/targets.json
    python benchmarks/targets_table.py benchmarks/targets.json    # the README's columns

Recorded per model and target in `extra_info`: clusters, compiled clusters, OnNeuronRatio; for
inferentia2, the time tf2xla spent lowering each cluster to HLO (`lowering_seconds_per_cluster`)
and in all (`lowering_seconds`, HLO text included); each cluster is lowered once: emission
reuses the lowering of `lower-clusters`. The benchmark's
own figure is the whole compile (min of 3 rounds for ResNet50, 1 for the others), so ResNet50's
inferentia2 row against its inferentia row is what HLO lowering adds.
"""

from __future__ import annotations

import shutil
import time

import pytest
from records import assert_no_worse_than_recorded, recorded_rows

from nir.examples import BUILDERS

MODELS = ["resnet50", "mobilenetv2", "two_io", "transformer", "tf1_two_signatures", "control_flow",
          "efficientnetb0", "convnext_tiny", "encoder", "lstm"]
TARGETS = ["inferentia", "inferentia2"]


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("targets")


@pytest.fixture(scope="session")
def compilers(tmp_path_factory) -> dict[str, str]:
    from stand_ins import FAKE_NEURONX_CC, write_launcher

    folder = str(tmp_path_factory.mktemp("compilers"))
    return {"inferentia": write_launcher(folder), "inferentia2": write_launcher(folder, FAKE_NEURONX_CC, "neuronx-cc")}


@pytest.fixture()
def lowering_clock(monkeypatch):
    """Seconds spent in tf2xla (lower_cluster calls that missed the cache)."""
    import backends.neuronx.lowering as lowering

    spent = {"seconds": 0.0, "clusters": 0, "per_cluster": []}
    original = lowering._jit_function

    def timed(*args):
        started = time.perf_counter()
        function, specs, pruned = original(*args)
        compiler_ir = function.experimental_get_compiler_ir

        def measured(*specs_):
            inner = compiler_ir(*specs_)

            def run(stage):
                begun = time.perf_counter()
                try:
                    return inner(stage=stage)
                finally:
                    took = time.perf_counter() - begun
                    spent["seconds"] += took
                    if stage == "hlo_serialized":
                        spent["clusters"] += 1
                        spent["per_cluster"].append(round(took, 3))

            return run

        function.experimental_get_compiler_ir = measured
        spent["seconds"] += time.perf_counter() - started
        return function, specs, pruned

    monkeypatch.setattr(lowering, "_jit_function", timed)
    return spent


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", MODELS)
def test_compile_for_target(benchmark, workspace, compilers, lowering_clock, name, target):
    import nir as tfn

    benchmark.group = f"zoo per target: {name}"
    model_dir = str(workspace / name)
    if not (workspace / name).exists():
        BUILDERS[name](model_dir)
    out = str(workspace / f"{name}-{target}")
    reports = []

    def setup():
        shutil.rmtree(out, ignore_errors=True)
        lowering_clock.update(seconds=0.0, clusters=0, per_cluster=[])  # report the last round

    def compile_once():
        reports.append(tfn.saved_model.compile(model_dir, out, target=target, neuron_cc=compilers[target], progress=False))

    # ResNet50's two rows are the measure of what lowering adds (limit +50%): min of 3 there.
    benchmark.pedantic(compile_once, setup=setup, rounds=3 if name == "resnet50" else 1, iterations=1)
    report = reports[-1]
    benchmark.extra_info.update({
        "model": name, "target": target, "clusters": report["NumClusters"], "compiled": report["NumCompiledClusters"],
        "on_neuron_ratio": round(report["OnNeuronRatio"], 4),
    })
    recorded = recorded_rows("targets.json").get((("name", name), ("target", target)))
    assert_no_worse_than_recorded(report, recorded, f"{name} for {target}")
    if target == "inferentia2":
        benchmark.extra_info["lowering_seconds"] = round(lowering_clock["seconds"], 3)
        benchmark.extra_info["lowered_clusters"] = lowering_clock["clusters"]
        benchmark.extra_info["lowering_seconds_per_cluster"] = lowering_clock["per_cluster"]
