"""Bad input gets a clear error, the input is never modified, and no partial output is left."""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import pytest
from stand_ins import FAKE_NEURON_CC, as_a_user_would_run_it, communicate_or_show_stacks
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from zoo import tree_digest

import nir as tfn
from nir.errors import NirError, NirInputError
from nir.passmanager import register_pass
from nir.pipeline import default_pipeline


@pytest.fixture()
def model(zoo, tmp_path):
    """A private copy of a small model, so corrupting it cannot affect other tests."""
    path = str(tmp_path / "model")
    shutil.copytree(zoo["two_io"], path)
    return path


def expect_error(model_dir: str, out: str, match: str, error=NirInputError, **kwargs):
    before = tree_digest(model_dir) if os.path.isdir(model_dir) else None
    with pytest.raises(error, match=match):
        tfn.saved_model.compile(model_dir, out, progress=False, **kwargs)
    if before is not None:
        assert tree_digest(model_dir) == before, "the input SavedModel was modified"
    parent = os.path.dirname(os.path.abspath(out))
    if os.path.isdir(parent):
        assert not [p for p in os.listdir(parent) if ".nir-tmp-" in p], "a temporary directory was left"
    return before


def test_missing_model_dir(tmp_path):
    expect_error(str(tmp_path / "nope"), str(tmp_path / "out"), "does not exist")
    assert not os.path.exists(tmp_path / "out")


def test_model_dir_is_a_file(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    expect_error(str(path), str(tmp_path / "out"), "is not a directory")


def test_directory_without_saved_model_pb(tmp_path):
    (tmp_path / "empty").mkdir()
    expect_error(str(tmp_path / "empty"), str(tmp_path / "out"), "has no saved_model.pb")


def test_truncated_saved_model_pb(model, tmp_path):
    pb = os.path.join(model, "saved_model.pb")
    with open(pb, "rb") as f:
        data = f.read()
    with open(pb, "wb") as f:
        f.write(data[: len(data) // 3])
    expect_error(model, str(tmp_path / "out"), "truncated or corrupt")
    assert not os.path.exists(tmp_path / "out")


def test_saved_model_pbtxt_that_does_not_parse(model, tmp_path):
    os.remove(os.path.join(model, "saved_model.pb"))
    with open(os.path.join(model, "saved_model.pbtxt"), "w") as f:
        f.write("meta_graphs {\n  meta_info_def { tags: \"serve\" }\n")  # cut short: no closing brace
    expect_error(model, str(tmp_path / "out"), r"saved_model.pbtxt' is not a SavedModel in protobuf's text format "
                                               r"\(.+\); re-export the SavedModel")
    assert not os.path.exists(tmp_path / "out")


def test_missing_variables(model, tmp_path):
    shutil.rmtree(os.path.join(model, "variables"))
    expect_error(model, str(tmp_path / "out"), "variables/ directory")


def test_corrupt_variables(model, tmp_path):
    data_file = next(f for f in os.listdir(os.path.join(model, "variables")) if "data" in f)
    with open(os.path.join(model, "variables", data_file), "r+b") as f:
        f.truncate(10)
    expect_error(model, str(tmp_path / "out"),
                 r"TensorFlow could not load (variable '[^']+' from|the checkpoint) '[^']*variables/variables': "
                 r".+; check that the variables/ directory is complete")


def test_corrupt_variables_index(model, tmp_path):
    with open(os.path.join(model, "variables", "variables.index"), "r+b") as f:
        f.truncate(10)
    expect_error(model, str(tmp_path / "out"),
                 r"TensorFlow could not load the checkpoint '[^']*variables/variables': .+; check that the variables/ "
                 r"directory is complete")


def test_existing_new_model_dir(model, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    expect_error(model, str(out), "already exists")
    assert (out / "keep.txt").read_text() == "mine"


def test_new_model_dir_inside_or_equal_to_model_dir(model):
    expect_error(model, os.path.join(model, "compiled"), "inside model_dir")
    expect_error(model, model, "is model_dir itself")


def test_new_model_dir_not_writable(model):
    expect_error(model, "/proc/nir-compiled", "writable", error=NirError)


def test_disk_full_while_writing(model, tmp_path, monkeypatch):
    import frontends.tensorflow.writer as writer

    real_open = open

    def full_disk_open(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).endswith("saved_model.pb"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, *args, **kwargs)

    import frontends.tensorflow.object_graph as object_graph

    # saved_model.pb is written by the writer (TF1-style outputs) or by the splice's copy.
    monkeypatch.setattr(writer, "open", full_disk_open, raising=False)
    monkeypatch.setattr(object_graph, "open", full_disk_open, raising=False)
    expect_error(model, str(tmp_path / "out"), r"failed \(No space left on device\); nothing was written", error=NirError)
    assert not os.path.exists(tmp_path / "out")


def test_unknown_tags_and_signature_list_the_available_ones(model, tmp_path):
    expect_error(model, str(tmp_path / "out"), r"no MetaGraphDef with tags \['gpu'\]; available tag sets: \[\['serve'\]\]", tags="gpu")
    expect_error(model, str(tmp_path / "out"), r"signature_def_key 'predict' does not exist; available: \['serve', 'serving_default'\]",
                 signature_def_key="predict")


@pytest.mark.parametrize("batch_size,match", [(0, "positive integer"), (-2, "positive integer"), (1.5, "positive integer"), ("4", "positive integer")])
def test_bad_batch_size(model, tmp_path, batch_size, match):
    expect_error(model, str(tmp_path / "out"), match, batch_size=batch_size)


@pytest.mark.parametrize(
    "feed,match",
    [
        ({"nope": [1, 16]}, "has key 'nope', which is not an input of signature 'serving_default'; its inputs are"),
        ({"features": [1, 16, 1]}, "has rank 3, but the model's input has rank 2"),
        ({"features": [1, -16]}, "negative dimension"),
        ({"features": [1, 15]}, "disagrees with the model's known shape"),
        ({"features": "abc"}, "must be a list of ints"),
    ],
)
def test_bad_model_shape_feed_dict(model, tmp_path, feed, match):
    expect_error(model, str(tmp_path / "out"), match, error=NirError, model_shape_feed_dict=feed)


def test_model_feed_dict_with_wrong_dtype(model, tmp_path):
    """Numbers of another width are fed as a Session feeds them (cast); text for a number is not."""
    feed = {"features": np.zeros((1, 16), "S4"), "ids": np.zeros((1, 8), np.int32)}
    expect_error(model, str(tmp_path / "out"),
                 re.escape("has dtype |S4, which a Session cannot feed to input 'features' (float32)"),
                 model_feed_dict=feed)


def test_unknown_non_batch_dimension_gets_the_original_hint(tmp_path):
    import tensorflow as tf

    class Dynamic(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="x")])
        def __call__(self, x):
            return {"y": tf.nn.relu(x) * 2.0}

    module = Dynamic()
    path = str(tmp_path / "dynamic")
    tf.saved_model.save(module, path, signatures=module.__call__)
    expect_error(path, str(tmp_path / "out"), "batch_size is not sufficient to determine the shape of input tensor 'x'.*model_shape_feed_dict", error=NirError)
    report = tfn.saved_model.compile(path, str(tmp_path / "ok"), model_shape_feed_dict={"x": [2, 5]}, progress=False)
    assert report["NumClusters"] == 1


def test_signature_without_inputs(tmp_path):
    import tensorflow as tf

    class Constant(tf.Module):
        @tf.function(input_signature=[])
        def __call__(self):
            return {"y": tf.constant([1.0, 2.0])}

    module = Constant()
    path = str(tmp_path / "constant")
    tf.saved_model.save(module, path, signatures=module.__call__)
    expect_error(path, str(tmp_path / "out"), "has no inputs")


def test_no_fuse_ops_with_unknown_names_warns_with_close_matches(model, tmp_path):
    with pytest.warns(UserWarning, match=r"no_fuse_ops names 'StatefulPartitionedCall_1/StatefulPartitionedCall/functional_1/dense_1/MatMu'.*did you mean"):
        tfn.saved_model.compile(
            model, str(tmp_path / "out"), progress=False,
            no_fuse_ops=["StatefulPartitionedCall_1/StatefulPartitionedCall/functional_1/dense_1/MatMu"],
        )
    assert os.path.isfile(tmp_path / "out" / "saved_model.pb")


def test_bad_pipeline_string(model, tmp_path):
    from nir.passmanager import PipelineError

    expect_error(model, str(tmp_path / "out"), "unknown pass 'clusterize'", error=PipelineError, pipeline="clusterize")


def test_ir_syntax_error_names_line_and_column(tmp_path):
    from nir.ir import IRSyntaxError, parse_module

    text = 'builtin.module {\n  func.func @main() {\n    %a = "tf.Const"() <{node_name = }> : () -> ()\n  }\n}\n'
    with pytest.raises(IRSyntaxError, match=r"bad.mlir:3:\d+"):
        parse_module(text, "bad.mlir")
    path = tmp_path / "bad.mlir"
    path.write_text(text)
    result = subprocess.run([sys.executable, "-m", "nir.cli", "opt", str(path), "-p", "tf-dce"], capture_output=True, text=True)
    assert result.returncode == 1 and "bad.mlir:3:" in result.stderr


def test_graph_over_the_protobuf_limit_is_a_clear_error(model, tmp_path, monkeypatch):
    import frontends.tensorflow.writer as writer

    monkeypatch.setattr(writer, "PROTOBUF_LIMIT", 1000)
    expect_error(model, str(tmp_path / "out"), "over protobuf's 2 GiB limit")


def test_interrupted_compile_leaves_nothing_and_kills_neuron_cc(model, tmp_path, fake_neuron_cc):
    out, workdir = str(tmp_path / "out"), str(tmp_path / "workdir")
    env = {**os.environ, "FAKE_NEURON_CC_MODE": "hang"}
    process = subprocess.Popen(
        [sys.executable, "-m", "nir.cli", "compile", model, out, "--neuron-cc", fake_neuron_cc,
         "--compiler-workdir", workdir],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=as_a_user_would_run_it,
    )
    deadline = time.time() + 120
    logs = []
    while time.time() < deadline and not logs:
        time.sleep(0.5)
        if os.path.isdir(workdir):
            logs = [d for d in os.listdir(workdir) if os.path.exists(os.path.join(workdir, d, "graph_def.neuron-cc.log"))]
    assert logs, "neuron-cc never started"
    time.sleep(3)  # let the stand-in reach its sleep
    process.send_signal(signal.SIGINT)
    _, stderr = communicate_or_show_stacks(process, 60)
    assert process.returncode == 130, stderr
    assert not os.path.exists(out)
    assert not [p for p in os.listdir(tmp_path) if ".nir-tmp-" in p]
    # The launcher execs the stand-in, so the running processes carry the script's path.
    leftover = subprocess.run(["pgrep", "-f", f"{FAKE_NEURON_CC} compile"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "neuron-cc children survived the interrupt"


def test_two_compiles_at_once_give_identical_outputs(model, tmp_path, fake_neuron_cc):
    outs = [str(tmp_path / "a"), str(tmp_path / "b")]
    processes = [
        subprocess.Popen([sys.executable, "-m", "nir.cli", "compile", model, out, "--neuron-cc", fake_neuron_cc],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for out in outs
    ]
    for p in processes:
        p.communicate(timeout=300)
        assert p.returncode == 0
    assert tree_digest(outs[0]) == tree_digest(outs[1])


def test_relift_and_inline_refuse_what_they_cannot_use(model, tmp_path):
    with pytest.raises(NirInputError, match="not a nir compiler workdir"):
        tfn.saved_model.relift(str(tmp_path), str(tmp_path / "out"))
    before = tree_digest(model)
    with pytest.raises(NirInputError, match="is model_dir itself"):
        tfn.saved_model.inline_neuron_ops(model, model)
    with pytest.raises(NirInputError, match="is not a model written by nir"):
        tfn.saved_model.inline_neuron_ops(model, str(tmp_path / "inlined"))
    assert not os.path.exists(tmp_path / "inlined")
    assert tree_digest(model) == before
    result = subprocess.run([sys.executable, "-m", "nir.cli", "relift", str(tmp_path), str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "not a nir compiler workdir" in result.stderr


@pytest.mark.parametrize(
    "mode,match",
    [("fail", "neuron-cc exited with 1: ERROR: failing as FAKE_NEURON_CC_MODE=fail asks"),
     ("crash", "neuron-cc exited with -6: neuron-cc compile: aborting as FAKE_NEURON_CC_MODE=crash asks"),
     ("no-neff", "wrote no NEFF: neuron-cc compile: writing no NEFF as FAKE_NEURON_CC_MODE=no-neff asks"),
     ("hang", "timed out after 5 s: neuron-cc compile: hanging as FAKE_NEURON_CC_MODE=hang asks")],
)
def test_compiler_failures_in_strict_mode_leave_input_and_target_untouched(model, tmp_path, fake_neuron_cc, monkeypatch, mode, match):
    from nir.saved_model import CompileFailedError

    monkeypatch.setenv("FAKE_NEURON_CC_MODE", mode)
    out = str(tmp_path / "out")
    expect_error(model, out, match, error=CompileFailedError, neuron_cc=fake_neuron_cc, strict=True,
                 compiler_timeout=5)
    assert not os.path.exists(out)


def test_plain_graph_def_with_named_inputs_and_outputs(zoo, tmp_path):
    from graphdef_files import import_graph_def_file

    from frontends.tensorflow.exporter import export_module
    from nir.pipeline import import_saved_model

    module, loaded = import_saved_model(zoo["tf1_two_signatures"])
    path = tmp_path / "frozen.pb"
    frozen, _ = export_module(module)  # the loader's graph names its weights; this one holds them
    path.write_bytes(frozen.SerializeToString())
    imported = import_graph_def_file(str(path), ["x"], ["probs:0", "logits"])
    graph_def, signature = export_module(imported)
    assert [s.tensor_name for s in signature.outputs] == ["probs:0", "logits:0"]
    assert {n.name for n in graph_def.node} == {n.name for n in loaded.graph_def.node}
    with pytest.raises(NirInputError, match="'nope' is not a node"):
        import_graph_def_file(str(path), ["x"], ["nope"])
    (tmp_path / "junk.pb").write_bytes(b"\xff\xff\xff")
    with pytest.raises(NirInputError, match="is not a binary GraphDef"):
        import_graph_def_file(str(tmp_path / "junk.pb"), ["x"], ["probs"])


@register_pass
@dataclass(frozen=True)
class FeedMatMulRank3(ModulePass):
    """A researcher's pass with a bug: the first MatMul's left operand goes through an ExpandDims,
    so MatMul is fed a rank-3 tensor TensorFlow refuses."""

    name = "test-feed-matmul-rank-3"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from xdsl.dialects.builtin import i32

        from nir.ir import constant, entry_function
        from nir.ir.shapes import tensor_type, tf_shape
        from nir.ir.tf_dialect import TFNodeOp, create_tf_op

        matmul = next(o for o in entry_function(op).walk() if isinstance(o, TFNodeOp) and o.tf_type == "MatMul")
        a = matmul.data_operands[0]
        axis = constant(matmul, "bug_axis", np.array(0, np.int32), i32)
        expanded = create_tf_op("ExpandDims", matmul.node_name + "/bug_expanded", [a, axis.data_results[0]],
                                [tensor_type(a.type.element_type, (1, *tf_shape(a.type)))],
                                {"T": a.type.element_type, "Tdim": i32})
        matmul.parent_block().insert_ops_before([axis, expanded], matmul)
        matmul.operands = [expanded.data_results[0], *matmul.operands[1:]]


def test_a_pass_that_breaks_the_graph_is_named_and_nothing_is_written(model, tmp_path):
    """A plug-in pass that makes a graph TensorFlow would refuse is stopped right after it
    (not blamed on a later pass), with the node and the rule; compile writes nothing."""
    pipeline = default_pipeline().replace("tf-shape-inference,", "tf-shape-inference,test-feed-matmul-rank-3,")
    out = str(tmp_path / "out")
    expect_error(model, out, r"pass 'test-feed-matmul-rank-3' left invalid IR: \[shape\] node '[^']*MatMul[^']*': "
                 r"MatMul '[^']*': a must be rank 2 but is rank 3", error=NirError, pipeline=pipeline)
    assert not os.path.exists(out)


def test_tensorflow_is_the_last_gate_before_writing(model, tmp_path, monkeypatch):
    """A graph broken after the last pass (here: relift transposes a MatMul's weight, as a
    backend bug would) is imported into TensorFlow before anything is written; its
    refusal names the node and the pass that last changed it, and nothing is written."""
    import nir.compile_driver as driver

    relift = driver.relift_and_count

    def broken_relift(*args, **kwargs):
        graph_def, signature, report = relift(*args, **kwargs)
        # transpose_b of a dense layer whose weight is not square: its shape is known, so
        # TensorFlow's shape function refuses the MatMul itself (its input's batch is not).
        consts = {n.name: [d.size for d in n.attr["value"].tensor.tensor_shape.dim] for n in graph_def.node
                  if n.op == "Const"}
        matmul = next(n for n in graph_def.node if n.op == "MatMul" and len(set(consts.get(n.input[1], [1]))) == 2)
        matmul.attr["transpose_b"].b = not matmul.attr["transpose_b"].b
        return graph_def, signature, report

    monkeypatch.setattr(driver, "relift_and_count", broken_relift)
    out = str(tmp_path / "out")
    expect_error(model, out, r"TensorFlow refuses node '[^']*(?i:matmul)[^']*' of the graph \(last changed by pass "
                 r"'tf-[a-z-]+'\): .*nothing was written", error=NirError)
    assert not os.path.exists(out)


def test_the_gate_imports_graphs_without_their_weights():
    from tensorflow.core.framework import graph_pb2

    from frontends.tensorflow.gate import _without_payloads, tensorflow_refusal

    graph_def = graph_pb2.GraphDef()
    const = graph_def.node.add(name="w", op="Const")
    const.attr["dtype"].type = 1
    const.attr["value"].tensor.CopyFrom(__import__("tensorflow").make_tensor_proto(np.ones((64, 64), np.float32)))
    relu = graph_def.node.add(name="r", op="Relu", input=["w"])
    relu.attr["T"].type = 1
    light = _without_payloads(graph_def)
    assert light.ByteSize() < 200 < graph_def.ByteSize()
    assert tensorflow_refusal(graph_def) is None
    relu.attr["T"].type = 3
    refusal = tensorflow_refusal(graph_def)
    assert refusal.node == "r" and "float" in refusal.message


def test_the_gate_imports_neuron_ops_without_their_graphs_and_neffs():
    """A NeuronOp's embedded graph is judged on its own; in the graph around it, its graph and
    NEFF (hundreds of MB for a big model) are left out of the copy TensorFlow imports."""
    from tensorflow.core.framework import graph_pb2

    from frontends.tensorflow.gate import _without_payloads

    graph_def = graph_pb2.GraphDef()
    neuron = graph_def.node.add(name="n", op="NeuronOp", input=["x"])
    neuron.attr["graph_def"].s = b"g" * 5000
    neuron.attr["executable"].s = b"e" * 5000
    neuron.attr["input_names"].list.s.append(b"x:0")
    (light,) = _without_payloads(graph_def).node
    assert (light.attr["graph_def"].s, light.attr["executable"].s) == (b"", b"")
    assert list(light.attr["input_names"].list.s) == [b"x:0"] and list(light.input) == ["x"]
