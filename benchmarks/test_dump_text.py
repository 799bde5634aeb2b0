"""Printing and parsing a dump of ResNet50 (224x224, after shape inference), as `nir opt` and
`--dump-dir` do: the text with its weights in payloads/, and the text with every weight in it.

    python -m pytest benchmarks/test_dump_text.py --benchmark-enable
"""

from __future__ import annotations

import os

import pytest
from zoo import BUILDERS

from nir.ir import parse_module, print_module
from nir.passmanager import PassManager
from nir.passmanager.manager import count_ops
from nir.pipeline import import_saved_model


@pytest.fixture(scope="module")
def resnet50(tmp_path_factory):
    root = tmp_path_factory.mktemp("resnet50")
    BUILDERS["resnet50"](str(root / "model"))
    module, _ = import_saved_model(str(root / "model"))
    PassManager.parse("tf-inline-calls,tf-batch-specialize{batch-size=1},tf-shape-inference").run(module)
    return module, str(root / "payloads")


@pytest.mark.parametrize("stored", [True, False], ids=["payloads-folder", "no-elide"])
def test_print_resnet50_dump(benchmark, resnet50, stored):
    module, payloads = resnet50
    benchmark.group = "dump text: print"
    text = benchmark.pedantic(lambda: print_module(module, 1024 if stored else None, payloads if stored else None),
                              rounds=3, iterations=1)
    lines = text.splitlines()
    benchmark.extra_info.update({"ops": count_ops(module), "bytes": len(text), "lines": len(lines),
                                 "mean_line_chars": round(sum(map(len, lines)) / len(lines))})


@pytest.mark.parametrize("stored", [True, False], ids=["payloads-folder", "no-elide"])
def test_parse_resnet50_dump(benchmark, resnet50, stored):
    module, payloads = resnet50
    benchmark.group = "dump text: parse"
    text = print_module(module, 1024 if stored else None, payloads if stored else None)
    parsed = benchmark.pedantic(lambda: parse_module(text, payloads=payloads if stored else None), rounds=3, iterations=1)
    ops = count_ops(parsed)
    benchmark.extra_info.update({"ops": ops, "bytes": len(text),
                                 "ms_per_op": round(1000 * benchmark.stats.stats.min / ops, 3),
                                 "payload_files": len(os.listdir(payloads)) if stored else 0})
