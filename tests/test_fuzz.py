"""Fuzzing the GraphDef importer and the IR parser: only nir's own clear errors may come out.

Runs a few hundred examples in the normal suite. For a real fuzzing session (minutes):

    NIR_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py -q

Findings become the regression cases at the bottom of this file.
"""

from __future__ import annotations

import gc
import os

import pytest
from graphdef_files import signature_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow.core.framework import graph_pb2, node_def_pb2

from frontends.tensorflow.importer import import_graph_def
from nir.errors import NirError
from nir.ir import parse_module, print_module

EXAMPLES = int(os.environ.get("NIR_FUZZ_EXAMPLES", "150"))


@pytest.fixture(autouse=True, scope="module")
def _frozen_heap():
    # Later in the suite the heap holds the model zoo; without this every one of the
    # thousands of tiny modules a fuzz run builds pays for full GC scans of that heap.
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

OPS = ["Placeholder", "Const", "Relu", "Add", "AddV2", "MatMul", "Identity", "NoOp", "ConcatV2",
       "IdentityN", "Reshape", "NotAnOp", "Switch", "Merge", "NextIteration", "While"]
DTYPES = [1, 3, 7, 9, 10, 20, 21, 0, 99]


@st.composite
def graph_defs(draw):
    graph = graph_pb2.GraphDef()
    names = []
    for i in range(draw(st.integers(1, 12))):
        node = graph.node.add(name=draw(st.sampled_from([f"n{i}", f"n{i}", "dup", "a/b:0", ""])), op=draw(st.sampled_from(OPS)))
        for _ in range(draw(st.integers(0, 3))):
            source = draw(st.sampled_from(names + ["missing"])) if names or True else "missing"
            kind = draw(st.sampled_from(["", ":1", ":7", "^"]))
            node.input.append("^" + source if kind == "^" else source + kind)
        for attr in draw(st.lists(st.sampled_from(["T", "dtype", "N", "shape", "value", "transpose_a"]), max_size=3)):
            if attr in ("T", "dtype"):
                node.attr[attr].type = draw(st.sampled_from(DTYPES))
            elif attr == "N":
                node.attr[attr].i = draw(st.integers(-2, 4))
            elif attr == "shape":
                dims = draw(st.lists(st.integers(-3, 4), max_size=3))
                for d in dims:
                    node.attr[attr].shape.dim.add().size = d
            elif attr == "value":
                node.attr[attr].tensor.dtype = draw(st.sampled_from(DTYPES))
                node.attr[attr].tensor.tensor_content = draw(st.binary(max_size=12))
            else:
                node.attr[attr].b = True
        names.append(node.name)
    return graph, names


@FUZZ
@given(graph_defs(), st.data())
def test_graph_def_importer_only_raises_nir_errors(graph_and_names, data):
    graph, names = graph_and_names
    inputs = data.draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
    outputs = data.draw(st.lists(st.sampled_from(names + ["nowhere"]), min_size=1, max_size=2))
    try:
        module = import_graph_def(graph, signature_for(graph, inputs, outputs))
    except NirError:
        return
    module.verify()
    assert parse_module(print_module(module, None)).is_structurally_equivalent(module)


SEED_IR = """builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<2x4xf32> {tf.output_key = "y"}) {
    %w, %w_c = "tf.Const"() <{node_name = "w"}> {dtype = f32, value = #tf.tensor<tensor<4x4xf32>, "0x00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000">} : () -> (tensor<4x4xf32>, !tf.control)
    %s, %s_c = "tf.Const"() <{node_name = "s"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [2, -1]>, shp = #tf.shape<[1, -1]>, l = #tf.list<[1 : i64]>, f = #tf.func<@g, {}>} : () -> (tensor<2xi32>, !tf.control)
    %m, %m_c = "tf.MatMul"(%x, %w, %s_c) <{node_name = "m"}> {T = f32, transpose_a = false} : (tensor<2x4xf32>, tensor<4x4xf32>, !tf.control) -> (tensor<2x4xf32>, !tf.control)
    func.return %m : tensor<2x4xf32>
  }
}
"""


@FUZZ
@given(st.data())
def test_ir_parser_only_raises_syntax_errors(data):
    text = SEED_IR
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["delete", "insert", "replace"]))
        chunk = data.draw(st.sampled_from(['"', "<", ">", "{", "}", "(", ")", "%", "#tf.tensor<", "tensor<*xf32>",
                                           "-1", "0x", ",", ":", "!tf.control", "__elided__", "tf.", "@", "\\", "x", "9999999999999999999"]))
        if action == "delete":
            text = text[:position] + text[position + data.draw(st.integers(1, 8)):]
        elif action == "insert":
            text = text[:position] + chunk + text[position:]
        else:
            text = text[:position] + chunk + text[position + len(chunk):]
    import signal

    def too_slow(signum, frame):
        raise TimeoutError(f"parsing took over 10 s:\n{text}")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(10)
    try:
        module = parse_module(text, "fuzz.mlir")
    except NirError:
        return
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    print_module(module)


# --------------------------------------------------------------------------- regressions


def test_regression_graph_with_duplicate_node_names():
    graph = graph_pb2.GraphDef()
    graph.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
    graph.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
    try:
        import_graph_def(graph, signature_for(graph, ["x"], ["x"]))
    except NirError as err:
        assert "two nodes named 'x'" in str(err)
    else:
        raise AssertionError("duplicate names were accepted")


def test_regression_node_reading_a_port_it_does_not_have():
    graph = graph_pb2.GraphDef()
    graph.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
    relu = graph.node.add(name="r", op="Relu", input=["x:3"])
    relu.attr["T"].type = 1
    node_def_pb2.NodeDef()
    try:
        import_graph_def(graph, signature_for(graph, ["x"], ["r"]))
    except NirError as err:
        assert "reads output 3 of 'x'" in str(err)
    else:
        raise AssertionError("a missing port was accepted")


def _single_node_graph(**attrs):
    graph = graph_pb2.GraphDef()
    node = graph.node.add(name="n0", op="Const")
    for key, setter in attrs.items():
        setter(node.attr[key])
    return graph


def test_regression_invalid_dtype_is_a_clear_error():
    graph = _single_node_graph(dtype=lambda a: setattr(a, "type", 0))
    graph.node[0].attr["value"].tensor.dtype = 0
    try:
        import_graph_def(graph, signature_for(graph, [], ["n0"]))
    except NirError as err:
        assert "dtype" in str(err)
    else:
        raise AssertionError("DT_INVALID was accepted")


def test_regression_tensor_bytes_not_matching_its_shape():
    graph = _single_node_graph(dtype=lambda a: setattr(a, "type", 1))
    tensor = graph.node[0].attr["value"].tensor
    tensor.dtype = 1
    tensor.tensor_content = b"\x00" * 5
    try:
        import_graph_def(graph, signature_for(graph, [], ["n0"]))
    except NirError as err:
        assert "malformed tensor" in str(err)
    else:
        raise AssertionError("a malformed tensor was accepted")


def test_regression_function_without_arguments_round_trips():
    graph = graph_pb2.GraphDef()
    graph.node.add(name="n0", op="Placeholder").attr["dtype"].type = 1
    module = import_graph_def(graph, signature_for(graph, [], ["n0"]))
    assert parse_module(print_module(module)).is_structurally_equivalent(module)


def test_regression_out_of_range_integer_in_ir_text():
    text = SEED_IR.replace("transpose_a = false", "transpose_a = 99999999999999999999999999999999999999 : i64")
    try:
        parse_module(text, "big.mlir")
    except NirError as err:
        assert "big.mlir" in str(err) and "out of range" in str(err)
    else:
        raise AssertionError("an out-of-range integer was accepted")
