"""nir.saved_model.compile: the seed's example, NeuronOps, inline, relift, strict mode."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

import pytest
from tensorflow.core.protobuf import saved_model_pb2
from zoo import assert_same_outputs, random_feeds, run_signature, tree_digest

import nir as tfn
from nir.saved_model import CompileFailedError

ZOO = ["resnet50", "mobilenetv2", "two_io", "transformer", "tf1_two_signatures", "control_flow"]


def _graph(model_dir: str):
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(model_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return proto.meta_graphs[0]


def _neuron_ops(model_dir: str):
    """The NeuronOps of a compiled model, in its graph or (a TF2 SavedModel) its functions."""
    from backends.neuron.neuron_op import neuron_ops

    return neuron_ops(_graph(model_dir).graph_def)


def test_seed_example_with_only_the_import_changed(zoo, tmp_path, caplog, fake_neuron_cc, monkeypatch):
    """The seed's example, as written, with neuron-cc on PATH (the stand-in): ResNet50 becomes
    one compiled NeuronOp, and the log says how many ops run on Neuron."""
    monkeypatch.setenv("PATH", os.path.dirname(fake_neuron_cc) + os.pathsep + os.environ["PATH"])
    saved_model_path = zoo["resnet50"]
    compiled_saved_model_path = str(tmp_path / "resnet50_neuron")
    example = f"""
import shutil
import nir as tfn
saved_model_path = {saved_model_path!r}
compiled_saved_model_path = {compiled_saved_model_path!r}
shutil.rmtree(compiled_saved_model_path, ignore_errors=True)
tfn.saved_model.compile(saved_model_path, compiled_saved_model_path)
"""
    with caplog.at_level(logging.INFO, logger="tensorflow"):
        exec(compile(example, "seed_example", "exec"), {})
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Number of operations in TensorFlow session: ") for m in messages)
    assert any(m.startswith("Number of operations after tf.neuron optimizations: ") for m in messages)
    assert "Number of operations placed on Neuron runtime: 501" in messages
    (node,) = _neuron_ops(compiled_saved_model_path)
    assert node.attr["executable"].s.startswith(b"NIR-TEST-NEFF")
    # Without the Neuron runtime, the compiled model answers through its NeuronOp's own graph.
    inlined = str(tmp_path / "inlined")
    tfn.saved_model.inline_neuron_ops(compiled_saved_model_path, inlined)
    feeds = random_feeds(saved_model_path)
    assert_same_outputs(run_signature(saved_model_path, feeds), run_signature(inlined, feeds))


def test_neuron_op_attributes(zoo, tmp_path, fake_neuron_cc):
    compiled = str(tmp_path / "compiled")
    workdir = str(tmp_path / "workdir")
    report = tfn.saved_model.compile(
        zoo["resnet50"], compiled, neuron_cc=fake_neuron_cc, compiler_workdir=workdir, progress=False
    )
    (node,) = _neuron_ops(compiled)
    # Exact: a change in what reaches the accelerator shows here first.
    assert {k: report[k] for k in ("NumClusters", "NumCompiledClusters", "OperatorCountInSession",
                                   "OperatorCountAfterOptimization", "OperatorCountOnNeuron")} == {
        "NumClusters": 1, "NumCompiledClusters": 1, "OperatorCountInSession": 2889,
        "OperatorCountAfterOptimization": 503, "OperatorCountOnNeuron": 501}
    assert node.name.rpartition("/")[2].startswith("neuron_op_")
    attrs = node.attr
    assert attrs["executable"].s.startswith(b"NIR-TEST-NEFF")
    from tensorflow.core.framework import graph_pb2

    inner = graph_pb2.GraphDef.FromString(attrs["graph_def"].s)
    placeholders = [n for n in inner.node if n.op == "Placeholder"]
    assert [p.name + ":0" for p in placeholders] == [s.decode() for s in attrs["input_names"].list.s]
    assert len(attrs["input_dtypes"].list.type) == len(attrs["input_shapes"].list.shape) == len(placeholders)
    assert [d.size for d in attrs["input_shapes"].list.shape[0].dim] == [1, 224, 224, 3]
    assert len(attrs["output_names"].list.s) == len(attrs["output_dtypes"].list.type) == 1
    assert [d.size for d in attrs["output_shapes"].list.shape[0].dim] == [1, 1000]
    # The image and the logits carry the batch on dimension 0: dynamic batch is on by itself.
    assert list(attrs["input_batch_axis"].list.i) == [0]
    assert list(attrs["output_batch_axis"].list.i) == [0]
    # The original's defaults: any global cores, any for this op, no pipelining, max 10 in flight.
    assert list(attrs["model_config"].list.i) == [-1, -1, -1, 10]
    assert report["OperatorCountOnNeuron"] == len(inner.node) - len(placeholders)
    folder = os.path.join(workdir, node.name.rpartition("/")[2])
    for name in ("graph_def.pb", "graph_def.io-config.json", "command.sh", "graph_def.neff", "graph_def.neuron-cc.log"):
        assert os.path.isfile(os.path.join(folder, name)), name


def test_compiling_twice_gives_identical_saved_model(zoo, tmp_path, fake_neuron_cc):
    first, second = str(tmp_path / "a"), str(tmp_path / "b")
    reports = [tfn.saved_model.compile(zoo["two_io"], out, neuron_cc=fake_neuron_cc, progress=False)
               for out in (first, second)]
    # Both compiled their cluster (two failed compiles would be identical too).
    assert [(r["NumClusters"], r["NumCompiledClusters"]) for r in reports] == [(1, 1), (1, 1)]
    assert [len(_neuron_ops(out)) for out in (first, second)] == [1, 1]
    assert tree_digest(first) == tree_digest(second)


def _as_text_saved_model(model_dir: str, text_dir: str) -> str:
    """A copy of `model_dir` whose protobuf is saved_model.pbtxt, as TensorFlow's loader takes."""
    from google.protobuf import text_format

    from frontends.tensorflow.loader import read_saved_model_proto

    shutil.copytree(model_dir, text_dir)
    proto = read_saved_model_proto(text_dir)
    os.remove(os.path.join(text_dir, "saved_model.pb"))
    with open(os.path.join(text_dir, "saved_model.pbtxt"), "w") as f:
        f.write(text_format.MessageToString(proto))
    return text_dir


def test_a_saved_model_in_text_form_compiles_as_its_binary_form(zoo, tmp_path, fake_neuron_cc):
    text = _as_text_saved_model(zoo["two_io"], str(tmp_path / "text"))
    before = tree_digest(text)
    outputs = {form: str(tmp_path / form) for form in ("binary", "from_text")}
    for form, model in (("binary", zoo["two_io"]), ("from_text", text)):
        report = tfn.saved_model.compile(model, outputs[form], neuron_cc=fake_neuron_cc, progress=False)
        assert (report["NumClusters"], report["NumCompiledClusters"]) == (1, 1)
    assert tree_digest(text) == before
    assert tree_digest(outputs["binary"]) == tree_digest(outputs["from_text"])

    # Core binding edits a text SavedModel in its own form.
    bound = _as_text_saved_model(outputs["from_text"], str(tmp_path / "bound"))
    tfn.saved_model.set_core_binding(bound, [1])
    assert set(os.listdir(bound)) == set(os.listdir(outputs["from_text"])) - {"saved_model.pb"} | {"saved_model.pbtxt"}
    assert list(tfn.saved_model.inspect_core_binding(bound).values()) == [1]


def test_relift_from_workdir_equals_direct_compile(zoo, tmp_path, fake_neuron_cc):
    direct, lifted = str(tmp_path / "direct"), str(tmp_path / "lifted")
    workdir = str(tmp_path / "workdir")
    tfn.saved_model.compile(zoo["two_io"], direct, neuron_cc=fake_neuron_cc, compiler_workdir=workdir, progress=False)
    report = tfn.saved_model.relift(workdir, lifted)
    assert report["NumCompiledClusters"] == report["NumClusters"] == 1
    with open(os.path.join(direct, "saved_model.pb"), "rb") as a, open(os.path.join(lifted, "saved_model.pb"), "rb") as b:
        assert a.read() == b.read()


def test_without_neuron_cc_everything_is_emitted_and_model_runs(zoo, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    workdir, out = str(tmp_path / "workdir"), str(tmp_path / "out")
    with pytest.warns(UserWarning, match="neuron-cc is not installed"):
        report = tfn.saved_model.compile(zoo["two_io"], out, compiler_workdir=workdir)
    assert report["NumClusters"] == 1 and report["NumCompiledClusters"] == 0
    assert not _neuron_ops(out)
    folders = [d for d in os.listdir(workdir) if d.startswith("neuron_op_")]
    assert len(folders) == report["NumClusters"]
    with open(os.path.join(workdir, folders[0], "command.sh")) as f:
        assert "neuron-cc compile graph_def.pb --framework TENSORFLOW" in f.read()
    feeds = random_feeds(zoo["two_io"])
    assert_same_outputs(run_signature(zoo["two_io"], feeds), run_signature(out, feeds))


def test_failing_compiler_restores_cpu_ops_or_raises_in_strict_mode(zoo, tmp_path, fake_neuron_cc, monkeypatch):
    monkeypatch.setenv("FAKE_NEURON_CC_MODE", "fail")
    out = str(tmp_path / "out")
    report = tfn.saved_model.compile(zoo["two_io"], out, neuron_cc=fake_neuron_cc, progress=False)
    assert report["NumCompiledClusters"] == 0 and not _neuron_ops(out)
    feeds = random_feeds(zoo["two_io"])
    assert_same_outputs(run_signature(zoo["two_io"], feeds), run_signature(out, feeds))
    strict_out = str(tmp_path / "strict")
    with pytest.raises(CompileFailedError, match=r"neuron_op_\w+ \(neuron-cc exited with 1: ERROR: failing as FAKE_NEURON_CC_MODE=fail asks; log: .*neuron-cc.log\)"):
        tfn.saved_model.compile(zoo["two_io"], strict_out, neuron_cc=fake_neuron_cc, strict=True, progress=False)
    assert not os.path.exists(strict_out)
    assert not [p for p in os.listdir(tmp_path) if "nir-tmp" in p]


@pytest.mark.parametrize("name,setting,options,clusters", [
    # The LSTM unrolled is one cluster, the cell's math in it refused: it all goes back to CPU.
    ("lstm", "FAKE_NEURON_CC_REFUSE_OPS=Sigmoid", {}, (1, 0)),
    # Left a loop, the cell's math is refused inside the loop body: that cluster goes back to CPU.
    ("lstm", "FAKE_NEURON_CC_REFUSE_OPS=Sigmoid", {"max_unrolled_ops": 0}, (3, 2)),
    # MobileNetV2's weights (14 MB) over a 1 MB state buffer: the whole model returns to CPU.
    ("mobilenetv2", "FAKE_NEURON_CC_MAX_WEIGHT_BYTES=1000000", {}, (1, 0)),
], ids=["lstm-unrolled", "lstm-rolled", "mobilenetv2"])
def test_clusters_neuron_cc_refuses_return_to_cpu_in_real_models(zoo, tmp_path, fake_neuron_cc, monkeypatch,
                                                                 name, setting, options, clusters):
    monkeypatch.setenv(*setting.split("="))
    out = str(tmp_path / "out")
    report = tfn.saved_model.compile(zoo[name], out, neuron_cc=fake_neuron_cc, progress=False, **options)
    assert (report["NumClusters"], report["NumCompiledClusters"]) == clusters
    assert len(_neuron_ops(out)) == clusters[1]
    inlined = str(tmp_path / "inlined")
    tfn.saved_model.inline_neuron_ops(out, inlined)
    feeds = random_feeds(zoo[name])
    assert_same_outputs(run_signature(zoo[name], feeds), run_signature(inlined, feeds))


@pytest.mark.parametrize("mode,reason", [
    ("hang", "timed out after 5 s: neuron-cc compile: hanging as FAKE_NEURON_CC_MODE=hang asks"),
    ("no-neff", "wrote no NEFF: neuron-cc compile: writing no NEFF as FAKE_NEURON_CC_MODE=no-neff asks"),
    ("crash", "exited with -6: neuron-cc compile: aborting as FAKE_NEURON_CC_MODE=crash asks"),
])
def test_misbehaving_compiler_is_reported(zoo, tmp_path, fake_neuron_cc, monkeypatch, mode, reason):
    monkeypatch.setenv("FAKE_NEURON_CC_MODE", mode)
    with pytest.raises(CompileFailedError, match=reason):
        tfn.saved_model.compile(
            zoo["two_io"], str(tmp_path / "out"), neuron_cc=fake_neuron_cc, strict=True,
            compiler_timeout=5, progress=False,
        )


def test_must_compile_flag_in_environment_means_strict(zoo, tmp_path, fake_neuron_cc, monkeypatch):
    monkeypatch.setenv("FAKE_NEURON_CC_MODE", "fail")
    monkeypatch.setenv("NEURON_CC_FLAGS", "--must-compile")
    with pytest.raises(CompileFailedError, match="ERROR: failing as FAKE_NEURON_CC_MODE=fail asks"):
        tfn.saved_model.compile(zoo["two_io"], str(tmp_path / "out"), neuron_cc=fake_neuron_cc, progress=False)


def test_cli_compile_exit_codes(zoo, tmp_path, fake_neuron_cc):
    ok = subprocess.run(
        [sys.executable, "-m", "nir.cli", "compile", zoo["two_io"], str(tmp_path / "a"), "--neuron-cc", fake_neuron_cc],
        capture_output=True, text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert "Number of operations placed on Neuron runtime" in ok.stderr
    partial = subprocess.run(
        [sys.executable, "-m", "nir.cli", "compile", zoo["two_io"], str(tmp_path / "b")],
        capture_output=True, text=True, env={**os.environ, "PATH": "/usr/bin:/bin"},
    )
    assert partial.returncode == 3, partial.stderr
    failed = subprocess.run(
        [sys.executable, "-m", "nir.cli", "compile", str(tmp_path / "missing"), str(tmp_path / "c")],
        capture_output=True, text=True,
    )
    assert failed.returncode == 1 and "does not exist" in failed.stderr
    shutil.rmtree(str(tmp_path / "a"))


def test_dynamic_batch_marks_batch_axes_and_unknown_signature_batch(zoo, tmp_path, fake_neuron_cc):
    compiled = str(tmp_path / "compiled")
    tfn.saved_model.compile(zoo["two_io"], compiled, batch_size=4, dynamic_batch_size=True,
                            neuron_cc=fake_neuron_cc, progress=False)
    (node,) = _neuron_ops(compiled)
    # Both inputs (ids, features) and both outputs carry the batch on dimension 0.
    assert list(node.attr["input_batch_axis"].list.i) == [0, 0]
    assert list(node.attr["output_batch_axis"].list.i) == [0, 0]
    assert [shape.dim[0].size for shape in node.attr["input_shapes"].list.shape] == [4, 4]
    signature = _graph(compiled).signature_def["serving_default"]
    assert all(info.tensor_shape.dim[0].size == -1 for info in signature.inputs.values())
    assert all(info.tensor_shape.dim[0].size == -1 for info in signature.outputs.values())
    fixed = str(tmp_path / "fixed")
    tfn.saved_model.compile(zoo["two_io"], fixed, neuron_cc=fake_neuron_cc, progress=False, dynamic_batch_size=False)
    (node,) = _neuron_ops(fixed)
    assert set(node.attr["input_batch_axis"].list.i) == {-1}
    automatic = str(tmp_path / "automatic")
    tfn.saved_model.compile(zoo["two_io"], automatic, batch_size=4, neuron_cc=fake_neuron_cc, progress=False)
    (node,) = _neuron_ops(automatic)  # the original's default: on, since every tensor carries the batch
    assert set(node.attr["input_batch_axis"].list.i) == set(node.attr["output_batch_axis"].list.i) == {0}


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_progress_is_whole_lines_unless_stderr_is_a_terminal(monkeypatch, capsys, terminal):
    """In a CI log or a pipe, `\\r` updates arrive glued together ("0/19 clusters compilednir:
    ..."): there the progress is whole lines at the start, each quarter and the end; a terminal
    gets one line rewritten in place."""
    import sys

    from backends.driver import _Progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal, raising=False)
    progress = _Progress("neuron-cc", total=8, cached=1, show=True)
    for _ in range(7):
        progress.advance(1)
    progress.close()
    err = capsys.readouterr().err
    if terminal:
        assert err.count("\r") == 8 and err.endswith("8/8 clusters compiled (1 from the compile cache)\n")
    else:
        assert "\r" not in err
        assert [line.split()[2] for line in err.splitlines()] == ["1/8", "2/8", "4/8", "6/8", "8/8"]


def test_dynamic_batch_axes_follow_each_tensor(tmp_path, fake_neuron_cc):
    """A cluster fed a batch tensor and a fixed one, and giving a batch tensor and a fixed one:
    each NeuronOp tensor's batch axis says which it is (0 or -1), in NeuronOp order, and the
    model answers at a batch size it was not compiled for."""
    import numpy as np
    import tensorflow as tf

    class Mixed(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.random.RandomState(3).standard_normal((4, 4)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x"),
                                      tf.TensorSpec([4], tf.float32, name="bias")])
        def __call__(self, x, bias):
            hidden = tf.nn.relu(tf.matmul(x, self.w) + bias)
            scale = tf.tanh(tf.matmul(tf.reshape(bias, [1, 4]), self.w))
            # Three outputs against two inputs: swapped axis lists cannot look right by chance.
            return {"hidden": tf.tanh(hidden * 2.0), "shifted": tf.nn.relu(hidden - 1.0),
                    "scale": tf.nn.sigmoid(scale * 3.0)}

    model, compiled, inlined = (str(tmp_path / n) for n in ("model", "compiled", "inlined"))
    module = Mixed()
    tf.saved_model.save(module, model, signatures=module.__call__)
    tfn.saved_model.compile(model, compiled, batch_size=2, dynamic_batch_size=True, neuron_cc=fake_neuron_cc,
                            minimum_segment_size=1, progress=False)
    nodes = _neuron_ops(compiled)
    assert nodes
    seen = set()
    for node in nodes:
        for side in ("input", "output"):
            shapes = node.attr[f"{side}_shapes"].list.shape
            axes = list(node.attr[f"{side}_batch_axis"].list.i)
            # The batch-carrying tensors are the ones whose dimension 0 is the compiled batch (2)
            # and rank 2; the bias (rank 1) and the scale ([1, 4]) are not.
            assert axes == [0 if len(s.dim) == 2 and s.dim[0].size == 2 else -1 for s in shapes], (node.name, side)
            seen |= set(axes)
    assert seen == {0, -1}, "the model has no cluster mixing batch and fixed tensors"
    tfn.saved_model.inline_neuron_ops(compiled, inlined)
    feeds = {"x": np.random.RandomState(4).standard_normal((5, 4)).astype(np.float32),
             "bias": np.random.RandomState(5).standard_normal(4).astype(np.float32)}
    assert_same_outputs(run_signature(model, feeds), run_signature(inlined, feeds))


def test_dynamic_batch_keeps_a_cluster_whose_output_holds_the_batch_elsewhere_at_its_batch(tmp_path, fake_neuron_cc, caplog):
    """An output transposed to [6, batch] cannot be cut along dimension 0: marked -1 beside a
    batch input, the runtime would overwrite it piece by piece. Its NeuronOp is compiled for its
    batch only (every axis -1, so the runtime refuses another batch by its input's shape), with
    a warning naming the tensor; the answers stay the original's."""
    import numpy as np
    import tensorflow as tf

    class Transposed(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.random.RandomState(3).standard_normal((4, 6)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def __call__(self, x):
            hidden = tf.nn.relu(tf.matmul(x, self.w))
            return {"by_feature": tf.tanh(tf.transpose(hidden) * 2.0), "by_sample": tf.nn.sigmoid(hidden)}

    model, compiled, inlined = (str(tmp_path / n) for n in ("model", "compiled", "inlined"))
    module = Transposed()
    tf.saved_model.save(module, model, signatures=module.__call__)
    with caplog.at_level(logging.WARNING, logger="nir"):
        tfn.saved_model.compile(model, compiled, batch_size=2, dynamic_batch_size=True, neuron_cc=fake_neuron_cc,
                                minimum_segment_size=1, progress=False)
    (node,) = _neuron_ops(compiled)
    shapes = [[d.size for d in s.dim] for s in node.attr["output_shapes"].list.shape]
    assert sorted(shapes) == [[2, 6], [6, 2]]
    assert list(node.attr["input_batch_axis"].list.i) == [-1]
    assert list(node.attr["output_batch_axis"].list.i) == [-1, -1]
    assert any("runs at its compiled batch only" in r.getMessage() and "Tanh:0 cannot be cut" in r.getMessage()
               for r in caplog.records)
    tfn.saved_model.inline_neuron_ops(compiled, inlined)
    feeds = {"x": np.random.RandomState(4).standard_normal((2, 4)).astype(np.float32)}
    assert_same_outputs(run_signature(model, feeds), run_signature(inlined, feeds))


def test_dynamic_batch_keeps_a_reduction_over_the_batch_at_its_batch(zoo, tmp_path, fake_neuron_cc, caplog):
    """control_flow's tf.cond tests reduce_sum(y) > 0 over the whole batch: cut into pieces, each
    piece would decide for itself. A NeuronOp that computes that predicate runs at its compiled
    batch (its output is fixed in shape but computed across the batch). With its loop unrolled,
    the model is one NeuronOp, which therefore runs at its compiled batch; left a loop, the loop
    body's NeuronOp, per sample, is cut, and the predicate's is not."""
    compiled, rolled = str(tmp_path / "compiled"), str(tmp_path / "rolled")
    with caplog.at_level(logging.WARNING, logger="nir"):
        tfn.saved_model.compile(zoo["control_flow"], compiled, dynamic_batch_size=True, neuron_cc=fake_neuron_cc,
                                progress=False)
    axes = [(list(n.attr["input_batch_axis"].list.i), list(n.attr["output_batch_axis"].list.i))
            for n in _neuron_ops(compiled)]
    assert axes == [([-1], [-1, -1])]
    assert any("Greater:0 is computed across the batch" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nir"):
        tfn.saved_model.compile(zoo["control_flow"], rolled, dynamic_batch_size=True, neuron_cc=fake_neuron_cc,
                                progress=False, max_unrolled_ops=0)
    axes = sorted((list(n.attr["input_batch_axis"].list.i), list(n.attr["output_batch_axis"].list.i))
                  for n in _neuron_ops(rolled))
    assert axes == [([-1], [-1]), ([0], [0])]
    assert any("Greater:0 is computed across the batch" in r.getMessage() for r in caplog.records)


def test_dynamic_batch_relaxes_only_the_placeholders_that_carry_the_batch(tmp_path, fake_neuron_cc):
    """In a TF1 output a Session checks each feed against its Placeholder: the batch input's
    takes any batch, a fixed input's (a bias of 4) keeps its shape, so a wrong bias is still
    refused at the feed."""
    import numpy as np
    import tensorflow as tf

    model, out, inline = (str(tmp_path / name) for name in ("model", "out", "inline"))
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        bias = tf.compat.v1.placeholder(tf.float32, [4], name="bias")
        w = tf.constant(np.random.RandomState(0).standard_normal((4, 4)).astype(np.float32))
        y = tf.tanh(tf.matmul(x, w) + bias, name="y")
        tf.compat.v1.saved_model.simple_save(session, model, {"x": x, "bias": bias}, {"y": y})
    tfn.saved_model.compile(model, out, batch_size=2, dynamic_batch_size=True, neuron_cc=fake_neuron_cc, progress=False)
    compiled = tfn.load(out).neuron_graph_def
    shapes = {n.name: [d.size for d in n.attr["shape"].shape.dim] for n in compiled.node if n.op == "Placeholder"}
    assert shapes == {"x": [-1, 4], "bias": [4]}
    tfn.saved_model.inline_neuron_ops(out, inline)
    feeds = {"x": np.ones((5, 4), np.float32), "bias": np.arange(4, dtype=np.float32)}
    assert_same_outputs(run_signature(model, feeds), run_signature(inline, feeds))
