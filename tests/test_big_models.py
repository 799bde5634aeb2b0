"""Models past protobuf's 2 GiB, in miniature: the limits shrink, the paths are the real ones.

Weights come from the checkpoint one variable at a time (never one frozen GraphDef), the output
keeps the CPU part's weights as variables, clusters are cut under max-cluster-bytes, and when
the NeuronOps together would still pass the limit, their constants go to the checkpoint too.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from zoo import random_feeds, run_signature

import nir
from frontends.tensorflow.checkpoint import CHECKPOINT_KEY_ATTR
from frontends.tensorflow.loader import load_saved_model, read_saved_model_proto

MB = 1 << 20


def assert_same_outputs(expected: dict, actual: dict) -> None:
    assert expected.keys() == actual.keys()
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], rtol=1e-5, atol=1e-5)


def test_the_frontend_never_holds_the_weights_in_a_graphdef(zoo):
    loaded = load_saved_model(zoo["wide_mlp"])
    variables = [n for n in loaded.graph_def.node if CHECKPOINT_KEY_ATTR in n.attr]
    assert len(variables) == 4 and loaded.weights is not None
    assert loaded.graph_def.ByteSize() < 64 * 1024, "the frozen graph carries the weights"
    shapes = sorted(loaded.weights(n.attr[CHECKPOINT_KEY_ATTR].s.decode()).shape for n in variables)
    assert shapes == [(8, 512), (512, 8), (512, 512), (512, 512)]


def test_a_model_whose_restore_op_nir_cannot_follow_loads_through_a_session(zoo, monkeypatch):
    import frontends.tensorflow.loader as loader
    from frontends.tensorflow.checkpoint import NotFollowable

    def refuse(meta_graph):
        raise NotFollowable("a saver nir does not know")

    monkeypatch.setattr(loader, "variable_keys", refuse)
    loaded = load_saved_model(zoo["wide_mlp"])
    assert loaded.weights is None
    assert not any(CHECKPOINT_KEY_ATTR in n.attr for n in loaded.graph_def.node)
    assert loaded.graph_def.ByteSize() > 2 * MB


def test_without_a_compiler_the_weights_are_variables_of_the_output(zoo, tmp_path, monkeypatch, caplog):
    import frontends.tensorflow.variables as variables
    import frontends.tensorflow.writer as writer

    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no neuron-cc: every cluster stays on CPU
    monkeypatch.setattr(variables, "SAVE_BATCH_BYTES", 256 * 1024)  # 1 MB weights go in slices
    monkeypatch.setattr(writer, "OBJECT_GRAPH_MAX_WEIGHT_BYTES", MB)  # too big to keep its object graph
    out = str(tmp_path / "out")
    with pytest.warns(UserWarning, match="not installed"):
        nir.saved_model.compile(zoo["wide_mlp"], out, progress=False)
    assert not read_saved_model_proto(out).meta_graphs[0].object_graph_def.nodes
    # The user is told why the object graph is gone, and what loading the output gives.
    assert any(re.search(r"holds 0\.0 GB of weights; .* so the output is a TF1-style SavedModel written a weight at a "
                         r"time: tf\.saved_model\.load\(out\) gives its signatures, not the object graph$", r.getMessage())
               for r in caplog.records if r.name.startswith("nir")), [r.getMessage() for r in caplog.records]
    assert os.path.getsize(os.path.join(out, "saved_model.pb")) < 64 * 1024
    data = [f for f in os.listdir(os.path.join(out, "variables")) if f.startswith("variables.data-")]
    assert len(data) > 4, "the 1 MB weights were not saved in slices"
    assert sum(os.path.getsize(os.path.join(out, "variables", f)) for f in data) > 2 * MB
    feeds = random_feeds(zoo["wide_mlp"], batch=1)
    assert_same_outputs(run_signature(zoo["wide_mlp"], feeds), run_signature(out, feeds))


def test_past_the_limit_clusters_are_cut_and_neuron_op_weights_leave_saved_model_pb(zoo, tmp_path, monkeypatch, fake_neuron_cc):
    import frontends.tensorflow.variables as variables
    import frontends.tensorflow.writer as writer

    monkeypatch.setattr(writer, "PROTOBUF_LIMIT", int(1.5 * MB))  # the model is "past 2 GiB"
    monkeypatch.setattr(variables, "SAVE_BATCH_BYTES", 256 * 1024)
    out, workdir = str(tmp_path / "out"), str(tmp_path / "work")
    report = nir.saved_model.compile(zoo["wide_mlp"], out, neuron_cc=fake_neuron_cc, progress=False,
                                     max_cluster_bytes=int(1.2 * MB), compiler_workdir=workdir)
    assert report["NumClusters"] == report["NumCompiledClusters"] >= 2
    for folder in os.listdir(workdir):
        if folder.startswith("neuron_op_"):
            assert os.path.getsize(os.path.join(workdir, folder, "graph_def.pb")) < 1.2 * MB
    assert os.path.getsize(os.path.join(out, "saved_model.pb")) < writer.PROTOBUF_LIMIT
    meta_graph = read_saved_model_proto(out).meta_graphs[0]
    assert any(n.op == "NeuronOp" for n in meta_graph.graph_def.node)
    inlined = str(tmp_path / "inlined")
    nir.saved_model.inline_neuron_ops(out, inlined)
    feeds = random_feeds(zoo["wide_mlp"], batch=1)
    assert_same_outputs(run_signature(zoo["wide_mlp"], feeds), run_signature(inlined, feeds))


def test_an_op_whose_own_weights_pass_max_cluster_bytes_stays_on_cpu(zoo, tmp_path, fake_neuron_cc):
    from nir.explain import explain_module
    from nir.pipeline import default_pipeline, import_saved_model, run_pipeline

    module, _ = import_saved_model(zoo["wide_mlp"])
    run_pipeline(module, default_pipeline(max_cluster_bytes=MB // 2))
    report = explain_module(module)
    reasons = {r["reason"] for r in report["cpu"]}
    assert any("alone exceed max-cluster-bytes=524288" in r for r in reasons), reasons
    # The two 1 MB MatMuls stay on CPU and cut the MLP: the ops before, between and after them
    # are separate pieces (one path through a CPU op back into the same cluster is a cycle);
    # the lone Relu between them is below minimum-segment-size.
    assert len(report["clusters"]) == 2, report["clusters"]


def test_neffs_past_the_limit_are_a_clear_error(tmp_path, monkeypatch):
    from tensorflow.core.framework import graph_pb2

    import frontends.tensorflow.writer as writer
    from frontends.tensorflow.importer import SignatureInfo, TensorSpec
    from nir.errors import NirInputError

    monkeypatch.setattr(writer, "PROTOBUF_LIMIT", 1000)
    graph = graph_pb2.GraphDef()
    graph.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
    neuron_op = graph.node.add(name="neuron_op_0", op="NeuronOp", input=["x"])
    neuron_op.attr["executable"].s = b"N" * 4000
    signature = SignatureInfo("serving_default", (TensorSpec("x", "x:0", 1, (1,)),),
                              (TensorSpec("y", "neuron_op_0:0", 1, (1,)),))
    with pytest.raises(NirInputError, match="NEFFs add up to .* split the model"):
        writer.write_saved_model(str(tmp_path / "out"), graph, signature)
    assert not os.path.exists(tmp_path / "out")


def test_a_tf1_saver_is_followed_through_its_control_inputs_to_every_variable(zoo):
    """A TF1 Saver's restore op (`save/restore_all`) is a NoOp that waits (`^save/Assign...`)
    on one assignment per variable: followed through those control inputs, it names every
    variable's checkpoint key, so nir reads each weight itself, a variable at a time."""
    from frontends.tensorflow.checkpoint import variable_keys

    meta_graph = read_saved_model_proto(zoo["tf1_two_signatures"]).meta_graphs[0]
    restore = meta_graph.saver_def.restore_op_name.split(":")[0]
    assert all(i.startswith("^") for i in next(n for n in meta_graph.graph_def.node if n.name == restore).input)
    variables = sorted(n.name for n in meta_graph.graph_def.node if n.op in ("VariableV2", "VarHandleOp"))
    assert variables and variable_keys(meta_graph) == {name: name for name in variables}
    loaded = load_saved_model(zoo["tf1_two_signatures"])
    assert loaded.weights is not None
    assert sorted(n.attr[CHECKPOINT_KEY_ATTR].s.decode() for n in loaded.graph_def.node if CHECKPOINT_KEY_ATTR in n.attr) == variables
