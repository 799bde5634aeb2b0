"""Exact rewrites legalize applies when the target lacks an op: each replaces one op by ops the
target has, computing the same values.

Each is a pattern (`LegalizationPattern`, on `nir.ir.patterns`): `op_types` is the op type it
rewrites and `requires` the op type the target must have for it to be tried. Its `legalize`
returns True when it replaced the op, False when it does not apply, or a string that says why
it does not apply (legalize adds it to the op's CPU reason, so `nir explain` shows it).

The two that matter most for modern models:

- `Einsum` with one or two operands becomes Transpose/Reshape/BatchMatMul (or MatMul, or Sum
  for a one-operand reduction): letters shared by both operands and the output are batch
  dimensions, letters shared by the operands only are contracted. Every equation Keras'
  MultiHeadAttention and EinsumDense emit is of this kind. Not handled (the op stays on CPU,
  with the reason): ellipses (`...`), a letter repeated within one operand (diagonals,
  traces), a letter in one operand only that the output drops (a sum inside a two-operand
  einsum), operands that broadcast a dimension of size 1, and three or more operands.
- An embedding lookup, `GatherV2(table, ids, axis=0)` on a constant float table, becomes
  `MatMul(Cast(Equal(ids, [0..V)), float), table)`: a one-hot matrix times the table. Each
  output element is `1 * table[id] + sum(0 * table[other])`, so it is exact for finite
  tables. It differs from GatherV2 for ids outside [0, V): GatherV2 fails on CPU, the one-hot
  product gives a row of zeros. Above `MAX_ONE_HOT_ELEMENTS` one-hot entries (ids times
  vocabulary) the product would cost more than it saves, and the lookup stays on CPU with
  that reason.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from xdsl.dialects.builtin import BoolAttr, IntegerAttr, IntegerType, StringAttr, i64
from xdsl.ir import Attribute, SSAValue
from xdsl.pattern_rewriter import PatternRewriter
from xdsl.rewriter import InsertPoint

from nir.ir.attr_names import REWRITE_DECLINED
from nir.ir.dtypes import numpy_dtype_of_ir_type
from nir.ir.patterns import TFRewritePattern
from nir.ir.queries import carries_batch, const_value
from nir.ir.shapes import element_type, is_static, tensor_type, tf_shape
from nir.ir.tf_attrs import TensorAttr
from nir.ir.tf_dialect import TFNodeOp, create_tf_op

I32 = IntegerType(32)
MAX_ONE_HOT_ELEMENTS = 1 << 22  # 16 MiB of float32 one-hot rows on the device


class OpBuilder:
    """Builds ops in front of `anchor`, named `<anchor>/<suffix>`, on the anchor's device,
    through the pattern's rewriter (so the walker sees them)."""

    def __init__(self, anchor: TFNodeOp, rewriter: PatternRewriter):
        self.anchor = anchor
        self.rewriter = rewriter

    def op(self, op_type: str, suffix: str, operands: Sequence[SSAValue], result_type: Attribute,
           attrs: dict[str, Attribute]) -> SSAValue:
        new = create_tf_op(op_type, f"{self.anchor.node_name}/{suffix}", operands, [result_type], attrs,
                           device=self.anchor.device)
        self.rewriter.insert(new, InsertPoint.before(self.anchor))
        return new.data_results[0]

    def const(self, suffix: str, value: np.ndarray, ir_element: Attribute) -> SSAValue:
        value_type = tensor_type(ir_element, value.shape)
        array = np.ascontiguousarray(value, dtype=numpy_dtype_of_ir_type(ir_element))
        return self.op("Const", suffix, [], value_type,
                       {"dtype": ir_element, "value": TensorAttr.from_numpy(array, value_type)})

    def transpose(self, suffix: str, x: SSAValue, perm: Sequence[int]) -> SSAValue:
        if list(perm) == list(range(len(perm))):
            return x
        shape = tf_shape(x.type)
        perm_value = self.const(f"{suffix}/perm", np.array(perm, np.int32), I32)
        return self.op("Transpose", suffix, [x, perm_value],
                       tensor_type(element_type(x.type), [shape[p] for p in perm]),
                       {"T": element_type(x.type), "Tperm": I32})

    def reshape(self, suffix: str, x: SSAValue, shape: Sequence[int], from_count: int | None = None) -> SSAValue:
        """Reshape `x` to `shape`. With `from_count=i`, the target says -1 for dim i, so
        TensorFlow computes it from the element count: the graph stays right when the batch of
        `x` changes (a dynamic batch, an inlined cluster run at another batch), for a caller
        whose dim i grows with it."""
        if tuple(shape) == tf_shape(x.type):
            return x
        target = list(shape)
        if from_count is not None:
            target[from_count] = -1
        shape_value = self.const(f"{suffix}/shape", np.array(target, np.int32), I32)
        return self.op("Reshape", suffix, [x, shape_value], tensor_type(element_type(x.type), shape),
                       {"T": element_type(x.type), "Tshape": I32})

    def broadcast_to(self, suffix: str, x: SSAValue, shape: Sequence[int]) -> SSAValue:
        if tuple(shape) == tf_shape(x.type):
            return x
        target = self.const(f"{suffix}/shape", np.array(shape, np.int32), I32)
        return self.op("BroadcastTo", suffix, [x, target], tensor_type(element_type(x.type), shape),
                       {"T": element_type(x.type), "Tidx": I32})

    def replace_op_type(self, new_type: str, attrs: dict[str, Attribute] | None = None,
                        operands: Sequence[SSAValue] | None = None, results: int | None = None) -> TFNodeOp:
        """The anchor, with the same node name, control edges and properties, becomes an op of
        another type (and attrs, operands, or only its first `results` data results, the others
        unused)."""
        op = self.anchor
        kept = op.data_results[:results]
        new = create_tf_op(
            new_type, op.node_name, op.data_operands if operands is None else operands,
            [r.type for r in kept], op.attributes if attrs is None else attrs,
            op.control_operands, op.device,
        )
        new.properties.update({k: v for k, v in op.properties.items() if k not in new.properties})
        dropped = [None] * (len(op.data_results) - len(kept))
        self.rewriter.replace(op, new, [*new.data_results, *dropped, new.control])
        return new


class LegalizationPattern(TFRewritePattern):
    """Rewrites an op type the target lacks (`op_types`) into ops it has, among them `requires`."""

    requires: ClassVar[str]

    def applies_to(self, supported_ops: frozenset[str]) -> bool:
        return self.requires in supported_ops and not (self.op_types & supported_ops)

    def rewrite(self, op: TFNodeOp, rewriter: PatternRewriter) -> None:
        outcome = self.legalize(op, OpBuilder(op, rewriter))
        if isinstance(outcome, str):
            # A property, not a rewriter action: the op is unchanged, nothing to revisit.
            op.properties[REWRITE_DECLINED] = StringAttr(outcome)

    @abstractmethod
    def legalize(self, op: TFNodeOp, build: OpBuilder) -> bool | str: ...


# --------------------------------------------------------------------------- simple renames


class RenameOp(LegalizationPattern):
    """An op type that is another one under a new name, with the same inputs, outputs and
    attributes (StopGradient is Identity at inference, AddV2 is Add)."""

    def __init__(self, source: str, target: str):
        self.op_types = frozenset({source})
        self.requires = target

    def legalize(self, op: TFNodeOp, build: OpBuilder) -> bool:
        build.replace_op_type(self.requires)
        return True


class FusedBatchNormV3ToV1(LegalizationPattern):
    """Inference-mode FusedBatchNormV3 is FusedBatchNorm when the extra 6th output is unused."""

    op_types = frozenset({"FusedBatchNormV3"})
    requires = "FusedBatchNorm"

    def legalize(self, op: TFNodeOp, build: OpBuilder) -> bool:
        training = op.attributes.get("is_training")
        if isinstance(training, BoolAttr) and training.value.data:
            return False
        if op.data_results[5].uses:
            return False
        build.replace_op_type("FusedBatchNorm", {k: v for k, v in op.attributes.items() if k != "U"}, results=5)
        return True


def _same_shapes(op: TFNodeOp) -> bool:
    shapes = [o.type for o in op.data_operands]
    return all(is_static(s) for s in shapes) and len({str(s.get_shape()) for s in shapes}) == 1


class BatchMatMulV2ToV1(LegalizationPattern):
    """BatchMatMulV2 without broadcasting is BatchMatMul."""

    op_types = frozenset({"BatchMatMulV2"})
    requires = "BatchMatMul"

    def legalize(self, op: TFNodeOp, build: OpBuilder) -> bool | str:
        a, b = op.data_operands
        if not (is_static(a.type) and is_static(b.type)):
            return "its shape is not static"
        if a.type.get_shape()[:-2] != b.type.get_shape()[:-2]:
            return "it broadcasts its batch dimensions"
        build.replace_op_type("BatchMatMul", {k: v for k, v in op.attributes.items() if k not in ("grad_x", "grad_y")})
        return True


class SelectV2ToSelect(LegalizationPattern):
    """SelectV2 without broadcasting is Select."""

    op_types = frozenset({"SelectV2"})
    requires = "Select"

    def legalize(self, op: TFNodeOp, build: OpBuilder) -> bool:
        if not _same_shapes(op):
            return False
        build.replace_op_type("Select")
        return True


class SelectV2BroadcastToSelect(LegalizationPattern):
    """SelectV2 that broadcasts (a mask of [batch, 1] over [batch, units], a scalar branch) is
    Select of its operands broadcast to the result's shape: exact, and both are in targets'
    op tables that lack SelectV2 (inf1's), so a masked RNN is not cut by its mask.

    The shape broadcast to is read (`Shape`) from an operand that has the result's shape, when
    one has: a constant target would hold the batch size compiled for, and the graph would
    fail at another batch (dynamic batch; an inlined NeuronOp)."""

    op_types = frozenset({"SelectV2"})
    requires = "Select"

    def applies_to(self, supported_ops: frozenset[str]) -> bool:
        return super().applies_to(supported_ops) and "BroadcastTo" in supported_ops

    def legalize(self, op: TFNodeOp, build: OpBuilder) -> bool | str:
        out = op.data_results[0].type
        if not is_static(out) or not all(is_static(v.type) for v in op.data_operands):
            return "its shape is not static"
        shape = tuple(out.get_shape())
        full = _operand_of_the_result_shape(op, shape)
        if full is None:
            operands = [build.broadcast_to(f"{name}_broadcast", v, shape)
                        for v, name in zip(op.data_operands, ("condition", "t", "e"))]
        else:
            target = build.op("Shape", "result_shape", [full], tensor_type(I32, [len(shape)]),
                              {"T": element_type(full.type), "out_type": I32})
            # An operand of the result's shape that does not follow the batch as `full` does (an
            # RNN's zero initial state, a constant [1, units]) is broadcast too: at another batch
            # its shape is no longer the result's.
            operands = [v if v is full or (tf_shape(v.type) == shape and carries_batch(v) == carries_batch(full)) else
                        build.op("BroadcastTo", f"{name}_broadcast", [v, target], tensor_type(element_type(v.type), shape),
                                 {"T": element_type(v.type), "Tidx": I32})
                        for v, name in zip(op.data_operands, ("condition", "t", "e"))]
        build.replace_op_type("Select", operands=operands)
        return True


def _operand_of_the_result_shape(op: TFNodeOp, shape: tuple[int, ...]) -> SSAValue | None:
    """The operand whose run-time shape is the result's: of its static shape, carrying the
    batch when one does, else computed rather than constant."""
    candidates = [v for v in op.data_operands if tf_shape(v.type) == shape]
    return next((v for v in candidates if carries_batch(v)), None) or \
        next((v for v in candidates if not (isinstance(v.owner, TFNodeOp) and v.owner.tf_type == "Const")), None) or \
        next(iter(candidates), None)


class ErfcToErf(LegalizationPattern):
    """Erfc(x) = 1 - Erf(x), exactly as Keras 3 lowers it when Erfc is missing."""

    op_types = frozenset({"Erfc"})
    requires = "Erf"

    def legalize(self, op: TFNodeOp, build: OpBuilder) -> bool:
        (x,) = op.data_operands
        dtype = element_type(x.type)
        one = build.const("one", np.ones((), numpy_dtype_of_ir_type(dtype)), dtype)
        erf = build.op("Erf", "erf", [x], x.type, {"T": dtype})
        build.replace_op_type("Sub", operands=[one, erf])
        return True


class AnyToAll(LegalizationPattern):
    """Any(x) = not All(not x), over the same axes (De Morgan): exact, and how a Keras `Masking`
    layer's mask (Any of `x != mask_value` over the features) joins the cluster on a target
    with All but no Any (inf1's table)."""

    op_types = frozenset({"Any"})
    requires = "All"

    def applies_to(self, supported_ops: frozenset[str]) -> bool:
        return super().applies_to(supported_ops) and "LogicalNot" in supported_ops

    def legalize(self, op: TFNodeOp, build: OpBuilder) -> bool:
        x, axes = op.data_operands
        negated = build.op("LogicalNot", "not_input", [x], x.type, {})
        none_false = build.op("All", "all_not", [negated, axes], op.data_results[0].type, dict(op.attributes))
        build.replace_op_type("LogicalNot", {}, operands=[none_false])
        return True


# --------------------------------------------------------------------------- Einsum


def parse_einsum(equation: str, ranks: Sequence[int]) -> tuple[list[str], str] | str:
    """(operand subscripts, output subscripts), or why the equation is not handled."""
    if "..." in equation:
        return "einsum with an ellipsis"
    if "->" not in equation:
        return "einsum without an explicit output"
    lhs, out = equation.replace(" ", "").split("->")
    inputs = lhs.split(",")
    if len(inputs) != len(ranks) or len(inputs) not in (1, 2):
        return f"einsum with {len(inputs)} operands"
    for subscripts, rank in zip(inputs, ranks):
        if len(subscripts) != rank:
            return f"einsum subscripts '{subscripts}' do not match an operand of rank {rank}"
        if len(set(subscripts)) != len(subscripts):
            return f"einsum with a repeated letter in '{subscripts}' (diagonal or trace)"
    if len(set(out)) != len(out) or any(letter not in lhs for letter in out):
        return f"einsum output '{out}' is not made of distinct input letters"
    return inputs, out


class EinsumToMatMul(LegalizationPattern):
    """One- and two-operand Einsum as Transpose/Reshape/(Batch)MatMul/Sum (see the module doc)."""

    op_types = frozenset({"Einsum"})
    requires = "BatchMatMul"

    def legalize(self, op: TFNodeOp, build: OpBuilder) -> bool | str:
        return einsum(op, build)


def einsum(op: TFNodeOp, build: OpBuilder) -> bool | str:
    operands = op.data_operands
    if not all(is_static(v.type) for v in operands):
        return False
    equation = op.attributes.get("equation")
    if not isinstance(equation, StringAttr):
        return False
    parsed = parse_einsum(equation.data, [len(tf_shape(v.type)) for v in operands])
    if isinstance(parsed, str):
        return parsed
    inputs, out = parsed
    sizes: dict[str, int] = {}
    for subscripts, value in zip(inputs, operands):
        for letter, size in zip(subscripts, tf_shape(value.type)):
            if sizes.setdefault(letter, size) != size:
                return f"einsum broadcasts dimension '{letter}' ({sizes[letter]} vs {size})"
    if len(inputs) == 1:
        return _einsum_unary(op, build, inputs[0], out)
    return _einsum_binary(op, build, inputs[0], inputs[1], out, sizes)


def _einsum_unary(op: TFNodeOp, build: OpBuilder, subscripts: str, out: str) -> bool:
    """A permutation, with the letters the output drops summed first."""
    (x,) = op.data_operands
    dtype = element_type(x.type)
    summed = [i for i, letter in enumerate(subscripts) if letter not in out]
    kept = [letter for letter in subscripts if letter in out]
    if summed:
        axes = build.const("axes", np.array(summed, np.int32), I32)
        shape = [d for i, d in enumerate(tf_shape(x.type)) if i not in summed]
        x = build.op("Sum", "sum", [x, axes], tensor_type(dtype, shape),
                     {"T": dtype, "Tidx": I32, "keep_dims": BoolAttr.from_bool(False)})
    perm = [kept.index(letter) for letter in out]
    if perm == list(range(len(perm))):
        build.replace_op_type("Identity", {"T": dtype}, [x])
    else:
        perm_value = build.const("perm", np.array(perm, np.int32), I32)
        build.replace_op_type("Transpose", {"T": dtype, "Tperm": I32}, [x, perm_value])
    return True


def _einsum_binary(op: TFNodeOp, build: OpBuilder, a_sub: str, b_sub: str, out: str, sizes: dict[str, int]) -> bool | str:
    batch = [letter for letter in out if letter in a_sub and letter in b_sub]
    contract = [letter for letter in a_sub if letter in b_sub and letter not in out]
    a_free = [letter for letter in a_sub if letter not in b_sub]
    b_free = [letter for letter in b_sub if letter not in a_sub]
    if any(letter not in out for letter in a_free + b_free):
        return "einsum sums a letter that only one operand has"
    a, b = op.data_operands
    dtype = element_type(a.type)

    def size(letters):
        return math.prod(sizes[letter] for letter in letters)

    # The letter of the model's batch, if an operand carries it on dimension 0: each reshape
    # below says -1 for the group of letters holding it, so the rewrite holds at any batch.
    carried = {sub[0] for sub, v in ((a_sub, a), (b_sub, b)) if sub and carries_batch(v)}
    batch_letter = carried.pop() if len(carried) == 1 else None

    def from_count(*groups):
        if batch_letter is None:
            return None
        return next((i for i, group in enumerate(groups) if batch_letter in group), None)

    a = build.transpose("transpose_a", a, [a_sub.index(x) for x in batch + a_free + contract])
    b = build.transpose("transpose_b", b, [b_sub.index(x) for x in batch + contract + b_free])
    m, k, n = size(a_free), size(contract), size(b_free)
    if batch:
        a = build.reshape("reshape_a", a, [size(batch), m, k], from_count=from_count(batch, a_free, contract))
        b = build.reshape("reshape_b", b, [size(batch), k, n], from_count=from_count(batch, contract, b_free))
        product = build.op("BatchMatMul", "matmul", [a, b], tensor_type(dtype, [size(batch), m, n]), {
            "T": dtype, "adj_x": BoolAttr.from_bool(False), "adj_y": BoolAttr.from_bool(False)})
    else:
        a = build.reshape("reshape_a", a, [m, k], from_count=from_count(a_free, contract))
        b = build.reshape("reshape_b", b, [k, n], from_count=from_count(contract, b_free))
        product = build.op("MatMul", "matmul", [a, b], tensor_type(dtype, [m, n]), {
            "T": dtype, "transpose_a": BoolAttr.from_bool(False), "transpose_b": BoolAttr.from_bool(False)})
    produced = batch + a_free + b_free
    perm = [produced.index(letter) for letter in out]
    if perm == list(range(len(perm))):
        shape = [-1 if letter == batch_letter else sizes[letter] for letter in out]
        shape_value = build.const("shape", np.array(shape, np.int32), I32)
        build.replace_op_type("Reshape", {"T": dtype, "Tshape": I32}, [product, shape_value])
    else:
        product = build.reshape("reshape_out", product, [sizes[letter] for letter in produced],
                                from_count=from_count(*produced))
        perm_value = build.const("perm", np.array(perm, np.int32), I32)
        build.replace_op_type("Transpose", {"T": dtype, "Tperm": I32}, [product, perm_value])
    return True


# --------------------------------------------------------------------------- embedding lookup


class GatherAtConstantIndicesToSlice(LegalizationPattern):
    """GatherV2 at a constant index, or at a constant run of consecutive indices, on any axis, is
    a StridedSlice of that axis (shrinking it for a single index): exact. Unrolled loops read
    their time step so (`tf.gather(x, i, axis=1)` with `i` a constant once unrolled). A gather at
    run-time indices is left to the other rewrites."""

    op_types = frozenset({"GatherV2"})
    requires = "StridedSlice"

    def legalize(self, op: TFNodeOp, build: OpBuilder) -> bool:
        params, indices, axis = op.data_operands
        index_values, axis_value = const_value(indices), const_value(axis)
        batch_dims = op.attributes.get("batch_dims")
        shape = tf_shape(params.type)
        if index_values is None or axis_value is None or shape is None or index_values.ndim > 1 or \
                (batch_dims is not None and batch_dims.value.data != 0):
            return False
        dim = int(axis_value) % len(shape) if shape else 0
        if not shape or shape[dim] < 0:
            return False
        first = int(index_values.flat[0]) if index_values.size else 0
        consecutive = np.array_equal(index_values.reshape(-1), np.arange(first, first + index_values.size))
        if not index_values.size or not consecutive or first < 0 or first + index_values.size > shape[dim]:
            return False  # out-of-range indices fail at run time, as they should
        rank = len(shape)
        begin, end = np.zeros(rank, np.int32), np.zeros(rank, np.int32)
        begin[dim], end[dim] = first, first + index_values.size
        every_other = (1 << rank) - 1 - (1 << dim)  # the other axes whole
        attrs = {
            "T": element_type(params.type), "Index": I32, "begin_mask": IntegerAttr(every_other, i64),
            "end_mask": IntegerAttr(every_other, i64), "ellipsis_mask": IntegerAttr(0, i64),
            "new_axis_mask": IntegerAttr(0, i64),
            "shrink_axis_mask": IntegerAttr(1 << dim if index_values.ndim == 0 else 0, i64),
        }
        operands = [params, build.const("begin", begin, I32), build.const("end", end, I32),
                    build.const("strides", np.ones(rank, np.int32), I32)]
        build.replace_op_type("StridedSlice", attrs, operands)
        return True


class EmbeddingLookupToOneHotMatMul(LegalizationPattern):
    """GatherV2 on a constant float table along axis 0, as a one-hot matmul."""

    op_types = frozenset({"GatherV2"})
    requires = "MatMul"

    def legalize(self, op: TFNodeOp, build: OpBuilder) -> bool | str:
        return embedding_lookup(op, build)


def embedding_lookup(op: TFNodeOp, build: OpBuilder) -> bool | str:
    table, ids, axis = op.data_operands
    axis_value = const_value(axis)
    batch_dims = op.attributes.get("batch_dims")
    if axis_value is None or int(axis_value) != 0 or (batch_dims is not None and batch_dims.value.data != 0):
        return "a gather that is no embedding lookup (axis or batch_dims other than 0)"
    table_value = const_value(table)
    if table_value is None:
        return "a gather from a table that is not constant"
    dtype = element_type(table.type)
    if np.dtype(numpy_dtype_of_ir_type(dtype)).kind != "f":
        return "a gather from a table that is not floating point"
    if not is_static(ids.type) or not is_static(op.data_results[0].type):
        return False
    vocabulary = table_value.shape[0]
    count = math.prod(tf_shape(ids.type))
    if count * vocabulary > MAX_ONE_HOT_ELEMENTS:
        return (f"embedding lookup too large for a one-hot matmul ({count} ids x {vocabulary} rows "
                f"> {MAX_ONE_HOT_ELEMENTS})")
    width = math.prod(table_value.shape[1:])
    ids_type = element_type(ids.type)
    if ids_type != I32:  # int64 may not enter a cluster; vocabularies fit in int32
        ids = build.op("Cast", "ids_int32", [ids], tensor_type(I32, tf_shape(ids.type)),
                       {"SrcT": ids_type, "DstT": I32, "Truncate": BoolAttr.from_bool(False)})
    # The row count and the result's dim 0 follow the ids' dim 0 (a batch), never baked in.
    column = build.reshape("ids_column", ids, [count, 1], from_count=0)
    rows = build.const("rows", np.arange(vocabulary, dtype=np.int32).reshape(1, vocabulary), I32)
    bool_type = IntegerType(1)
    hits = build.op("Equal", "one_hot_mask", [column, rows], tensor_type(bool_type, [count, vocabulary]),
                    {"T": I32, "incompatible_shape_error": BoolAttr.from_bool(True)})
    one_hot = build.op("Cast", "one_hot", [hits], tensor_type(dtype, [count, vocabulary]),
                       {"SrcT": bool_type, "DstT": dtype, "Truncate": BoolAttr.from_bool(False)})
    matrix = build.const("table", table_value.reshape(vocabulary, width), dtype)
    product = build.op("MatMul", "matmul", [one_hot, matrix], tensor_type(dtype, [count, width]), {
        "T": dtype, "transpose_a": BoolAttr.from_bool(False), "transpose_b": BoolAttr.from_bool(False)})
    result_shape = list(tf_shape(op.data_results[0].type))
    if tf_shape(ids.type):
        result_shape[0] = -1
    shape = build.const("shape", np.array(result_shape, np.int32), I32)
    build.replace_op_type("Reshape", {"T": dtype, "Tshape": I32}, [product, shape])
    return True


LEGALIZATION_PATTERNS: tuple[LegalizationPattern, ...] = (
    RenameOp("StopGradient", "Identity"), RenameOp("AddV2", "Add"), FusedBatchNormV3ToV1(), BatchMatMulV2ToV1(), SelectV2ToSelect(),
    SelectV2BroadcastToSelect(),
    ErfcToErf(), AnyToAll(), EinsumToMatMul(), GatherAtConstantIndicesToSlice(), EmbeddingLookupToOneHotMatMul(),
)


def legalization_patterns(supported_ops: frozenset[str]) -> list[LegalizationPattern]:
    """The rewrites worth trying on a target with these op types."""
    return [p for p in LEGALIZATION_PATTERNS if p.applies_to(supported_ops)]
