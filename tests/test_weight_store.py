"""Weights kept beside the exported graph (frontends/tensorflow/weights.py): what is written
is byte for byte what the graph holding its weights serializes to, and the compile's graph
holds none of them."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflow.core.framework import graph_pb2, node_def_pb2

from backends.neuron.neuron_op import neuron_ops
from frontends.tensorflow.exporter import releasing_weights
from frontends.tensorflow.weights import (
    WEIGHT_ATTR,
    WeightStore,
    embedded_graph_pieces,
    graph_pieces,
    node_pieces,
    weights_from,
    with_weight_values,
)
from nir.compile_driver import export_with_neuron_ops
from nir.passmanager import PassManager
from nir.pipeline import default_pipeline, import_saved_model


def _const(name: str, data: bytes, extra_attrs: dict[str, bytes]) -> node_def_pb2.NodeDef:
    node = node_def_pb2.NodeDef(name=name, op="Const", device="/cpu:0", input=["^ctl"])
    node.attr["dtype"].type = 1
    tensor = node.attr["value"].tensor
    tensor.dtype = 1
    tensor.tensor_shape.dim.add(size=len(data) // 4)
    tensor.tensor_content = data
    for key, value in extra_attrs.items():
        node.attr[key].s = value
    node.experimental_debug_info.original_node_names.append("from_here")
    return node


@pytest.mark.parametrize("extra", [{}, {"_class": b"loc:@x"}, {"zz_after_value": b"z", "_class": b"c"}])
def test_a_const_written_from_the_store_is_the_const_holding_its_bytes(extra):
    data = np.arange(700, dtype=np.float32).tobytes()
    full = _const("w", data, extra)
    store = WeightStore()
    light = node_def_pb2.NodeDef()
    light.CopyFrom(full)
    light.attr["value"].tensor.ClearField("tensor_content")
    light.attr[WEIGHT_ATTR].s = store.add(data).encode()
    assert light.ByteSize() < 200
    assert b"".join(node_pieces(light, store)) == full.SerializeToString(deterministic=True)


@pytest.fixture(scope="module")
def exported_both_ways(zoo):
    """The transformer after the default pipeline, exported holding its weights and referring to them."""
    module, _ = import_saved_model(zoo["transformer"])
    PassManager.parse(default_pipeline()).run(module)
    copy = module.clone()
    full, _ = export_with_neuron_ops(module, False)
    store = WeightStore()
    with releasing_weights(store):
        light, _ = export_with_neuron_ops(copy, False)
    return full, light, store, copy


def test_the_exported_graph_holds_no_weight_and_serializes_as_before(exported_both_ways):
    full, light, store, _ = exported_both_ways
    assert len(store) >= 5 and store.num_bytes > 20_000, (len(store), store.num_bytes)
    # Every stored byte is out of the graph; a reference costs a few bytes of attr.
    assert light.ByteSize() <= full.ByteSize() - store.num_bytes + 64 * len(store)
    assert neuron_ops(light), "the transformer compiles to NeuronOps"
    assert b"".join(graph_pieces(light, store)) == full.SerializeToString(deterministic=True)
    with weights_from(store):
        for held, referring in zip(neuron_ops(full), neuron_ops(light)):
            assert b"".join(embedded_graph_pieces(referring)) == held.attr["graph_def"].s
    assert with_weight_values(light, store).SerializeToString(deterministic=True) == \
        full.SerializeToString(deterministic=True)


def test_a_module_that_gave_up_its_weights_still_prints_and_verifies(exported_both_ways):
    """After the export the module holds no weight bytes, but it is still a valid module (a
    dump or a report may print it): each constant keeps its type and prints `__elided__`."""
    from nir.ir import print_module
    from nir.ir.verifier import verify_tf_module

    _, _, store, released = exported_both_ways
    text = print_module(released)
    assert text.count("__elided__") >= len(store)
    assert "#tf.tensor<tensor<" in text
    verify_tf_module(released)


def test_a_cluster_emitted_without_the_store_is_refused(exported_both_ways):
    _, light, _, _ = exported_both_ways
    with pytest.raises(ValueError, match="no weight store is active"):
        embedded_graph_pieces(neuron_ops(light)[0])


def test_library_functions_keep_their_weights(zoo):
    """Functions are serialized whole by every writer: a loop body's constant stays inside."""
    module, _ = import_saved_model(zoo["control_flow"])
    PassManager.parse(default_pipeline()).run(module)
    store = WeightStore()
    with releasing_weights(store):
        light, _ = export_with_neuron_ops(module, False)
    assert not any(WEIGHT_ATTR in n.attr for f in light.library.function for n in f.node_def)
    for f in light.library.function:
        for node in f.node_def:
            if node.op == "NeuronOp":
                assert WEIGHT_ATTR.encode() not in node.attr["graph_def"].s
    graph_pb2.GraphDef.FromString(b"".join(graph_pieces(light, store)))


def test_writing_releases_every_weight_and_the_output_answers(zoo, tmp_path):
    """The writer takes each payload from the store as it writes it and drops it: nothing is
    left once the SavedModel is written, and the written model answers as the original."""
    from dataclasses import replace

    from zoo import assert_same_outputs, random_feeds, run_signature

    from backends.neuron.neuron_op import inline_neuron_op_nodes
    from frontends.tensorflow.writer import write_saved_model

    module, loaded = import_saved_model(zoo["wide_mlp"])
    PassManager.parse(default_pipeline()).run(module)
    store = WeightStore()
    with releasing_weights(store):
        light, signature = export_with_neuron_ops(module, False)
    light = inline_neuron_op_nodes(light)  # as relift does when nothing compiled
    held = store.num_bytes
    assert held > 1_000_000
    out = str(tmp_path / "out")
    write_saved_model(out, light, replace(signature, object_graph_from=None), weights=store)
    assert len(store) == 0
    feeds = random_feeds(zoo["wide_mlp"])
    assert_same_outputs(run_signature(zoo["wide_mlp"], feeds), run_signature(out, feeds))
