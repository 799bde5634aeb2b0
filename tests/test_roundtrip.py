"""SavedModel -> NIR -> GraphDef -> SavedModel gives the same outputs, and IR text round-trips."""

from __future__ import annotations

import pytest
from zoo import assert_same_outputs, random_feeds, run_signature

from frontends.tensorflow.checkpoint import CHECKPOINT_KEY_ATTR
from frontends.tensorflow.exporter import export_module
from frontends.tensorflow.writer import write_saved_model
from nir.ir import parse_module, print_module

ZOO = ["resnet50", "mobilenetv2", "two_io", "transformer", "tf1_two_signatures", "control_flow"]
SIGNATURES = [(name, "serving_default") for name in ZOO] + [("tf1_two_signatures", "logits")]


@pytest.mark.parametrize("name,key", SIGNATURES)
def test_saved_model_round_trip_gives_same_outputs(zoo, imported, tmp_path, name, key):
    module, loaded = imported(name, signature_def_key=key)
    graph_def, signature = export_module(module)
    out = str(tmp_path / "roundtrip")
    write_saved_model(out, graph_def, signature)
    feeds = random_feeds(zoo[name], key, batch=2)
    assert_same_outputs(run_signature(zoo[name], feeds, key), run_signature(out, feeds, key))


@pytest.mark.parametrize("name", ZOO)
def test_printed_ir_parses_back_to_equal_module(imported, name):
    module, _ = imported(name)
    text = print_module(module, elide_above=None)
    reparsed = parse_module(text)
    assert reparsed.is_structurally_equivalent(module)
    assert print_module(reparsed, elide_above=None) == text


@pytest.mark.parametrize("name", ["two_io", "control_flow"])
def test_round_trip_keeps_node_names_attributes_and_control_edges(imported, name):
    module, loaded = imported(name)
    graph_def, _ = export_module(module)
    original = {n.name: n for n in loaded.graph_def.node}
    assert {n.name for n in graph_def.node} == set(original)
    for node in graph_def.node:
        source = original[node.name]
        assert node.op == source.op
        assert list(node.input) == list(source.input)
        # Shapes are derived, and checkpoint keys say where the loader found a weight.
        assert set(node.attr) == set(source.attr) - {"_output_shapes", CHECKPOINT_KEY_ATTR}
    assert {f.signature.name for f in graph_def.library.function} == {
        f.signature.name for f in loaded.graph_def.library.function
    }


def test_control_flow_keeps_functional_while_and_if(imported):
    module, _ = imported("control_flow")
    text = print_module(module)
    assert '"tf.StatelessWhile"' in text or '"tf.While"' in text
    assert '"tf.StatelessIf"' in text or '"tf.If"' in text
    assert "func.func private @" in text
    assert '"tf.Switch"' not in text


def test_resnet50_text_is_small_with_elision_and_bit_exact_without(imported):
    module, _ = imported("resnet50")
    elided = print_module(module)
    assert len(elided) < 2_000_000
    assert "__elided__" in elided
    full = print_module(module, elide_above=None)
    reparsed = parse_module(full)
    from frontends.tensorflow.exporter import export_module as export

    before = {n.name: n.attr["value"].tensor.tensor_content for n in export(module)[0].node if n.op == "Const"}
    after = {n.name: n.attr["value"].tensor.tensor_content for n in export(reparsed)[0].node if n.op == "Const"}
    assert before == after


def test_library_functions_are_named_in_the_order_the_model_reaches_them():
    """Compiled SavedModels are byte-identical run to run because TensorFlow's function
    counters are replaced by the order functions are reached in: the object graph, the graph,
    registered gradients (a tf.custom_gradient's), then what their bodies call; last, in name
    order, what nothing reaches."""
    from tensorflow.core.protobuf import meta_graph_pb2

    from frontends.tensorflow.object_graph import canonical_function_names

    meta_graph = meta_graph_pb2.MetaGraphDef()
    call = meta_graph.graph_def.node.add(name="call", op="StatefulPartitionedCall")
    call.attr["f"].func.name = "__inference_f_7"
    library = meta_graph.graph_def.library
    for name in ("__inference_unused_9", "__inference_a_helper_3", "__inference_z_grad_12", "__inference_f_7"):
        library.function.add().signature.name = name
    gradient = next(f for f in library.function if f.signature.name == "__inference_z_grad_12")
    gradient.node_def.add(name="helper", op="__inference_a_helper_3")
    library.registered_gradients.add(gradient_func="__inference_z_grad_12", registered_op_type="CustomGradient-4")
    assert canonical_function_names(meta_graph) == {
        "__inference_f_7": "__inference_f_0", "__inference_z_grad_12": "__inference_z_grad_1",
        "__inference_a_helper_3": "__inference_a_helper_2", "__inference_unused_9": "__inference_unused_3",
    }
