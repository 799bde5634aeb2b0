"""The IR's text form at its edges: what the parser refuses (with a message that says what to
write instead), node names an SSA name cannot spell, and static shapes with empty dimensions."""

from __future__ import annotations

import pytest
from xdsl.dialects.builtin import TensorType, f32

from nir.ir import TFNodeOp, parse_module, print_module
from nir.ir.shapes import is_static
from nir.ir.text import IRSyntaxError
from nir.ir.tf_dialect import name_hint

HEADER = 'builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {\n'


def _module(body: str, results: str = "tensor<4xf32>") -> str:
    return (HEADER + f'  func.func @main(%x: tensor<4xf32> {{tf.input_key = "x", tf.node_name = "x"}}) -> ({results} {{tf.output_key = "y"}}) {{\n'
            f"{body}  }}\n}}\n")


def test_a_hex_payload_without_its_prefix_is_refused_with_the_form_it_takes():
    text = _module('    %k, %k_c = "tf.Const"() {dtype = f32, value = #tf.tensor<tensor<1xf32>, "0000803f">} : () -> (tensor<1xf32>, !tf.control)\n'
                   "    func.return %x : tensor<4xf32>\n")
    with pytest.raises(IRSyntaxError) as err:
        parse_module(text)
    # The message, under a caret at the payload (line 3, column 87).
    assert str(err.value).startswith("<string>: invalid IR:\n<string>:3:87\n"), str(err.value)
    assert str(err.value).rstrip().endswith(" tf.tensor payload must be a 0x-prefixed hex string"), str(err.value)
    fixed = parse_module(text.replace('"0000803f"', '"0x0000803f"'))
    (k,) = [op for op in fixed.walk() if isinstance(op, TFNodeOp)]
    assert k.attributes["value"].numpy().tolist() == [1.0]


def test_an_op_without_a_node_name_or_a_named_result_is_refused():
    text = _module('    %0, %1 = "tf.Relu"(%x) {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)\n'
                   "    func.return %0 : tensor<4xf32>\n")
    with pytest.raises(IRSyntaxError) as err:
        parse_module(text, "anonymous.mlir")
    assert str(err.value) == ("anonymous.mlir: a tf.Relu has neither a node_name property nor a named first result "
                              "to take its name from")
    named = parse_module(text.replace("%0, %1 =", "%r, %r_c =").replace("func.return %0", "func.return %r"))
    assert [op.node_name for op in named.walk() if isinstance(op, TFNodeOp)] == ["r"]


@pytest.mark.parametrize(("node_name", "hint"), [
    ("dense/MatMul", "dense.MatMul"),
    ("_private", "_private"),
    ("0_start", "v0_start"),
    ("-neg", "v-neg"),
    ("a b", "a_b"),
])
def test_node_names_an_ssa_name_cannot_start_with_get_a_letter_and_read_back(node_name, hint):
    assert name_hint(node_name) == hint
    text = _module(f'    %r, %r_c = "tf.Relu"(%x) <{{node_name = "{node_name}"}}> {{T = f32}} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)\n'
                   "    func.return %r : tensor<4xf32>\n")
    printed = print_module(parse_module(text))
    assert f"%{hint}, %{hint}_c = " in printed, printed
    assert [op.node_name for op in parse_module(printed).walk() if isinstance(op, TFNodeOp)] == [node_name]


@pytest.mark.parametrize(("dims", "static"), [
    ([2, 3], True), ([0, 4], True), ([], True), ([-1, 4], False), ([4, -1], False),
])
def test_a_shape_is_static_when_every_dimension_is_known_empty_ones_too(dims, static):
    assert is_static(TensorType(f32, dims)) is static
