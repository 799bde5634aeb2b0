"""Facts the original's python/graph_util_test.py asserts of
`graph_util.inference_graph_from_session`, checked with nir's own tests. The returned graph
holds NeuronOps, which need the Neuron runtime to run: here its wiring is checked by inlining
each NeuronOp's embedded graph and running that in a Session against the original session.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from original_graphs import conv_add_graph  # noqa: E402

import nir  # noqa: E402
from backends.neuron.neuron_op import inline_neuron_op_nodes  # noqa: E402

WHITELIST = {"Conv2D", "Const", "Add", "Relu"}


def neuron_ops(graph) -> list:
    return [op for op in graph.get_operations() if op.type == "NeuronOp"]


def assert_compiled(graph) -> None:
    assert neuron_ops(graph), "no NeuronOp"
    for op in neuron_ops(graph):
        assert op.get_attr("executable"), f"{op.name} is not compiled"


def run_inlined(graph, fetches: list[str], feeds: dict):
    """The compiled graph with each NeuronOp replaced by its embedded graph, run in a Session."""
    inlined = tf.Graph()
    with inlined.as_default():
        tf.graph_util.import_graph_def(inline_neuron_op_nodes(graph.as_graph_def()), name="")
    with tf.compat.v1.Session(graph=inlined) as session:
        return session.run(fetches, feeds)


def feeds_of(rng, batch: int = 1) -> dict:
    return {f"input{i}:0": rng.uniform(-1, 1, size=[batch, 2, 2, 3]).astype(np.float16) for i in range(2)}


@pytest.mark.parametrize("outputs", [None, ["relu0:0", "sigmoid0", "relu1:0", "add0:0"]],
                         ids=["default_outputs", "named_outputs"])
def test_inference_graph_from_session(fake_neuron_cc, outputs):
    rng = np.random.default_rng(15213)
    feeds = feeds_of(rng)
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        conv_add_graph(rng)
        chosen = None if outputs is None else [
            session.graph.get_tensor_by_name(f"{name}:0") if ":" not in name else name for name in outputs
        ]
        fetches = ["relu0:0", "relu1:0"] if outputs is None else ["relu0:0", "sigmoid0:0", "relu1:0", "add0:0"]
        expected = session.run(fetches, feeds)
        graph = nir.graph_util.inference_graph_from_session(
            session, output_tensors=chosen, op_whitelist=WHITELIST, neuron_cc=fake_neuron_cc, progress=False)
    assert isinstance(graph, tf.Graph)
    assert_compiled(graph)
    for name in [*feeds, *fetches]:
        graph.get_tensor_by_name(name)  # the session's tensor names are kept
    for actual, reference in zip(run_inlined(graph, fetches, feeds), expected):
        np.testing.assert_allclose(actual, reference, rtol=1e-2, atol=1e-3)


def test_inference_graph_from_session_with_variables_and_feed_dict(fake_neuron_cc):
    rng = np.random.default_rng(15213)
    feeds = feeds_of(rng)
    fetches = ["relu0:0", "sigmoid0:0", "relu1:0", "add0:0"]
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        conv_add_graph(rng, variables=True)
        session.run(tf.compat.v1.global_variables_initializer())
        expected = session.run(fetches, feeds)
        graph = nir.graph_util.inference_graph_from_session(
            session, feed_dict=feeds, output_tensors=fetches, op_whitelist=WHITELIST,
            neuron_cc=fake_neuron_cc, progress=False)
    assert_compiled(graph)
    assert not [op for op in graph.get_operations() if op.type in ("VariableV2", "VarHandleOp")]
    for actual, reference in zip(run_inlined(graph, fetches, feeds), expected):
        np.testing.assert_allclose(actual, reference, rtol=1e-2, atol=1e-3)


def test_default_session_and_dynamic_batch(fake_neuron_cc):
    """Inside `with Session()` the default session is used; with dynamic_batch_size the
    NeuronOps take batch axis 0 and the graph's inputs any batch."""
    rng = np.random.default_rng(1)
    with tf.compat.v1.Session(graph=tf.Graph()) as session, session.as_default():
        conv_add_graph(rng)
        bigger = feeds_of(rng, batch=5)
        expected = session.run(["relu0:0", "relu1:0"], bigger)
        graph = nir.graph_util.inference_graph_from_session(
            feed_dict=feeds_of(rng, batch=3), output_tensors=["relu0:0", "relu1:0"], dynamic_batch_size=True,
            op_whitelist=WHITELIST, neuron_cc=fake_neuron_cc, progress=False)
    assert_compiled(graph)
    for op in neuron_ops(graph):
        assert set(op.get_attr("input_batch_axis")) == {0}
    for actual, reference in zip(run_inlined(graph, ["relu0:0", "relu1:0"], bigger), expected):
        np.testing.assert_allclose(actual, reference, rtol=1e-2, atol=1e-3)


def test_errors_name_the_problem():
    with pytest.raises(nir.NirInputError, match="needs a session"):
        nir.graph_util.inference_graph_from_session()
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        conv_add_graph(np.random.default_rng(0))
        with pytest.raises(nir.NirInputError, match="output tensor 'nope:0' is not in the session's graph"):
            nir.graph_util.inference_graph_from_session(session, output_tensors=["nope:0"])
        with pytest.raises(nir.NirInputError, match="amp_pass"):
            nir.graph_util.inference_graph_from_session(session, amp_pass=True)


def test_whitelist_partition_fuses_without_compiling():
    """whitelist_partition gives the GraphDef with NeuronOps whose executable is empty: relu0's
    cluster (two convs, the add, the relu) and relu1's (a conv and a relu), the Sigmoid between
    them on CPU."""
    rng = np.random.default_rng(15213)
    graph = tf.Graph()
    with graph.as_default():
        conv_add_graph(rng)
    partitioned = nir.graph_util.whitelist_partition(
        graph.as_graph_def(), output_tensors=["relu0:0", "relu1:0"], supported_op_types=WHITELIST)
    ops = [n for n in partitioned.node if n.op == "NeuronOp"]
    assert len(ops) == 2 and not any(n.attr["executable"].s for n in ops)
    inner = sorted(sorted(m.op for m in tf.compat.v1.GraphDef.FromString(n.attr["graph_def"].s).node
                          if m.op not in ("Placeholder", "Const")) for n in ops)
    assert inner == [["Add", "Conv2D", "Conv2D", "Relu"], ["Conv2D", "Relu"]]
    assert "Sigmoid" in {n.op for n in partitioned.node}


def test_feeding_outputs_of_an_identity_n_keeps_their_names(fake_neuron_cc):
    """test_inputs_start_from_the_middle: feeding identity_n1:0 and identity_n1:2 (the graph is
    cut there), both names stay in the compiled graph and are fed by them; two NeuronOps."""
    rng = np.random.default_rng(15213)
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        inputs = [tf.compat.v1.placeholder(tf.float16, [None, 2, 2, 3], name=f"input{i}") for i in range(4)]
        first, _, third, _ = tf.identity_n(tf.identity_n(inputs, name="identity_n0"), name="identity_n1")

        def conv(x, name):
            kernel = rng.uniform(-1, 1, size=[1, 1, 3, 3]).astype(np.float16)
            return tf.nn.conv2d(x, kernel, strides=[1, 1, 1, 1], padding="VALID", name=name)

        add0 = tf.add(conv(first, "conv2d0"), conv(third, "conv2d2"), name="add0")
        tf.nn.relu(add0, name="relu0")
        tf.nn.relu(conv(tf.sigmoid(add0, name="sigmoid0"), "conv2d1"), name="relu1")
        feeds = {name: rng.uniform(-1, 1, size=[1, 2, 2, 3]).astype(np.float16) for name in ("identity_n1:0", "identity_n1:2")}
        fetches = ["relu0:0", "relu1:0"]
        expected = session.run(fetches, feeds)
        graph = nir.graph_util.inference_graph_from_session(
            session, op_whitelist=WHITELIST, feed_dict=feeds, output_tensors=fetches,
            neuron_cc=fake_neuron_cc, progress=False)
    for name in (*feeds, *fetches):
        graph.get_tensor_by_name(name)
    assert_compiled(graph)
    assert len(neuron_ops(graph)) == 2
    for actual, want in zip(run_inlined(graph, fetches, feeds), expected):
        np.testing.assert_allclose(actual, want, rtol=1e-2, atol=1e-3)
