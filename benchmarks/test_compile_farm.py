"""The compile farm on Ray: one model of seven clusters, each compile a stand-in that sleeps
4 s (a real neuron-cc run takes minutes), on a local Ray instance of 1 and of 2 workers.

    python -m pytest benchmarks/test_compile_farm.py --benchmark-enable --benchmark-json=benchmarks/farm.json

Two workers should take about half the time of one (4 rounds of jobs instead of 7): the jobs
are independent, and Ray places one per CPU it was given. The model is the tests' encoder cut
into seven clusters by a small max-cluster-bytes; the compile cache is off, so every round compiles every cluster.
"""

from __future__ import annotations

import pytest
from stand_ins import write_launcher
from zoo import BUILDERS

import nir

SLEEP_SECONDS = 4


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("farm") / "encoder")
    BUILDERS["encoder"](path)
    return path


@pytest.mark.parametrize("workers", [1, 2])
def test_ray_workers(benchmark, encoder, tmp_path, workers):
    ray = pytest.importorskip("ray")
    compiler = write_launcher(str(tmp_path), env={"FAKE_NEURON_CC_SLEEP": SLEEP_SECONDS})
    ray.init(num_cpus=workers, include_dashboard=False, logging_level="ERROR")
    rounds = iter(range(10))
    reports = []
    try:
        benchmark.pedantic(
            lambda: reports.append(nir.saved_model.compile(
                encoder, str(tmp_path / f"out{next(rounds)}"), neuron_cc=compiler, executor="ray",
                compile_cache=False, progress=False, max_cluster_bytes=18000,
            )),
            rounds=2, iterations=1,
        )
    finally:
        ray.shutdown()
    benchmark.group = f"Ray compile farm: {reports[0]['NumClusters']} clusters of a {SLEEP_SECONDS} s compile"
    benchmark.extra_info["clusters"] = reports[0]["NumClusters"]
    benchmark.extra_info["workers"] = workers
    assert all(r["NumCompiledClusters"] == r["NumClusters"] >= 6 for r in reports)
