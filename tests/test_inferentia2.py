"""The inferentia2/trainium targets: clusters lowered to XLA HLO by tf2xla for neuronx-cc.

Every model of the tests' zoo is compiled once for inferentia2 with the neuronx-cc stand-in
(which reads each HloModuleProto and refuses opcodes outside its table); the tests then check
the workdir, the NeuronOps, the outputs through `inline_neuron_ops`, and each cluster's XLA-on-CPU
result against TensorFlow's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from stand_ins import FAKE_NEURONX_CC, write_launcher
from zoo import assert_same_outputs, random_feeds, run_signature

import nir as tfn
from backends.neuron.neuron_op import neuron_op_target, neuron_ops
from frontends.tensorflow.loader import read_saved_model_proto
from nir.errors import NirInputError
from nir.saved_model import CompileFailedError

ZOO = ["resnet50", "mobilenetv2", "two_io", "transformer", "tf1_two_signatures", "control_flow",
       "efficientnetb0", "convnext_tiny", "encoder", "lstm", "cumsum_cut"]


@pytest.fixture(scope="session")
def neuronx_cc(tmp_path_factory) -> str:
    return write_launcher(str(tmp_path_factory.mktemp("neuronx-cc-bin")), FAKE_NEURONX_CC, "neuronx-cc")


@pytest.fixture(scope="session")
def compiled_inf2(zoo, tmp_path_factory, neuronx_cc):
    """name -> (output dir, workdir, report), compiled lazily, once per session."""
    root = tmp_path_factory.mktemp("inf2")
    cache = {}

    def get(name: str):
        if name not in cache:
            out, workdir = str(root / name), str(root / f"{name}-workdir")
            report = tfn.saved_model.compile(zoo[name], out, target="inferentia2", neuron_cc=neuronx_cc,
                                             compiler_workdir=workdir, progress=False)
            cache[name] = (out, workdir, report)
        return cache[name]

    return get


def graph_def_of(model_dir: str):
    return read_saved_model_proto(model_dir).meta_graphs[0].graph_def


@pytest.mark.parametrize("name", ZOO)
def test_zoo_compiles_for_inferentia2_and_inlines_to_the_original(compiled_inf2, zoo, name):
    from tensorflow.compiler.xla.service import hlo_pb2

    out, workdir, report = compiled_inf2(name)
    assert report["NumClusters"] >= 1 and report["NumCompiledClusters"] == report["NumClusters"]
    folders = [os.path.join(workdir, d) for d in os.listdir(workdir) if d.startswith("neuron_op_")]
    assert len(folders) == report["NumClusters"]
    for folder in folders:
        module = hlo_pb2.HloModuleProto.FromString(open(os.path.join(folder, "model.hlo_module.pb"), "rb").read())
        assert module.computations and "HloModule" in open(os.path.join(folder, "model.hlo.txt")).read()
        command = open(os.path.join(folder, "command.sh")).read()
        assert "compile model.hlo_module.pb --framework XLA --target inf2 --output model.neff" in command
    nodes = neuron_ops(graph_def_of(out))
    assert len(nodes) == report["NumClusters"]
    for node in nodes:
        assert neuron_op_target(node) == "inferentia2"
        assert node.attr["executable"].s.startswith(b"NIR-TEST-NEFFX")
    inlined = os.path.join(os.path.dirname(out), f"{name}-inlined")
    tfn.saved_model.inline_neuron_ops(out, inlined)
    key = "serving_default"
    feeds = random_feeds(zoo[name], key)
    assert_same_outputs(run_signature(zoo[name], feeds, key), run_signature(inlined, feeds, key), rtol=1e-4)


@pytest.mark.parametrize("name", ZOO)
def test_every_cluster_runs_on_xla_cpu_like_tensorflow(compiled_inf2, zoo, name):
    from nir.pipeline import default_pipeline, import_saved_model, run_pipeline
    from nir.verify_clusters import verify_clusters

    compiled_inf2(name)  # the same lowerings, already cached in this process
    module, _ = import_saved_model(zoo[name])
    run_pipeline(module, default_pipeline(target="inferentia2"))
    rows = verify_clusters(module, "inferentia2")
    assert rows and all(row["max_rel_diff"] <= 1e-4 for row in rows), rows


def test_relift_of_an_inferentia2_workdir_equals_the_direct_compile(compiled_inf2, tmp_path):
    out, workdir, _ = compiled_inf2("two_io")
    lifted = str(tmp_path / "lifted")
    report = tfn.saved_model.relift(workdir, lifted)
    assert report["NumCompiledClusters"] == report["NumClusters"] == 1
    assert open(os.path.join(out, "saved_model.pb"), "rb").read() == open(os.path.join(lifted, "saved_model.pb"), "rb").read()


def test_trainium_passes_trn1_to_neuronx_cc(zoo, tmp_path, neuronx_cc):
    workdir = str(tmp_path / "w")
    report = tfn.saved_model.compile(zoo["two_io"], str(tmp_path / "out"), target="trainium", neuron_cc=neuronx_cc,
                                     compiler_workdir=workdir, progress=False)
    assert report["NumCompiledClusters"] == 1
    (folder,) = [d for d in os.listdir(workdir) if d.startswith("neuron_op_")]
    log = open(os.path.join(workdir, folder, "model.neuronx-cc.log")).read()
    assert '"target": "trn1"' in log


def test_unknown_target_lists_the_registered_ones(zoo, tmp_path):
    with pytest.raises(NirInputError, match="unknown target 'inferentia3'; known targets: inferentia, inferentia2, trainium"):
        tfn.saved_model.compile(zoo["two_io"], str(tmp_path / "out"), target="inferentia3", progress=False)
    result = subprocess.run([sys.executable, "-m", "nir.cli", "explain", zoo["two_io"], "--target", "inf2"],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "known targets: inferentia, inferentia2, trainium" in result.stderr


@pytest.fixture(scope="module")
def cumsum_axis_model(tmp_path_factory) -> str:
    """Cumsum whose axis is a model input: tf2xla has a Cumsum kernel, but it needs the axis
    at compile time, so lowering fails for that node alone."""
    import tensorflow as tf

    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.random.RandomState(1).standard_normal((8, 8)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="x"),
                                      tf.TensorSpec([], tf.int32, name="axis")])
        def __call__(self, x, axis):
            hidden = tf.nn.relu(tf.matmul(x, self.w))
            return {"y": tf.tanh(tf.matmul(tf.math.cumsum(hidden, axis=axis, name="running"), self.w))}

    path = str(tmp_path_factory.mktemp("cumsum-axis") / "model")
    model = Model()
    tf.saved_model.save(model, path, signatures=model.__call__)
    return path


def test_a_node_tf2xla_cannot_lower_goes_to_cpu_with_its_message(cumsum_axis_model, tmp_path, neuronx_cc):
    result = subprocess.run([sys.executable, "-m", "nir.cli", "explain", cumsum_axis_model, "--target", "inferentia2",
                             "--json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (row,) = [r for r in report["cpu"] if r["op_type"] == "Cumsum"]
    assert row["reason"].startswith("tf2xla cannot lower it: ") and "compile-time constant" in row["reason"]
    assert row["nodes"][0].endswith("running")
    assert len(report["clusters"]) == 2  # the MatMul/Relu before it and the MatMul/Tanh after it
    out = str(tmp_path / "out")
    compiled = tfn.saved_model.compile(cumsum_axis_model, out, target="inferentia2", neuron_cc=neuronx_cc, progress=False)
    assert compiled["NumCompiledClusters"] == compiled["NumClusters"] == 2


def test_without_lower_clusters_a_cluster_tf2xla_refuses_stays_on_cpu_and_says_why(cumsum_axis_model, tmp_path,
                                                                                   neuronx_cc, caplog):
    """A researcher's pipeline may leave out tf-lower-clusters: emission then meets the refusal
    itself, keeps that cluster on CPU and names it, and compiles the rest."""
    from nir.pipeline import default_pipeline

    pipeline = re.sub(r"tf-lower-clusters\{[^}]*\},", "", default_pipeline(target="inferentia2"))
    assert "lower-clusters" not in pipeline
    out = str(tmp_path / "out")
    compiled = tfn.saved_model.compile(cumsum_axis_model, out, target="inferentia2", neuron_cc=neuronx_cc,
                                       pipeline=pipeline, progress=False)
    refused = [r.getMessage() for r in caplog.records
               if r.name.startswith("nir") and "stays on CPU: tf2xla cannot lower it" in r.getMessage()]
    assert len(refused) == 1 and re.match(r"cluster \S+ stays on CPU: tf2xla cannot lower it: .*compile-time constant",
                                          refused[0]), refused
    assert compiled["NumCompiledClusters"] == compiled["NumClusters"] - 1
    feeds = {"x": np.random.default_rng(0).standard_normal((1, 8)).astype(np.float32), "axis": np.array(1, np.int32)}
    assert_same_outputs(run_signature(cumsum_axis_model, feeds), run_signature(out, feeds))


def test_a_failing_neuronx_cc_is_handled_like_neuron_cc(zoo, tmp_path, neuronx_cc, monkeypatch):
    monkeypatch.setenv("FAKE_NEURON_CC_MODE", "fail")
    out = str(tmp_path / "out")
    report = tfn.saved_model.compile(zoo["two_io"], out, target="inferentia2", neuron_cc=neuronx_cc, progress=False)
    assert report["NumCompiledClusters"] == 0 and not neuron_ops(graph_def_of(out))
    feeds = random_feeds(zoo["two_io"])
    assert_same_outputs(run_signature(zoo["two_io"], feeds), run_signature(out, feeds))
    with pytest.raises(CompileFailedError, match="neuronx-cc exited with 1: ERROR: failing as FAKE_NEURON_CC_MODE=fail asks"):
        tfn.saved_model.compile(zoo["two_io"], str(tmp_path / "strict"), target="inferentia2", neuron_cc=neuronx_cc,
                                strict=True, progress=False)


def test_neuronx_cc_stand_in_refuses_opcodes_outside_its_table(compiled_inf2, tmp_path):
    _, workdir, _ = compiled_inf2("two_io")
    (folder,) = [os.path.join(workdir, d) for d in os.listdir(workdir) if d.startswith("neuron_op_")]
    table = tmp_path / "ops.txt"
    table.write_text("parameter\ntuple\n")
    run = subprocess.run([sys.executable, FAKE_NEURONX_CC, "compile", "--framework=XLA", "model.hlo_module.pb",
                          "--target", "inf2", "--output", str(tmp_path / "x.neff")],
                         cwd=folder, capture_output=True, text=True, env={**os.environ, "FAKE_NEURONX_CC_OPS": str(table)})
    assert run.returncode == 1 and "ERROR: Unsupported HLO operator" in run.stderr
    assert not os.path.exists(tmp_path / "x.neff")
    bad_target = subprocess.run([sys.executable, FAKE_NEURONX_CC, "compile", "model.hlo_module.pb", "--framework", "XLA",
                                 "--target", "inf1"], cwd=folder, capture_output=True, text=True)
    assert bad_target.returncode == 2 and "invalid choice: 'inf1'" in bad_target.stderr


def test_emission_checks_each_hlo_against_its_neuron_op(compiled_inf2):
    """The runtime feeds a NeuronOp's inputs to its HLO's parameters in order: the emitted HLO
    of every cluster matches its NeuronOp, and a NeuronOp whose order differs is refused,
    naming the first position."""
    from backends.neuron.workdir import folder_name
    from backends.neuronx.hlo_signature import SignatureMismatch, check_hlo_signature, hlo_tensors, neuron_op_tensors

    out, workdir, _ = compiled_inf2("two_io")
    nodes = neuron_ops(graph_def_of(out))
    assert nodes
    swapped = 0
    for node in nodes:
        with open(os.path.join(workdir, folder_name(node), "model.hlo_module.pb"), "rb") as f:
            hlo = f.read()
        check_hlo_signature(node, hlo)
        parameters, results = hlo_tensors(hlo)
        assert parameters == neuron_op_tensors(node, "input") and results == neuron_op_tensors(node, "output")
        # The refusal's message names tensors as XLA prints them; e.g. s32[1,8], f32[1,16].
        assert all(re.fullmatch(r"(pred|[fsu]\d+)\[(\d+(,\d+)*)?\]", t) for t in parameters + results), parameters + results
        if len(set(parameters)) > 1:
            for attr in ("input_dtypes", "input_shapes"):
                values = getattr(node.attr[attr].list, "type" if attr == "input_dtypes" else "shape")
                items = list(values)
                del values[:]
                values.extend(reversed(items))
            with pytest.raises(SignatureMismatch, match=rf"input 0 is {re.escape(parameters[-1])}, HLO parameter 0 is "
                                                        rf"{re.escape(parameters[0])}\)"):
                check_hlo_signature(node, hlo)
            swapped += 1
    assert swapped, "two_io has no cluster with two different inputs: the check was not exercised"


def test_clusters_lowering_to_opcodes_neuronx_cc_lacks_stay_on_cpu(zoo, tmp_path, neuronx_cc):
    """nir holds each lowered cluster to the opcodes neuronx-cc lists. For inferentia2,
    cumsum_cut is one cluster (tf2xla lowers Cumsum too); with a compiler that lacks `tanh`
    it goes to CPU whole, each op saying why."""
    from nir.compile_driver import CompileSetup, Job, pipeline_module
    from nir.explain import explain_module
    from nir.options import CompileOptions

    def partition(compiler: str) -> dict:
        options = CompileOptions.of(target="inferentia2", neuron_cc=compiler)
        module, _ = pipeline_module(Job(zoo["cumsum_cut"], None, 1, None), CompileSetup.of(options), None)
        return explain_module(module)

    assert len(partition(neuronx_cc)["clusters"]) == 1
    with open(os.path.join(os.path.dirname(FAKE_NEURONX_CC), "neuronx_cc_xla_ops.txt")) as f:
        table = [line for line in f.read().splitlines() if line.strip() != "tanh"]
    (tmp_path / "ops.txt").write_text("\n".join(table) + "\n")
    # A launcher of its own: nir keeps each compiler's table per path.
    lacking = write_launcher(str(tmp_path), FAKE_NEURONX_CC, "neuronx-cc", env={"FAKE_NEURONX_CC_OPS": tmp_path / "ops.txt"})
    report = partition(lacking)
    assert report["clusters"] == []
    why = f"its cluster lowers to HLO tanh, which neuronx-cc does not take ({lacking} list-operators --framework XLA)"
    assert {"MatMul", "Tanh", "Cumsum", "Relu"} <= {r["op_type"] for r in report["cpu"] if r["reason"] == why}


def test_the_shipped_opcode_table_holds_hlo_opcode_names_and_nothing_else():
    """Without neuronx-cc, nir's own table decides which clusters go to it: its comment lines
    (the table's sources) are no opcodes, and every entry is spelt as HLO spells opcodes."""
    import re

    from backends.neuronx.target import _shipped_opcodes

    opcodes = _shipped_opcodes()
    assert len(opcodes) == 70
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", op) for op in opcodes), sorted(opcodes)
    assert {"parameter", "tuple", "dot", "convolution", "reduce", "get-tuple-element"} <= opcodes
