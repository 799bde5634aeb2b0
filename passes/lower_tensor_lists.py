"""tf-lower-tensor-lists: replace TensorList reads whose element is known at compile time by
tensor ops.

Why: TensorLists are `variant` tensors, which no accelerator takes, so every op on one stays
on CPU and cuts the cluster around it. Keras RNNs and `tf.scan`/`map_fn` read their input
through one (`TensorListFromTensor` of the sequence, `TensorListGetItem` at the time step) and
collect their outputs in another (`TensorListSetItem` at the time step, `TensorListStack` at
the end). Once tf-unroll-loops has made the loop straight-line code with constant indices,
which tensor each read gives is known, and the list itself is not needed:

- `TensorListGetItem(list, i)` becomes the value `TensorListSetItem` last wrote at `i`, or,
  for a list made by `TensorListFromTensor(x)`, a `StridedSlice` of row `i` of `x`;
- `TensorListStack(list)` becomes `Pack` of all its elements (`x` itself when the list is
  `TensorListFromTensor(x)` unchanged).

A read is left alone when an index is not a constant, when an element was never written (a
reserved list reads zeros or fails, depending on the element shape), or when the list comes
through a loop or a function argument. Lists nothing reads any more go (with
anything else dead in the graph functions: dce's sweep).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import BoolAttr, IntegerAttr, ModuleOp, i64
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter

from nir.ir.control_flow import graph_functions
from nir.ir.patterns import TFRewritePattern, apply_patterns, forward, has_control_edges
from nir.ir.queries import const_value
from nir.ir.shapes import element_type, tensor_type, tf_shape
from nir.ir.tf_dialect import TFNodeOp
from nir.passmanager.registry import register_pass
from passes.dce import remove_dead_ops
from passes.rewrites import I32, OpBuilder
from passes.shape_inference import infer_shapes

TRUE = BoolAttr.from_bool(True)


@dataclass(frozen=True)
class Row:
    """Element `index` of a list made from the rows of `tensor`."""

    tensor: SSAValue
    index: int


Element = SSAValue | Row


def _index(value: SSAValue) -> int | None:
    index = const_value(value, 1)
    return int(index) if index is not None and index.shape == () else None


def _list_op(value: SSAValue) -> TFNodeOp | None:
    """The op that made a list, unless it waits on something: then when it ran matters."""
    owner = value.owner
    if not isinstance(owner, TFNodeOp) or owner.control_operands:
        return None
    return owner


def list_length(value: SSAValue) -> int | None:
    """How many elements the list `value` holds, when known at compile time."""
    op = _list_op(value)
    while op is not None and op.tf_type in ("TensorListSetItem", "Identity"):
        if op.tf_type == "TensorListSetItem" and op.attributes.get("resize_if_index_out_of_bounds") == TRUE:
            return None  # the list grows to fit what is written
        op = _list_op(op.data_operands[0])
    if op is None:
        return None
    if op.tf_type == "TensorListReserve":
        return _index(op.data_operands[1])
    if op.tf_type == "TensorListFromTensor":
        shape = tf_shape(op.data_operands[0].type)
        return shape[0] if shape and shape[0] >= 0 else None
    return None


def element_at(value: SSAValue, index: int) -> Element | None:
    """What element `index` of the list `value` is, or None when that is not known."""
    op = _list_op(value)
    while op is not None:
        if op.tf_type == "Identity":
            op = _list_op(op.data_operands[0])
        elif op.tf_type == "TensorListSetItem":
            written = _index(op.data_operands[1])
            if written is None:
                return None
            if written == index:
                return op.data_operands[2]
            op = _list_op(op.data_operands[0])
        elif op.tf_type == "TensorListFromTensor":
            return Row(op.data_operands[0], index)
        else:
            return None  # a reserved element never written, or a list from elsewhere
    return None


def _row(build: OpBuilder, row: Row, suffix: str, result_type) -> SSAValue:
    """`row.tensor[row.index]`, as the StridedSlice Python's indexing makes."""
    return build.op("StridedSlice", suffix, [
        row.tensor,
        build.const(f"{suffix}/begin", np.array([row.index], np.int32), I32),
        build.const(f"{suffix}/end", np.array([row.index + 1], np.int32), I32),
        build.const(f"{suffix}/strides", np.array([1], np.int32), I32),
    ], result_type, {
        "T": element_type(row.tensor.type), "Index": I32, "begin_mask": IntegerAttr(0, i64),
        "end_mask": IntegerAttr(0, i64), "ellipsis_mask": IntegerAttr(0, i64),
        "new_axis_mask": IntegerAttr(0, i64), "shrink_axis_mask": IntegerAttr(1, i64),
    })


def _row_type(row: Row):
    shape = tf_shape(row.tensor.type)
    return tensor_type(element_type(row.tensor.type), None if shape is None else shape[1:])


class GetItemToElement(TFRewritePattern):
    op_types = frozenset({"TensorListGetItem"})

    def rewrite(self, op: TFNodeOp, rewriter: PatternRewriter) -> None:
        index = _index(op.data_operands[1])
        length = list_length(op.data_operands[0])
        if index is None or length is None or not 0 <= index < length or has_control_edges(op):
            return
        element = element_at(op.data_operands[0], index)
        if element is None:
            return
        # Only a read whose type the element has is replaced (forward's rule); checked before a
        # row is built, or the walker would find the read again beside a dead slice, and again.
        result_type = op.data_results[0].type
        if (_row_type(element) if isinstance(element, Row) else element.type) != result_type:
            return
        if isinstance(element, Row):
            element = _row(OpBuilder(op, rewriter), element, "row", result_type)
        forward(rewriter, op, [element])


class StackToPack(TFRewritePattern):
    op_types = frozenset({"TensorListStack"})

    def rewrite(self, op: TFNodeOp, rewriter: PatternRewriter) -> None:
        length = list_length(op.data_operands[0])
        if not length or has_control_edges(op):
            return  # an empty stack has a shape only the element shape operand knows
        elements = [element_at(op.data_operands[0], i) for i in range(length)]
        if any(e is None for e in elements):
            return
        if all(isinstance(e, Row) for e in elements) and len({e.tensor for e in elements}) == 1:
            forward(rewriter, op, [elements[0].tensor])  # the list as it was made
            return
        build = OpBuilder(op, rewriter)
        values = [_row(build, e, f"row_{i}", _row_type(e)) if isinstance(e, Row) else e
                  for i, e in enumerate(elements)]
        build.replace_op_type("Pack", {
            "N": IntegerAttr(length, i64), "T": element_type(op.data_results[0].type), "axis": IntegerAttr(0, i64),
        }, operands=values)


@register_pass
@dataclass(frozen=True)
class LowerTensorListsPass(ModulePass):
    """Replace TensorList reads whose element is known by the tensors they read."""

    name = "tf-lower-tensor-lists"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if lower_tensor_lists(graph_functions(op)):
            infer_shapes(op)  # an element can have a more precise shape than the list declared


def lower_tensor_lists(functions: list[func.FuncOp]) -> bool:
    """Lower the reads of `functions` whose element is known; whether any was."""
    if not apply_patterns(functions, [GetItemToElement(), StackToPack()]):
        return False
    for fn in functions:
        remove_dead_ops(fn)  # the lists nothing reads any more
    return True
