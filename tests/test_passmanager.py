"""The pass manager: pipeline strings, options and their errors, plug-ins, dumps, timing, reproducers."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from nir.ir import parse_module, print_module
from nir.passmanager import PassFailedError, PassManager, PipelineError, available_passes, register_pass

SMALL = os.path.join(os.path.dirname(__file__), "filecheck", "pipelines", "legalize_cluster_dce.mlir")
PIPELINE = (
    'tf-batch-specialize{batch-size=4},tf-shape-inference,tf-legalize{target="inferentia"},'
    "tf-cluster{minimum-segment-size=3},tf-dce"
)


def small_module() -> ModuleOp:
    with open(SMALL) as f:
        return parse_module(f.read())


def test_pipeline_string_round_trips():
    manager = PassManager.parse(PIPELINE)
    text = manager.pipeline_string()
    assert text == 'tf-batch-specialize{batch-size=4},tf-shape-inference,tf-legalize,tf-cluster{minimum-segment-size=3},tf-dce'
    assert PassManager.parse(text).passes == manager.passes
    assert str(PassManager.parse('tf-legalize{no-fuse-ops="a","b"}')) == 'tf-legalize{no-fuse-ops="a","b"}'


def test_python_and_string_pipelines_are_the_same():
    from passes.batch_specialize import BatchSpecializePass
    from passes.cluster import ClusterPass

    manager = PassManager([BatchSpecializePass(batch_size=4), ClusterPass(minimum_segment_size=3)])
    assert manager.passes == PassManager.parse(manager.pipeline_string()).passes


def test_unknown_pass_lists_the_valid_ones():
    with pytest.raises(PipelineError) as err:
        PassManager.parse("tf-shape-inference,clustr")
    assert "unknown pass 'clustr'" in str(err.value)
    assert "did you mean tf-cluster" in str(err.value)
    for name in ("tf-batch-specialize", "tf-canonicalize", "tf-dce", "tf-legalize", "tf-shape-inference"):
        assert name in str(err.value)


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(PipelineError, match="pass 'tf-cluster' has no option 'min-size'; its options: minimum-segment-size"):
        PassManager.parse("tf-cluster{min-size=2}")


def test_badly_typed_option_is_an_error():
    with pytest.raises(PipelineError, match="cluster"):
        PassManager.parse("tf-cluster{minimum-segment-size=many}")


def test_dumps_parse_back_and_match_the_in_memory_ir(tmp_path):
    module = small_module()
    manager = PassManager.parse("tf-legalize,tf-cluster,tf-dce", dump_dir=str(tmp_path))
    manager.run(module)
    files = sorted(os.listdir(tmp_path))
    assert files == ["000-input.mlir", "001-tf-legalize.mlir", "002-tf-cluster.mlir", "003-tf-dce.mlir"]
    for name in files:
        with open(tmp_path / name) as f:
            text = f.read()
        assert print_module(parse_module(text)) == text
    with open(tmp_path / "003-tf-dce.mlir") as f:
        assert f.read() == print_module(module)


def test_print_ir_after_change_only_prints_changes():
    stream = io.StringIO()
    PassManager.parse("tf-dce,tf-dce", print_ir_after_change=True, ir_stream=stream).run(small_module())
    assert stream.getvalue().count("IR Dump After tf-dce (changed)") == 1


def test_print_ir_before_and_after_named_passes():
    stream = io.StringIO()
    PassManager.parse("tf-legalize,tf-cluster", print_ir_before=["cluster"], print_ir_after=["legalize"], ir_stream=stream).run(small_module())
    assert "IR Dump Before tf-cluster" in stream.getvalue()
    assert "IR Dump After tf-legalize" in stream.getvalue()
    assert "IR Dump After tf-cluster" not in stream.getvalue()


def test_timing_report():
    manager = PassManager.parse("tf-legalize,tf-cluster,tf-dce", timing=True)
    manager.run(small_module())
    assert [t.name for t in manager.timings] == ["tf-legalize", "tf-cluster", "tf-dce"]
    assert manager.timings[-1].ops_after < manager.timings[-1].ops_before
    report = manager.timing_report()
    assert "Total execution time" in report and "cluster" in report and "%" in report


@register_pass
@dataclass(frozen=True)
class _ExplodingPass(ModulePass):
    """A pass that always fails, to test reproducers."""

    name = "test-explode"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        raise RuntimeError("boom")


def test_failing_pass_writes_a_reproducer(tmp_path):
    module = small_module()
    manager = PassManager.parse("tf-legalize,test-explode,tf-dce", reproducer_dir=str(tmp_path))
    with pytest.raises(PassFailedError, match="pass 'test-explode' failed: RuntimeError: boom") as err:
        manager.run(module)
    with open(err.value.reproducer) as f:
        text = f.read()
    assert "--pass-pipeline='test-explode,tf-dce'" in text
    reparsed = parse_module(text)
    expected = small_module()
    PassManager.parse("tf-legalize").run(expected)
    assert print_module(reparsed) == print_module(expected)


def install_example(name: str, site):
    """pip-install the example package tests/<name> into the folder `site` (what a user's
    `pip install` of a plug-in does, without touching this environment); returns `site`."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "--target", str(site), os.path.join(os.path.dirname(__file__), name)],
        check=True, capture_output=True,
    )
    return site


def test_plugin_pass_is_found_through_its_entry_point(tmp_path):
    """Install the example plug-in package for real, then use its passes (a pattern pass and a
    module pass) by name."""
    target = install_example("plugin_example", tmp_path / "site")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from nir.passmanager import PassManager, available_passes;"
        "from nir.ir import PatternPass;"
        "assert issubclass(available_passes()['fold-identity'], PatternPass);"
        "assert 'count-ops' in available_passes();"
        "print(PassManager.parse('fold-identity{keep-named=\"b\"},tf-dce').pipeline_string())"
    )
    result = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'fold-identity{keep-named="b"},tf-dce'
    ir = (
        'builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {\n'
        '  func.func @main(%x: tensor<1xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1xf32> {tf.output_key = "y"}) {\n'
        '    %a, %a_c = "tf.Identity"(%x) <{node_name = "a"}> {T = f32} : (tensor<1xf32>) -> (tensor<1xf32>, !tf.control)\n'
        '    %b, %b_c = "tf.Identity"(%a) <{node_name = "b"}> {T = f32} : (tensor<1xf32>) -> (tensor<1xf32>, !tf.control)\n'
        "    func.return %b : tensor<1xf32>\n  }\n}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    opt = subprocess.run(
        [sys.executable, "-m", "nir.cli", "opt", "-p", 'fold-identity{keep-named="b"},count-ops'],
        input=ir, capture_output=True, text=True, env=env,
    )
    assert opt.returncode == 0, opt.stderr
    assert '%a' not in opt.stdout and '%b, %b_c = "tf.Identity"(%x) {T = f32}' in opt.stdout
    assert 'nir.op_counts = {Identity = 1 : i64}' in opt.stdout


def test_builtin_passes_have_docstrings_and_kebab_case_names():
    for name, cls in available_passes().items():
        assert name == cls.name and name == name.lower() and "_" not in name
        assert (cls.__doc__ or "").strip(), name
        assert (sys.modules[cls.__module__].__doc__ or "").strip() or name.startswith("test-"), name


TOY_TARGET_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
import tensorflow as tf
import nir
from backends.neuron.neuron_op import neuron_ops, neuron_op_target
from nir.target import target_names

assert "toy-chip" in target_names(), target_names()
model_dir, out, workdir, toy_cc = sys.argv[2:6]
report = nir.saved_model.compile(model_dir, out, target="toy-chip", neuron_cc=toy_cc, compiler_workdir=workdir)
graph = tf.saved_model.load(out).signatures["serving_default"].graph.as_graph_def()
nodes = neuron_ops(graph)  # the graph's own and its functions' 
print(report["NumClusters"], report["NumCompiledClusters"],
      sorted({neuron_op_target(n) for n in nodes}), sorted({n.attr["executable"].s[:7] for n in nodes}))
"""
TOY_CC = """#!{python}
import hashlib, sys
graph = open(sys.argv[1], "rb").read()
open(sys.argv[sys.argv.index("--output") + 1], "wb").write(b"TOYNEFF" + hashlib.sha256(graph).digest())
"""


def test_a_third_target_is_one_package_and_one_entry_point(tmp_path, zoo):
    """Install the example target package for real (nothing of nir changes), then compile a
    model for it: its placement rules, op table, emission, compiler and NEFF name are used."""
    site = install_example("target_example", tmp_path / "site")
    toy_cc = tmp_path / "toy-cc"
    toy_cc.write_text(TOY_CC.format(python=sys.executable))
    toy_cc.chmod(0o755)
    out, workdir = tmp_path / "out", tmp_path / "workdir"
    result = subprocess.run(
        [sys.executable, "-c", TOY_TARGET_SCRIPT, str(site), zoo["cumsum_cut"], str(out), str(workdir), str(toy_cc)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    # cumsum_cut is two clusters for inferentia (cut by a Cumsum); the toy chip's own table
    # lacks Tanh too, which cuts the second one in two.
    assert result.stdout.split("\n")[-2] == "3 3 ['toy-chip'] [b'TOYNEFF']"
    folders = [d for d in os.listdir(workdir) if os.path.isdir(workdir / d)]
    assert len(folders) == 3
    assert all(sorted(os.listdir(workdir / d)) == ["command.sh", "graph_def.pb", "toy.neff", "toy.toy-cc.log"]
               for d in folders)


def test_former_pass_names_still_work_for_one_release():
    """The passes took a tf- prefix (xDSL has its own dce, canonicalize, shape-inference); a
    pipeline written with the old names runs the same passes and says what they are called now."""
    with pytest.warns(DeprecationWarning, match="pass 'dce' is now named 'tf-dce'"):
        manager = PassManager.parse("legalize,cluster{minimum-segment-size=3},dce", print_ir_after=["cluster"],
                                    ir_stream=io.StringIO())
    assert manager.pipeline_string() == "tf-legalize,tf-cluster{minimum-segment-size=3},tf-dce"
    manager.run(small_module())
    assert "IR Dump After tf-cluster" in manager.ir_stream.getvalue()


def test_xdsl_opt_runs_nirs_dialects_and_passes(tmp_path):
    """xDSL's own driver finds nir through the `xdsl.universe` entry point: it parses tf ops and
    runs nir's passes by name, beside its own (the tf- prefix keeps the names apart)."""
    source = tmp_path / "small.mlir"
    source.write_text(
        'builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {\n'
        '  func.func @main(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {\n'
        '    %a, %a_c = "tf.Relu"(%x) <{node_name = "a"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)\n'
        '    %b, %b_c = "tf.Tanh"(%a) <{node_name = "b"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)\n'
        "    func.return %b : tensor<1x4xf32>\n  }\n}\n"
    )
    code = "import sys; from xdsl.tools.xdsl_opt import main; sys.argv[0] = 'xdsl-opt'; sys.exit(main())"
    result = subprocess.run(
        [sys.executable, "-c", code, str(source), "-p", "tf-legalize,tf-cluster,tf-dce,dce"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count('"neuron.cluster"') == 1 and '"tf.Tanh"' in result.stdout
