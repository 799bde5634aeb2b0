"""The TF-aware verifier: each kind of invalid IR a pass can make is caught right after that pass,
with the pass, the node and the rule named."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType, f32
from xdsl.passes import ModulePass

from nir.ir import parse_module
from nir.ir.module import entry_function
from nir.ir.op_facts import declare_op_type
from nir.ir.patterns import TFRewritePattern
from nir.ir.shapes import retype
from nir.ir.tf_attrs import TensorAttr
from nir.ir.tf_dialect import TFNodeOp, create_tf_op, replace_tf_op
from nir.passmanager import PassFailedError, PassManager

GRAPH = """
builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%x: tensor<1x8x8x3xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x8x8x4xf32> {tf.output_key = "y"}) {
    %w, %w_c = "tf.Const"() <{node_name = "w"}> {dtype = f32, value = #tf.tensor<tensor<3x3x3x4xf32>, splat 0.5>} : () -> (tensor<3x3x3x4xf32>, !tf.control)
    %c, %c_c = "tf.Conv2D"(%x, %w) <{node_name = "conv"}> {T = f32, padding = "SAME", strides = #tf.list<[1 : i64, 1 : i64, 1 : i64, 1 : i64]>} : (tensor<1x8x8x3xf32>, tensor<3x3x3x4xf32>) -> (tensor<1x8x8x4xf32>, !tf.control)
    %r, %r_c = "tf.Relu"(%c) <{node_name = "relu"}> {T = f32} : (tensor<1x8x8x4xf32>) -> (tensor<1x8x8x4xf32>, !tf.control)
    %t, %t_c = "tf.Tanh"(%r) <{node_name = "tanh"}> {T = f32} : (tensor<1x8x8x4xf32>) -> (tensor<1x8x8x4xf32>, !tf.control)
    func.return %t : tensor<1x8x8x4xf32>
  }
}
"""


def op_named(module: ModuleOp, name: str) -> TFNodeOp:
    return next(op for op in module.walk() if isinstance(op, TFNodeOp) and op.node_name == name)


@dataclass(frozen=True)
class BreakingPass(ModulePass):
    """A researcher's pass with a bug: `edit` is the bug."""

    name = "buggy"
    edit: str = ""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.edit:
            globals()[self.edit](op)


def relu7(module):
    relu = op_named(module, "relu")
    replace_tf_op(relu, create_tf_op("Relu7", "relu", relu.data_operands, [r.type for r in relu.data_results], relu.attributes))


def drop_t(module):
    del op_named(module, "relu").attributes["T"]


def duplicate_name(module):
    op_named(module, "tanh").node_name = "relu"


def use_before_def(module):
    tanh = op_named(module, "tanh")
    tanh.detach()
    entry_function(module).body.block.insert_op_before(tanh, op_named(module, "w"))


def wrong_filter_depth(module):
    old = op_named(module, "w")
    filter_type = TensorType(f32, [3, 3, 5, 4])
    import numpy as np

    value = TensorAttr.from_numpy(np.full((3, 3, 5, 4), 0.5, np.float32), filter_type)
    replace_tf_op(old, create_tf_op("Const", "w", [], [filter_type], {"dtype": f32, "value": value}))


def result_disagrees(module):
    relu = op_named(module, "relu")
    retype(relu.data_results[0], TensorType(f32, [1, 8, 8, 5]))


def conv_fed_rank_3(module):
    """Squeezes the batch off the Conv2D's input: a rank-3 input TensorFlow's Conv2D refuses."""
    from xdsl.dialects.builtin import IntegerAttr, i64

    from nir.ir.tf_attrs import ListAttr

    conv = op_named(module, "conv")
    x = conv.data_operands[0]
    squeeze = create_tf_op("Squeeze", "squeezed", [x], [TensorType(f32, [8, 8, 3])],
                           {"T": f32, "squeeze_dims": ListAttr([IntegerAttr(0, i64)])})
    conv.parent_block().insert_op_before(squeeze, conv)
    conv.operands = [squeeze.data_results[0], *conv.operands[1:]]


def ensure_shape_contradicts(module):
    """An EnsureShape whose shape contradicts its input's known shape."""
    from nir.ir.tf_attrs import ShapeAttr

    relu = op_named(module, "relu")
    ensure = create_tf_op("EnsureShape", "ensured", [relu.data_results[0]], [TensorType(f32, [1, 8, 8, 4])],
                          {"T": f32, "shape": ShapeAttr((1, 8, 8, 5))})
    relu.parent_block().insert_op_after(ensure, relu)


def returns_what_the_function_type_does_not_say(module):
    from xdsl.dialects.builtin import FunctionType

    fn = entry_function(module)
    fn.function_type = FunctionType.from_lists([TensorType(f32, [1, 8, 8, 3])], [TensorType(f32, [1, 8, 8, 5])])


def padding_misspelled(module):
    from xdsl.dialects.builtin import StringAttr

    op_named(module, "conv").attributes["padding"] = StringAttr("same")


def strides_not_a_list(module):
    from xdsl.dialects.builtin import IntegerAttr, i64

    op_named(module, "conv").attributes["strides"] = IntegerAttr(1, i64)


CASES = [
    (strides_not_a_list, "attr-kind", "conv", "Conv2D attribute 'strides' must be a list(int), not 1 : i64"),
    (conv_fed_rank_3, "shape", "conv", "input must be rank 4 but is rank 3 ([8,8,3])"),
    (ensure_shape_contradicts, "shape", "ensured", "the input and the shape it is ensured to have must have equal shapes"),
    (returns_what_the_function_type_does_not_say, "structure", "func.return in @main",
     "Expected arguments to have the same types as the function output types"),
    (padding_misspelled, "attr-value", "conv", "attribute 'padding' is same, not one of SAME, VALID, EXPLICIT"),
    (relu7, "registered-op", "relu", "op type 'Relu7' is not registered"),
    (drop_t, "required-attr", "relu", "needs attribute 'T'"),
    (duplicate_name, "unique-name", "relu", "a second tf.Tanh has the name"),
    (use_before_def, "dominance", "tanh", "uses a result of 'relu', which comes later"),
    (wrong_filter_depth, "shape", "conv", "input depth 3 is not a multiple of the filter's in-depth 5"),
    (result_disagrees, "shape", "relu", "result 0 is tensor<1x8x8x5xf32>, but its operands give shape [1, 8, 8, 4]"),
]


@pytest.mark.parametrize(("edit", "rule", "node", "message"), CASES, ids=[c[0].__name__ for c in CASES])
def test_invalid_ir_is_caught_after_the_pass_that_made_it(edit, rule, node, message):
    module = parse_module(GRAPH)
    manager = PassManager([BreakingPass(edit=edit.__name__), BreakingPass()])
    with pytest.raises(PassFailedError) as err:
        manager.run(module)
    text = str(err.value)
    assert text.startswith(f"pass 'buggy' left invalid IR: [{rule}] node '{node}': "), text
    assert message in text


def test_the_failing_pass_leaves_its_ir_and_a_reproducer_with_the_error(tmp_path):
    module = parse_module(GRAPH)
    manager = PassManager([BreakingPass(edit="relu7")], dump_dir=str(tmp_path / "dump"),
                          reproducer_dir=str(tmp_path / "repro"))
    with pytest.raises(PassFailedError) as err:
        manager.run(module)
    failed = tmp_path / "dump" / "001-buggy-failed.mlir"
    assert f"IR after the failing pass: {failed}" in str(err.value)
    assert '"tf.Relu7"' in failed.read_text()
    reproducer = (tmp_path / "repro" / "reproducer-buggy.mlir").read_text()
    assert "// error: [registered-op] node 'relu': op type 'Relu7'" in reproducer
    assert '"tf.Relu"' in reproducer  # the IR before the pass, to re-run it


def test_invalid_input_is_reported_before_any_pass():
    module = parse_module(GRAPH)
    drop_t(module)
    with pytest.raises(PassFailedError, match=r"the input IR is invalid, before any pass ran: \[required-attr\]"):
        PassManager([BreakingPass()]).run(module)


def test_a_plugin_declares_its_own_op_type():
    module = parse_module(GRAPH.replace('"tf.Relu"', '"tf.MyLabRelu"'))
    with pytest.raises(PassFailedError, match="'MyLabRelu' is not registered"):
        PassManager([BreakingPass()]).run(module)
    declare_op_type("MyLabRelu", stateful=False)
    PassManager([BreakingPass()]).run(module)


def test_wrong_dtype_and_arity_are_caught():
    module = parse_module(GRAPH.replace("{T = f32} : (tensor<1x8x8x4xf32>) -> (tensor<1x8x8x4xf32>, !tf.control)\n    %t",
                                        "{T = i32} : (tensor<1x8x8x4xf32>) -> (tensor<1x8x8x4xf32>, !tf.control)\n    %t"))
    with pytest.raises(PassFailedError, match=r"\[dtype\] node 'relu': input 0 of Relu is f32, its OpDef says i32"):
        PassManager([BreakingPass()]).run(module)
    module = parse_module(GRAPH.replace('"tf.Relu"(%c)', '"tf.Relu"(%c, %c)').replace(
        "{T = f32} : (tensor<1x8x8x4xf32>) -> (tensor<1x8x8x4xf32>, !tf.control)\n    %t",
        "{T = f32} : (tensor<1x8x8x4xf32>, tensor<1x8x8x4xf32>) -> (tensor<1x8x8x4xf32>, !tf.control)\n    %t"))
    with pytest.raises(PassFailedError, match=r"\[arity\] node 'relu': Relu takes 1 data inputs with these attributes, it has 2"):
        PassManager([BreakingPass()]).run(module)


def test_verifier_never_loads_tensorflow():
    import subprocess
    import sys

    code = ("import sys; from nir.ir import parse_module; from nir.ir.verifier import verify_tf_module; "
            f"verify_tf_module(parse_module({GRAPH!r})); assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))


def test_removing_one_op_changes_a_bounded_number_of_dump_lines():
    """Values (control tokens too) are named after their node when an op is made, as the
    importer makes them, so deleting one op of a 100-op function changes its own line and its
    reader's, not the names of everything after it."""
    import difflib

    from nir.ir import print_module
    from nir.ir.patterns import apply_patterns, forward

    module = parse_module(
        'builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {\n'
        '  func.func @main(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {\n'
        "    func.return %x : tensor<4xf32>\n  }\n}\n")
    fn = entry_function(module)
    ret = fn.body.block.last_op
    previous, ops = fn.args[0], []
    for i in range(100):
        kind = "Identity" if i == 50 else ("Relu" if i % 2 else "Tanh")
        control = [ops[-1].control] if i % 10 == 5 else []  # some control edges, as graphs have
        op = create_tf_op(kind, f"block{i // 10}/op{i}", [previous], [previous.type], {"T": f32}, control)
        fn.body.block.insert_op_before(op, ret)
        ops.append(op)
        previous = op.data_results[0]
    ret.operands = [previous]
    before = print_module(module).splitlines()

    class FoldIdentity(TFRewritePattern):
        op_types = frozenset({"Identity"})

        def rewrite(self, op, rewriter) -> None:
            forward(rewriter, op, op.data_operands)

    apply_patterns(module, [FoldIdentity()])
    after = print_module(module).splitlines()
    changed = [line for line in difflib.unified_diff(before, after, lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert len(before) - len(after) == 1
    assert len(changed) == 3, changed  # op50 goes; op51 reads op49 instead
    assert '%block2.op25, %block2.op25_c = "tf.Relu"(%block2.op24, %block2.op24_c) {T = f32}' in "\n".join(before)


def test_constants_of_one_value_print_as_a_splat_and_parse_back_bit_exact():
    import numpy as np

    from nir.ir import print_module

    module = parse_module(GRAPH.replace("splat 0.5", "splat -0.0"))
    text = print_module(module)
    assert "#tf.tensor<tensor<3x3x3x4xf32>, splat -0.0>" in text
    value = op_named(parse_module(text), "w").attributes["value"].numpy()
    assert value.shape == (3, 3, 3, 4) and np.all(np.signbit(value))


def test_one_name_per_op_and_it_reads_back():
    """Values are named after their node; a node name the SSA name can spell is printed once,
    as the SSA name; the others keep their node_name property; parsing gives every op its name
    back."""
    from nir.ir import print_module

    module = parse_module(GRAPH)
    fn = entry_function(module)
    block = fn.body.block
    odd = create_tf_op("Neg", "block1/v1.2", [fn.args[0]], [fn.args[0].type], {"T": f32})  # a "." the SSA name cannot spell
    nested = create_tf_op("Abs", "block1/act", [fn.args[0]], [fn.args[0].type], {"T": f32})
    block.insert_op_before(odd, block.last_op)
    block.insert_op_before(nested, block.last_op)
    text = print_module(module)
    assert '%block1.act, %block1.act_c = "tf.Abs"(%x) {T = f32}' in text
    assert '"tf.Neg"(%x) <{node_name = "block1/v1.2"}>' in text
    assert '%relu, %relu_c = "tf.Relu"(%conv) {T = f32}' in text  # hand-written `%r` is printed as its node
    names = sorted(op.node_name for op in parse_module(text).walk() if isinstance(op, TFNodeOp))
    assert names == sorted(op.node_name for op in module.walk() if isinstance(op, TFNodeOp))
    assert "block1/act" in names and "block1/v1.2" in names
    written = parse_module(GRAPH.replace(' <{node_name = "tanh"}>', ""))
    assert op_named(written, "t").tf_type == "Tanh"  # named by its SSA name


LOOP = """
builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<3x2xf32> {tf.output_key = "y"}, tensor<4xf32> {tf.output_key = "z"}) {
    %i, %i_c = "tf.Const"() <{node_name = "i"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)
    %l:2, %l_c = "tf.While"(%i, %x) <{node_name = "loop"}> {T = #tf.list<[i32, f32]>, body = #tf.func<@body, {}>, cond = #tf.func<@cond, {}>, parallel_iterations = 10 : i64, output_shapes = #tf.list<[#tf.shape<[]>, #tf.shape<[4]>]>} : (tensor<i32>, tensor<4xf32>) -> (tensor<i32>, tensor<4xf32>, !tf.control)
    %m, %m_c = "tf.Const"() <{node_name = "m"}> {dtype = f32, value = #tf.tensor<tensor<2x3xf32>, splat 1.0>} : () -> (tensor<2x3xf32>, !tf.control)
    %perm, %perm_c = "tf.Const"() <{node_name = "perm"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [1, 0]>} : () -> (tensor<2xi32>, !tf.control)
    %t, %t_c = "tf.Transpose"(%m, %perm) <{node_name = "transpose"}> {T = f32, Tperm = i32} : (tensor<2x3xf32>, tensor<2xi32>) -> (tensor<3x2xf32>, !tf.control)
    func.return %t, %l#1 : tensor<3x2xf32>, tensor<4xf32>
  }
  func.func private @body(%n: tensor<i32> {tf.input_key = "n"}, %h: tensor<4xf32> {tf.input_key = "h"}) -> (tensor<i32> {tf.output_key = "n_next"}, tensor<4xf32> {tf.output_key = "h_next"}) {
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %next, %next_c = "tf.AddV2"(%n, %one) <{node_name = "next"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    %th, %th_c = "tf.Tanh"(%h) <{node_name = "th"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %next, %th : tensor<i32>, tensor<4xf32>
  }
  func.func private @cond(%n: tensor<i32> {tf.input_key = "n"}, %h: tensor<4xf32> {tf.input_key = "h"}) -> (tensor<i1> {tf.output_key = "go"}) {
    %three, %three_c = "tf.Const"() <{node_name = "three"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [3]>} : () -> (tensor<i32>, !tf.control)
    %go, %go_c = "tf.Less"(%n, %three) <{node_name = "go"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i1>, !tf.control)
    func.return %go : tensor<i1>
  }
}
"""


def _function(module, name):
    from xdsl.dialects import func

    return next(f for f in module.ops if isinstance(f, func.FuncOp) and f.sym_name.data == name)


def body_takes_one_more_argument(module):
    """Adds a loop variable to the body (its signature and attributes kept consistent) but not
    to the While that runs it."""
    from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, StringAttr

    from nir.ir.control_flow import refresh_function_type

    body = _function(module, "body")
    body.body.block.insert_arg(TensorType(f32, [4]), len(body.body.block.args))
    body.arg_attrs = ArrayAttr([*body.arg_attrs.data, DictionaryAttr({"tf.input_key": StringAttr("extra")})])
    refresh_function_type(body)


def perm_changed_in_place(module):
    """Gives the Transpose's perm constant a new value, leaving the Transpose (and its declared
    result type) as it was: only the constant op changes."""
    import numpy as np
    from xdsl.dialects.builtin import TensorType as Tensor
    from xdsl.dialects.builtin import i32

    perm = op_named(module, "perm")
    perm.attributes["value"] = TensorAttr.from_numpy(np.array([0, 1], np.int32), Tensor(i32, [2]))


def argument_without_attributes(module):
    body = _function(module, "body")
    body.body.block.insert_arg(TensorType(f32, [4]), len(body.body.block.args))
    from nir.ir.control_flow import refresh_function_type

    refresh_function_type(body)


def loop_gives_fewer_than_it_takes(module):
    """Rebuilds the While with its first result only (the second's reader reads the input)."""
    loop = op_named(module, "loop")
    fewer = create_tf_op("While", "loop", loop.data_operands, [loop.data_results[0].type], loop.attributes)
    loop.parent_block().insert_op_before(fewer, loop)
    loop.data_results[0].replace_all_uses_with(fewer.data_results[0])
    loop.data_results[1].replace_all_uses_with(loop.data_operands[1])
    loop.parent_block().erase_op(loop)


LOOP_CASES = [
    (loop_gives_fewer_than_it_takes, "call-arity", "loop", "While takes 2 loop variables but gives 1"),
    (body_takes_one_more_argument, "call-arity", "loop", "While passes 2 arguments to @body, which takes 3"),
    (perm_changed_in_place, "shape", "transpose", "result 0 is tensor<3x2xf32>, but its operands give shape [2, 3]"),
    (argument_without_attributes, "arg-attrs", "body", "function @body has 3 arguments but 2 argument attribute entries"),
]


@pytest.mark.parametrize(("edit", "rule", "node", "message"), LOOP_CASES, ids=[c[0].__name__ for c in LOOP_CASES])
def test_functions_calls_and_constant_payloads_are_checked(edit, rule, node, message):
    """The corruptions the verifier let through: a body whose arity no longer matches its
    loop, a constant changed in place under an op that was verified before (its stamp now
    covers constant payloads), a function argument without attributes."""
    module = parse_module(LOOP)
    manager = PassManager([BreakingPass(), BreakingPass(edit=edit.__name__), BreakingPass()])
    with pytest.raises(PassFailedError) as err:
        manager.run(module)
    text = str(err.value)
    assert text.startswith(f"pass 'buggy' left invalid IR: [{rule}] node '{node}': "), text
    assert message in text


def test_a_node_name_ending_in_digits_is_read_as_written():
    """xDSL keeps a value's name without a trailing `_<digits>`; an op written without
    `node_name` still gets the name its result spells (Keras names most nodes `..._1`), and
    keeps it through print and parse."""
    from nir.ir import print_module

    text = GRAPH.replace('%r, %r_c = "tf.Relu"(%c) <{node_name = "relu"}>', '%blk.act_1, %r_c = "tf.Relu"(%c)').replace(
        '"tf.Tanh"(%r)', '"tf.Tanh"(%blk.act_1)')
    module = parse_module(text)
    assert op_named(module, "blk/act_1").tf_type == "Relu"
    again = parse_module(print_module(module))
    assert op_named(again, "blk/act_1").tf_type == "Relu"


def test_the_shipped_op_facts_are_what_this_tensorflow_registers(tmp_path):
    """`nir opt` checks ops against a snapshot of TensorFlow's OpDefs (it never loads TensorFlow);
    regenerated from the installed TensorFlow, the snapshot is the same file, and each op type
    decodes to the signature the live registry gives."""
    import json
    from importlib import resources

    from nir.ir import op_facts

    regenerated = tmp_path / op_facts.FACTS_FILE
    assert op_facts.write_snapshot(str(regenerated)) > 1500
    shipped = json.loads(resources.files("nir.ir").joinpath(op_facts.FACTS_FILE).read_text())
    fresh = json.loads(regenerated.read_text())
    # A test before this one may have declared NeuronOp to this process's TensorFlow (nir.load,
    # graph_util do): nir's own op, not TensorFlow's.
    assert set(fresh["ops"]) - set(shipped["ops"]) <= {"NeuronOp"}
    assert fresh["tensorflow"] == shipped["tensorflow"]
    assert {k: fresh["ops"][k] for k in shipped["ops"]} == shipped["ops"], "regenerate it: python -m nir.ir.op_facts --write"
    differing = [t for t in op_facts._snapshot() if op_facts._snapshot_signature(t) != op_facts._live_signature(t)]
    assert not differing, differing[:10]
    ref = op_facts._snapshot_signature("Assign").inputs[0]  # a TF1 ref variable's input
    assert ref.is_ref and ref.encode() == "ref:&T" and op_facts.ArgDef.decode("ref:&T") == ref
    listed = op_facts._snapshot_signature("IdentityN").inputs[0]
    assert listed.encode() == "input:[T]" and listed.type_list_attr == "T"
    counted = op_facts._snapshot_signature("ConcatV2").inputs[0]
    assert counted.encode() == "values:N*T" and counted.number_attr == "N"
    fixed = op_facts._snapshot_signature("ConcatV2").inputs[1]
    assert fixed.encode() == "axis:Tidx"
    assert op_facts._snapshot_signature("Shape").outputs[0].encode() == "output:out_type"
    assert op_facts._snapshot_signature("IsFinite").outputs[0].encode() == "y:=DT_BOOL"
