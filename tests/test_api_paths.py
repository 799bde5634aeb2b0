"""Every keyword of nir.saved_model.compile and option of `nir compile`, each checked by what
it changes: the neuron-cc command line, the io-config shapes, the cluster count, the files in
the workdir, the outputs at another batch size. Most run on `cumsum_cut`, two three-op
clusters cut by a Cumsum neuron-cc's table lacks, so each compile takes a few seconds."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from stand_ins import write_launcher
from zoo import assert_same_outputs, random_feeds, run_signature

import nir as tfn
from backends.neuron.neuron_op import inner_graph, neuron_ops
from frontends.tensorflow.loader import read_saved_model_proto
from nir.errors import NirInputError
from nir.passmanager import PassManager
from nir.pipeline import default_pipeline
from nir.saved_model import CompileFailedError


def graph_of(model_dir: str):
    return read_saved_model_proto(model_dir).meta_graphs[0]


def compiled_ops(model_dir: str) -> list:
    return neuron_ops(graph_of(model_dir).graph_def)


def op_types_on_neuron(model_dir: str) -> set[str]:
    return {n.op for node in compiled_ops(model_dir) for n in inner_graph(node).node}


def io_configs(workdir: str) -> list[dict]:
    configs = []
    for folder in sorted(os.listdir(workdir)):
        if folder.startswith("neuron_op_"):
            with open(os.path.join(workdir, folder, "graph_def.io-config.json")) as f:
                configs.append(json.load(f))
    return configs


def read_all(workdir: str, name: str) -> list[str]:
    texts = []
    for folder in sorted(os.listdir(workdir)):
        path = os.path.join(workdir, folder, name)
        if folder.startswith("neuron_op_") and os.path.isfile(path):
            with open(path) as f:
                texts.append(f.read())
    return texts


@pytest.fixture(scope="module")
def node_named(imported):
    """op type -> the node name of that type in cumsum_cut (its only one)."""
    _, loaded = imported("cumsum_cut")

    def find(op_type: str) -> str:
        (name,) = [n.name for n in loaded.graph_def.node if n.op == op_type]
        return name

    return find


def compile_cut(zoo, tmp_path, name="out", **kwargs) -> tuple[str, dict]:
    out = str(tmp_path / name)
    return out, tfn.saved_model.compile(zoo["cumsum_cut"], out, progress=False, **kwargs)


def test_two_clusters_cut_by_cumsum_compile_and_match_the_original(zoo, tmp_path, fake_neuron_cc):
    out, report = compile_cut(zoo, tmp_path, neuron_cc=fake_neuron_cc)
    assert (report["NumClusters"], report["NumCompiledClusters"]) == (2, 2)
    assert "Cumsum" not in op_types_on_neuron(out)
    inlined = str(tmp_path / "inlined")
    tfn.saved_model.inline_neuron_ops(out, inlined)
    feeds = random_feeds(zoo["cumsum_cut"])
    assert_same_outputs(run_signature(zoo["cumsum_cut"], feeds), run_signature(inlined, feeds))


@pytest.mark.parametrize("setting,reason", [
    ("FAKE_NEURON_CC_REFUSE_OPS=Tanh", "ERROR: Internal compiler error: lowering Tanh"),
    ("FAKE_NEURON_CC_MAX_WEIGHT_BYTES=300",  # the first cluster's weights are 288 bytes, the second's 352
     "ERROR: Out of on-chip memory: the graph's constants take 352 bytes, the state buffer holds 300"),
])
def test_a_cluster_neuron_cc_refuses_returns_to_cpu_beside_the_one_it_compiled(zoo, tmp_path, fake_neuron_cc, monkeypatch,
                                                                               setting, reason):
    """neuron-cc takes the first cluster and refuses the second for a reason it finds only while
    compiling: the second's ops run on CPU again, the first stays a NeuronOp, the answers are the
    original's, and strict mode names the refusal."""
    monkeypatch.setenv(*setting.split("="))
    workdir = str(tmp_path / "workdir")
    out, report = compile_cut(zoo, tmp_path, neuron_cc=fake_neuron_cc, compiler_workdir=workdir)
    assert (report["NumClusters"], report["NumCompiledClusters"]) == (2, 1)
    assert report["OperatorCountOnNeuron"] == 5  # MatMul, BiasAdd, Relu and the two weights
    (node,) = compiled_ops(out)
    assert {"MatMul", "BiasAdd", "Relu"} <= op_types_on_neuron(out) and "Tanh" not in op_types_on_neuron(out)
    logs = read_all(workdir, "graph_def.neuron-cc.log")
    assert sorted(reason in log for log in logs) == [False, True]
    inlined = str(tmp_path / "inlined")
    tfn.saved_model.inline_neuron_ops(out, inlined)
    feeds = random_feeds(zoo["cumsum_cut"])
    assert_same_outputs(run_signature(zoo["cumsum_cut"], feeds), run_signature(inlined, feeds))
    with pytest.raises(CompileFailedError, match=re.escape(reason.removeprefix("ERROR: "))):
        compile_cut(zoo, tmp_path, "strict", neuron_cc=fake_neuron_cc, strict=True)
    assert not os.path.exists(tmp_path / "strict")


def test_force_fuse_ops_overrides_the_op_table_but_not_neuron_cc(zoo, tmp_path, fake_neuron_cc, node_named):
    """A forced Cumsum joins the two clusters into one; neuron-cc (whose table lacks Cumsum)
    then rejects it, and the cluster is restored to CPU with neuron-cc's reason."""
    cumsum = node_named("Cumsum")
    workdir = str(tmp_path / "workdir")
    with warnings.catch_warnings(record=True):
        out, report = compile_cut(zoo, tmp_path, force_fuse_ops=[cumsum], neuron_cc=fake_neuron_cc,
                                  compiler_workdir=workdir)
    assert (report["NumClusters"], report["NumCompiledClusters"]) == (1, 0)
    (log,) = read_all(workdir, "graph_def.neuron-cc.log")
    assert "ERROR: Unsupported operator Cumsum" in log
    assert not compiled_ops(out)
    with pytest.raises(NirInputError, match="in both no_fuse_ops and force_fuse_ops"):
        compile_cut(zoo, tmp_path, "both", force_fuse_ops=[cumsum], no_fuse_ops=[cumsum])


def test_force_fuse_ops_cannot_override_the_other_rules(imported):
    """Only the op-table rule yields to force-fuse-ops: the forced output stand-in (IdentityN)
    stays on CPU and says why."""
    from nir.explain import explain_module
    from nir.ir import parse_module, print_module
    from nir.pipeline import run_pipeline

    module, loaded = imported("cumsum_cut")
    module = parse_module(print_module(module, None))
    stand_in = next(n.name for n in loaded.graph_def.node if n.op == "IdentityN")
    run_pipeline(module, default_pipeline(force_fuse_ops=[stand_in]))
    reasons = {r["op_type"]: r["reason"] for r in explain_module(module)["cpu"]}
    assert reasons["IdentityN"] == "graph input or output stand-in (force_fuse_ops cannot override this)"


def test_supported_op_types_replaces_the_table(zoo, tmp_path, fake_neuron_cc, caplog):
    listed = subprocess.run([fake_neuron_cc, "list-operators", "--framework", "TENSORFLOW"],
                            capture_output=True, text=True, check=True).stdout.split()
    without_tanh = [op for op in listed if op != "Tanh"]
    with caplog.at_level(logging.INFO, logger="nir"):
        out, report = compile_cut(zoo, tmp_path, supported_op_types=without_tanh, neuron_cc=fake_neuron_cc)
    # The log says which table placed the ops: here the caller's, not neuron-cc's.
    tables = [r.getMessage() for r in caplog.records if r.getMessage().startswith("tf-legalize: ")]
    assert tables == [f"tf-legalize: {len(set(without_tanh))} op types may go to inferentia, by supported_op_types"]
    # Tanh on CPU leaves a MatMul with its weight on each side of it: segments of 2, as the
    # original counts them (constants included), so 3 clusters at the default minimum of 2 ...
    assert report["NumClusters"] == 3
    assert "Tanh" not in op_types_on_neuron(out)
    # ... and only the first (MatMul, BiasAdd, Relu and their constants) at a minimum of 3.
    out, report = compile_cut(zoo, tmp_path, "min3", supported_op_types=without_tanh, neuron_cc=fake_neuron_cc,
                              minimum_segment_size=3)
    assert report["NumClusters"] == 1
    assert op_types_on_neuron(out) == {"Placeholder", "MatMul", "BiasAdd", "Relu", "Const"}


def test_neuron_cc_path_is_asked_for_its_op_table(zoo, tmp_path, fake_neuron_cc, caplog):
    """With a neuron-cc whose list-operators includes Cumsum, the model is one cluster and
    compiles: the table comes from neuron_cc=, not from nir's shipped list."""
    listed = subprocess.run([fake_neuron_cc, "list-operators", "--framework", "TENSORFLOW"],
                            capture_output=True, text=True, check=True).stdout.split()
    table = tmp_path / "ops.txt"
    table.write_text("\n".join([*listed, "Cumsum"]))
    bin_dir = tmp_path / "newer-neuron-cc"
    bin_dir.mkdir()
    launcher = write_launcher(str(bin_dir))
    os.environ["FAKE_NEURON_CC_OPS"] = str(table)
    try:
        with caplog.at_level(logging.INFO, logger="nir"):
            out, report = compile_cut(zoo, tmp_path, neuron_cc=launcher)
    finally:
        del os.environ["FAKE_NEURON_CC_OPS"]
    assert (report["NumClusters"], report["NumCompiledClusters"]) == (1, 1)
    assert "Cumsum" in op_types_on_neuron(out)
    tables = [r.getMessage() for r in caplog.records if r.getMessage().startswith("tf-legalize: ")]
    assert tables == [f"tf-legalize: {len(set(listed)) + 1} op types may go to inferentia, by {launcher} list-operators"]


def test_neuron_cc_that_does_not_exist_or_cannot_run_is_an_error(zoo, tmp_path):
    with pytest.raises(NirInputError, match="neuron_cc='/no/such/neuron-cc' does not exist"):
        compile_cut(zoo, tmp_path, neuron_cc="/no/such/neuron-cc")
    plain = tmp_path / "neuron-cc"
    plain.write_text("#!/bin/sh\n")
    with pytest.raises(NirInputError, match="is not executable"):
        compile_cut(zoo, tmp_path, neuron_cc=str(plain))
    with pytest.raises(NirInputError, match="'neuron-cc-nowhere' is not on PATH"):
        compile_cut(zoo, tmp_path, neuron_cc="neuron-cc-nowhere")
    assert not os.path.exists(tmp_path / "out")
    cli = subprocess.run([sys.executable, "-m", "nir.cli", "explain", zoo["cumsum_cut"], "--neuron-cc", "/no/such"],
                         capture_output=True, text=True)
    assert cli.returncode == 1 and "neuron_cc='/no/such' does not exist" in cli.stderr


def test_tags_and_signature_def_key_choose_what_is_compiled(zoo, tmp_path, fake_neuron_cc):
    out = str(tmp_path / "logits")
    report = tfn.saved_model.compile(zoo["tf1_two_signatures"], out, tags="serve", signature_def_key="logits",
                                     neuron_cc=fake_neuron_cc, progress=False)
    assert report["NumCompiledClusters"] == report["NumClusters"] == 1
    meta_graph = graph_of(out)
    assert list(meta_graph.signature_def) == ["logits"]
    assert list(meta_graph.meta_info_def.tags) == ["serve"]
    assert list(meta_graph.signature_def["logits"].outputs) == ["logits"]
    # The compiled subgraph ends at the logits: no Softmax of the other signature.
    assert "Softmax" not in op_types_on_neuron(out)
    inlined = str(tmp_path / "inlined")
    tfn.saved_model.inline_neuron_ops(out, inlined)
    feeds = {"x": np.random.RandomState(0).standard_normal((1, 6)).astype(np.float32)}
    assert_same_outputs(run_signature(zoo["tf1_two_signatures"], feeds, "logits"),
                        run_signature(inlined, feeds, "logits"))


def test_model_feed_dict_gives_the_shapes_and_wins_over_model_shape_feed_dict(zoo, tmp_path, fake_neuron_cc):
    workdir = str(tmp_path / "workdir")
    feed = {"x": np.zeros((3, 8), np.float32)}
    out, report = compile_cut(zoo, tmp_path, model_feed_dict=feed, model_shape_feed_dict={"x": [2, 8]},
                              batch_size=5, neuron_cc=fake_neuron_cc, compiler_workdir=workdir)
    shapes = [shape for config in io_configs(workdir) for shape, _ in config["inputs"].values()]
    assert shapes == [[3, 8], [3, 8]]
    out2, _ = compile_cut(zoo, tmp_path, "shape_feed", model_shape_feed_dict={"x": [2, 8]}, batch_size=5,
                          neuron_cc=fake_neuron_cc, compiler_workdir=str(tmp_path / "workdir2"))
    shapes = [shape for config in io_configs(str(tmp_path / "workdir2")) for shape, _ in config["inputs"].values()]
    assert shapes == [[2, 8], [2, 8]]


def test_minimum_segment_size_and_a_compile_without_clusters(zoo, tmp_path, fake_neuron_cc):
    # Each side of the Cumsum is 3 ops and 2 weights: a segment of 5, as the original counts.
    _, report = compile_cut(zoo, tmp_path, minimum_segment_size=5, neuron_cc=fake_neuron_cc)
    assert report["NumClusters"] == 2
    with pytest.warns(UserWarning, match="the pipeline produced no cluster.*in a cluster of 5 op\\(s\\), below minimum_segment_size=6"):
        out, report = compile_cut(zoo, tmp_path, "big", minimum_segment_size=6, neuron_cc=fake_neuron_cc)
    assert report["NumClusters"] == 0 and not compiled_ops(out)


def test_compiler_args_reach_the_command_line_command_sh_and_neuron_cc(zoo, tmp_path, fake_neuron_cc):
    workdir = str(tmp_path / "workdir")
    _, report = compile_cut(zoo, tmp_path, compiler_args=["--fp32-cast", "matmult-bf16", "--enable-fast-context-switch"],
                            neuron_cc=fake_neuron_cc, compiler_workdir=workdir)
    assert report["NumCompiledClusters"] == 2
    for command in read_all(workdir, "command.sh"):
        assert command.rstrip().endswith("--fp32-cast matmult-bf16 --enable-fast-context-switch")
    for log in read_all(workdir, "graph_def.neuron-cc.log"):
        assert '"fp32_cast": "matmult-bf16"' in log and '"enable_fast_context_switch": true' in log
    with pytest.raises(CompileFailedError, match="exited with 2: neuron-cc compile: error: unrecognized arguments: --bogus-flag"):
        compile_cut(zoo, tmp_path, "bogus", compiler_args=["--bogus-flag"], neuron_cc=fake_neuron_cc, strict=True)


def test_neuron_cc_flags_workdir_verbose_and_pass_through(zoo, tmp_path, fake_neuron_cc, monkeypatch):
    workdir = str(tmp_path / "from-env")
    monkeypatch.setenv("NEURON_CC_FLAGS", f"--workdir={workdir} --verbose INFO --fp32-cast=all")
    _, report = compile_cut(zoo, tmp_path, neuron_cc=fake_neuron_cc)
    assert report["CompilerWorkdir"] == workdir and report["NumCompiledClusters"] == 2
    commands = read_all(workdir, "command.sh")
    assert len(commands) == 2 and all(c.rstrip().endswith("--fp32-cast=all --verbose INFO") for c in commands)
    assert all('"verbose": "INFO"' in log for log in read_all(workdir, "graph_def.neuron-cc.log"))
    monkeypatch.setenv("NEURON_CC_FLAGS", "--verbose abc")
    with pytest.raises(NirInputError, match="NEURON_CC_FLAGS: --verbose takes one of DEBUG, INFO, WARN, ERROR or a number"):
        compile_cut(zoo, tmp_path, "bad", neuron_cc=fake_neuron_cc)


def test_max_num_compilers_runs_neuron_cc_one_at_a_time(zoo, tmp_path, fake_neuron_cc):
    workdir = str(tmp_path / "workdir")
    compile_cut(zoo, tmp_path, max_num_compilers=1, neuron_cc=fake_neuron_cc, compiler_workdir=workdir)
    spans = []
    for log in read_all(workdir, "graph_def.neuron-cc.log"):
        start = float(log.split("started at ")[1].split()[0])
        end = float(log.split(" at ")[-1].split()[0])
        spans.append((start, end))
    (a_start, a_end), (b_start, b_end) = sorted(spans)
    assert a_end <= b_start, "two neuron-cc ran at once"
    with pytest.raises(NirInputError, match="max_num_compilers must be a positive integer"):
        compile_cut(zoo, tmp_path, "zero", max_num_compilers=0, neuron_cc=fake_neuron_cc)


@pytest.mark.parametrize("bad", [-1, 2.5, True, "100"])
def test_max_unrolled_ops_must_be_a_whole_number(bad):
    from nir.options import CompileOptions

    with pytest.raises(NirInputError, match=r"max_unrolled_ops must be a whole number of ops \(0 unrolls no loop\), got "):
        CompileOptions.of(max_unrolled_ops=bad)
    assert CompileOptions.of(max_unrolled_ops=0).max_unrolled_ops == 0


def test_compiler_recovery_false_raises_instead_of_falling_back(zoo, tmp_path, fake_neuron_cc, monkeypatch):
    monkeypatch.setenv("FAKE_NEURON_CC_MODE", "fail")
    with pytest.raises(CompileFailedError, match="ERROR: failing as FAKE_NEURON_CC_MODE=fail asks"):
        compile_cut(zoo, tmp_path, compiler_recovery=False, neuron_cc=fake_neuron_cc)
    assert not os.path.exists(tmp_path / "out")


def test_pipeline_as_a_string_and_as_a_pass_manager(zoo, tmp_path, fake_neuron_cc, node_named):
    relu = node_named("Relu")
    text = default_pipeline().replace("tf-legalize{target=inferentia}", f'legalize{{target=inferentia no-fuse-ops="{relu}"}}')
    out, report = compile_cut(zoo, tmp_path, pipeline=text, neuron_cc=fake_neuron_cc)
    # Relu on CPU leaves MatMul+BiasAdd (2 ops) before it: still a cluster; Relu is outside.
    assert report["NumClusters"] == 2 and "Relu" not in op_types_on_neuron(out)
    dumps = str(tmp_path / "dumps")
    manager = PassManager.parse(default_pipeline(), dump_dir=dumps)
    out, report = compile_cut(zoo, tmp_path, "manager", pipeline=manager, neuron_cc=fake_neuron_cc)
    assert report["NumCompiledClusters"] == 2 and "Relu" in op_types_on_neuron(out)
    assert any(name.endswith("-cluster.mlir") for name in os.listdir(dumps))


def test_dump_dir_and_print_ir_after_all_through_compile(zoo, tmp_path, fake_neuron_cc, capfd):
    dumps = str(tmp_path / "dumps")
    compile_cut(zoo, tmp_path, dump_dir=dumps, print_ir_after_all=True, neuron_cc=fake_neuron_cc)
    # compile's pipeline: dynamic batch left to nir, so prove-batch-axes runs
    passes = [p.split("{")[0] for p in default_pipeline(dynamic_batch=None).split(",")]
    assert "tf-prove-batch-axes" in passes
    names = sorted(os.listdir(dumps))
    assert names[0] == "000-input.mlir"
    assert [n.split("-", 1)[1][: -len(".mlir")] for n in names[1:]] == passes
    printed = capfd.readouterr().err
    assert all(f"IR Dump After {p}" in printed for p in passes)


def test_dynamic_batch_size_runs_at_another_batch(zoo, tmp_path, fake_neuron_cc):
    out, _ = compile_cut(zoo, tmp_path, batch_size=2, dynamic_batch_size=True, neuron_cc=fake_neuron_cc)
    nodes = compiled_ops(out)
    assert len(nodes) == 2, "both clusters compiled: the checks below see each"
    for node in nodes:
        assert list(node.attr["input_batch_axis"].list.i) == [0]
        assert list(node.attr["output_batch_axis"].list.i) == [0]
        assert node.attr["input_shapes"].list.shape[0].dim[0].size == 2
    inlined = str(tmp_path / "inlined")
    tfn.saved_model.inline_neuron_ops(out, inlined)
    feeds = random_feeds(zoo["cumsum_cut"], batch=5)
    assert_same_outputs(run_signature(zoo["cumsum_cut"], feeds), run_signature(inlined, feeds))


def nir_cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nir.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_cli_compile_options(zoo, tmp_path, fake_neuron_cc, node_named):
    model, out, workdir, dumps = zoo["cumsum_cut"], str(tmp_path / "out"), str(tmp_path / "w"), str(tmp_path / "d")
    result = nir_cli(
        "compile", model, out, "--batch-size", "2", "--tags", "serve", "--signature-def-key", "serving_default",
        "--minimum-segment-size", "3", "--no-fuse-ops", node_named("Tanh"), "--compiler-args", "--fp32-cast matmult",
        "--compiler-workdir", workdir, "--compiler-timeout", "60", "--dynamic-batch-size", "--strict",
        "--neuron-cc", fake_neuron_cc, "--max-num-compilers", "1", "--dump-dir", dumps, "--print-ir-after-all",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # Tanh kept on CPU leaves one MatMul after the Cumsum: below --minimum-segment-size 3.
    assert (report["NumClusters"], report["NumCompiledClusters"], report["CompilerWorkdir"]) == (1, 1, workdir)
    (config,) = io_configs(workdir)
    assert [shape for shape, _ in config["inputs"].values()] == [[2, 8]]
    (command,) = read_all(workdir, "command.sh")
    assert command.rstrip().endswith("--fp32-cast matmult")
    assert os.path.isfile(os.path.join(dumps, "000-input.mlir")) and "IR Dump After tf-dce" in result.stderr
    signature = graph_of(out).signature_def["serving_default"]
    assert signature.inputs["x"].tensor_shape.dim[0].size == -1

    forced = nir_cli("compile", model, str(tmp_path / "forced"), "--input-shapes", "x:3x8",
                     "--force-fuse-ops", node_named("Cumsum"), "--neuron-cc", fake_neuron_cc)
    assert forced.returncode == 3, forced.stderr  # written, but neuron-cc refused the one cluster
    assert "ERROR: Unsupported operator Cumsum" in forced.stderr
    assert json.loads(forced.stdout)["NumClusters"] == 1

    without_relu = nir_cli("compile", model, str(tmp_path / "no-relu"), "--supported-op-types",
                           "MatMul,BiasAdd,Const", "--neuron-cc", fake_neuron_cc)
    assert without_relu.returncode == 0, without_relu.stderr
    assert op_types_on_neuron(str(tmp_path / "no-relu")) == {"Placeholder", "MatMul", "BiasAdd", "Const"}


def test_cli_compile_of_a_pipeline_that_makes_no_cluster_exits_3(zoo, tmp_path, fake_neuron_cc):
    result = nir_cli("compile", zoo["cumsum_cut"], str(tmp_path / "out"), "--neuron-cc", fake_neuron_cc,
                     "--pipeline", "tf-batch-specialize{batch-size=1},tf-legalize,tf-cluster,tf-dce")
    assert result.returncode == 3, result.stderr
    assert "the pipeline produced no cluster" in result.stderr
    assert "shape not fully static" in result.stderr and "does the pipeline run shape-inference" in result.stderr
    assert "Run `nir explain` to see why" in result.stderr  # nothing was uncompiled: placement is why


def test_cli_inline_runs_in_stock_tensorflow(zoo, tmp_path, fake_neuron_cc):
    out, inlined = str(tmp_path / "out"), str(tmp_path / "inlined")
    assert nir_cli("compile", zoo["two_io"], out, "--neuron-cc", fake_neuron_cc).returncode == 0
    result = nir_cli("inline", out, inlined)
    assert result.returncode == 0, result.stderr
    assert not neuron_ops(graph_of(inlined).graph_def)
    feeds = random_feeds(zoo["two_io"])
    assert_same_outputs(run_signature(zoo["two_io"], feeds), run_signature(inlined, feeds))


def test_without_neuron_cc_the_report_blames_the_missing_compiler(zoo, tmp_path):
    result = nir_cli("compile", zoo["cumsum_cut"], str(tmp_path / "out"), env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 3
    assert "Pass compiler_workdir=" in result.stderr
    assert "Run `nir explain` to see why" not in result.stderr
    assert "Clusters were left on CPU because neuron-cc is not installed" in result.stderr


def test_a_neuron_cc_whose_list_operators_fails_falls_back_to_the_shipped_table(tmp_path, caplog):
    from nir.target import get_target

    broken = tmp_path / "neuron-cc"
    broken.write_text("#!/bin/sh\necho 'list-operators: no such framework' >&2\nexit 2\n")
    broken.chmod(0o755)
    target = get_target("inferentia", str(broken))
    assert target.source == f"nir's shipped table ('{broken} list-operators' failed)"
    assert "Conv2D" in target.supported_ops
    assert "list-operators' failed" in caplog.text and "no such framework" in caplog.text


def test_without_serving_default_the_first_signature_in_name_order_is_taken(caplog):
    """The original's `_get_signature_def` takes `list(signature_def.keys())[0]`: a protobuf map's
    first key, which differs between processes (upb seeds its map hashes per process), so the
    same model compiled twice could serve two different signatures. nir takes the first in name
    order, skipping TensorFlow's internal `__saved_model_init_op` entry, and warns."""
    import logging

    from tensorflow.core.protobuf import meta_graph_pb2

    from frontends.tensorflow.loader import choose_signature_key

    meta_graph = meta_graph_pb2.MetaGraphDef()
    for key in ("__saved_model_init_op", "predict", "classify"):
        meta_graph.signature_def[key].method_name = "tensorflow/serving/predict"
    with caplog.at_level(logging.WARNING, logger="nir"):
        assert choose_signature_key(meta_graph, None) == "classify"
    assert [r.getMessage() for r in caplog.records] == [
        "no 'serving_default' signature; using 'classify' of ['classify', 'predict']"]
    assert choose_signature_key(meta_graph, "predict") == "predict"
    with pytest.raises(NirInputError) as err:
        choose_signature_key(meta_graph, "serving_default")
    assert str(err.value) == "signature_def_key 'serving_default' does not exist; available: ['classify', 'predict']"
    del meta_graph.signature_def["classify"]
    caplog.clear()
    assert choose_signature_key(meta_graph, None) == "predict" and not caplog.records
    meta_graph.signature_def["serving_default"].method_name = "tensorflow/serving/predict"
    assert choose_signature_key(meta_graph, None) == "serving_default"
