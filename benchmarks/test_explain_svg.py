"""Drawing the partition (`nir explain --svg`) of a synthetic graph of about 100 clusters, with
nir's own layered layout and, when installed, Graphviz dot. The target is under 5 s.

    python -m pytest benchmarks/test_explain_svg.py --benchmark-enable
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import pytest
from synthetic import synthetic_graph

from frontends.tensorflow.importer import import_graph_def
from nir.explain import explain_module
from nir.partition_svg import partition_svg
from nir.passmanager import PassManager
from nir.pipeline import default_pipeline

OPS_FOR_100_CLUSTERS = 4400


@pytest.fixture(scope="module")
def partitioned():
    graph_def, signature = synthetic_graph(OPS_FOR_100_CLUSTERS)
    module = import_graph_def(graph_def, signature)
    PassManager.parse(default_pipeline()).run(module)
    return module


@pytest.mark.parametrize("layout", ["python", "dot"])
def test_draw_100_clusters(benchmark, partitioned, layout):
    if layout == "dot" and shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    benchmark.group = "explain --svg, synthetic graph"
    pictures = []
    benchmark.pedantic(lambda: pictures.append(partition_svg(partitioned, layout)), rounds=3, iterations=1)
    report = explain_module(partitioned)
    benchmark.extra_info["clusters"] = len(report["clusters"])
    benchmark.extra_info["cpu_ops_between_clusters"] = len(report["cuts"])
    benchmark.extra_info["svg_kb"] = len(pictures[-1]) / 1024
    assert len(report["clusters"]) >= 100
    drawn = [g for g in ET.fromstring(pictures[-1].encode()).iter("{http://www.w3.org/2000/svg}g")
             if "nir-cluster" in g.get("class", "").split()]
    assert len(drawn) == len(report["clusters"])
