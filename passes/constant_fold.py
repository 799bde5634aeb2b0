"""constant-fold{max-growth-bytes=1024 dynamic-batch=false}: evaluate, once, everything that
does not depend on the model's inputs, and replace it by constants.

Why before partitioning: a computation on constants alone runs the same at every inference, so
it has no business on the accelerator, and left in place it does harm. Keras graphs are full of
it: batch-norm parameter arithmetic (`Rsqrt(var + eps) * gamma`) would become NeuronOps with no
inputs, and static shape arithmetic (`Shape -> StridedSlice -> Pack`, Tensordot's `GatherV2`
over shape vectors, `Prod`) is made of ops neuron-cc lacks or must not get (int32 tensors
crossing a boundary), so it cuts the data path into pieces.

What is folded:
- `Shape`, `ShapeN`, `Size` and `Rank` of a tensor whose shape shape-inference knows;
- any op whose data inputs are all constants or folded, that has no side effect (TensorFlow's
  OpDef says), no function attribute, is no control-flow or graph-boundary op, and whose
  results have static shapes and numeric dtypes.

Shapes are inferred again afterwards when anything was folded, since a folded shape operand
can make a result static.

Values are computed by TensorFlow's own kernels, all in one `Session.run` over the subgraph
to fold, so results are bit-identical to what the model computed at run time. Only the
tensors that something outside the folded set reads become `Const` ops (keeping the folded
op's node name); the rest become dead and go.

The size limit: a fold never makes more constant bytes than it consumes. An op is folded only
when its results take at most as many bytes as its inputs plus `max-growth-bytes` (1 KiB by
default: room for shape vectors and scalars broadcast to a small tensor, never a weight-sized
`Fill`/`Tile`/`BroadcastTo`). Shape-preserving arithmetic on weights therefore folds and
replaces its input, while an op that would blow a small constant up into a big one stays in
the graph, computing it at run time as before. An input constant that is read elsewhere too
stays alive beside the folded result, so in the worst case (a weight transposed for one reader
and read as is by another) its bytes exist twice; never more.

With `dynamic-batch`, shape ops on tensors that carry the batch are not folded: the compiled
model runs at other batch sizes, so the batch dimension is not a constant there. What is picked
out of such a shape without its batch entry is still a constant (a sequence length
`shape(x)[1]`, the channels `shape(x)[-1]`): the selections are run once with the batch entry
replaced by a sentinel, and a result without the sentinel folds. A Reshape target whose only
batch-dependent entry is the batch itself, at position 0 of a tensor that carries the batch
there, becomes a constant with -1 in that place. Both keep the shape arithmetic of attention
and patch layers out of the graph, where it would cut clusters.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, SSAValue
from xdsl.passes import ModulePass

from nir.ir.control_flow import graph_functions
from nir.ir.dtypes import numpy_dtype_of_ir_type
from nir.ir.op_facts import V1_LOOP_OPS, is_stateful
from nir.ir.queries import carries_batch, depends_on_batch
from nir.ir.shapes import element_type, is_static, tensor_type, tf_shape
from nir.ir.tf_attrs import FuncAttr, TensorAttr
from nir.ir.tf_dialect import MetadataOnly, TFNodeOp, create_tf_op
from nir.ir.tf_types import OpaqueDType
from nir.passmanager.registry import register_pass
from passes.dce import remove_dead_ops
from passes.shape_inference import infer_shapes

logger = logging.getLogger("nir")

# Ops that mean something beyond their value: graph boundaries, TF1 control flow, forwarding
# stand-ins nir gives a role, and ops that only order others.
NEVER_FOLDED = V1_LOOP_OPS | frozenset({
    "Const", "Placeholder", "PlaceholderWithDefault", "IdentityN", "NoOp", "NeuronOp", "ControlTrigger",
})


def _num_bytes(value: SSAValue) -> int:
    ir_type = value.type
    return math.prod(tf_shape(ir_type)) * np.dtype(numpy_dtype_of_ir_type(element_type(ir_type))).itemsize


def _numeric_static(value: SSAValue) -> bool:
    try:
        return is_static(value.type) and not isinstance(element_type(value.type), OpaqueDType)
    except TypeError:
        return False


def _has_function_attr(op: TFNodeOp) -> bool:
    return any(isinstance(v, FuncAttr) for v in op.attributes.values())


def metadata_values(op: TFNodeOp, dynamic_batch: bool) -> list[np.ndarray] | None:
    """The values of Shape/ShapeN/Size/Rank when the shapes they describe are static."""
    inputs = op.data_operands
    if not inputs or not all(is_static(v.type) for v in inputs):
        return None
    if dynamic_batch and any(depends_on_batch(v) for v in inputs):
        return None
    out_type = numpy_dtype_of_ir_type(element_type(op.data_results[0].type))
    shapes = [tf_shape(v.type) for v in inputs]
    if op.tf_type in ("Shape", "ShapeN"):
        return [np.array(s, dtype=out_type) for s in shapes]
    if op.tf_type == "Size":
        return [np.array(math.prod(shapes[0]), dtype=out_type)]
    return [np.array(len(shapes[0]), dtype=out_type)]


@dataclass
class FoldPlan:
    """Which ops fold, and the values known without running anything."""

    folded: list[TFNodeOp]
    constant: set[TFNodeOp]  # Const ops and folded ops
    known: dict[SSAValue, np.ndarray]

    def is_constant(self, value: SSAValue) -> bool:
        return isinstance(value.owner, TFNodeOp) and value.owner in self.constant


def _holds_a_value(const: TFNodeOp) -> bool:
    """A Const whose value the fold can use: no control input, its payload not elided."""
    value = const.attributes.get("value")
    return not const.control_operands and isinstance(value, TensorAttr) and not value.data.is_elided


def plan_folds(block: Block, max_growth_bytes: int, dynamic_batch: bool) -> FoldPlan:
    plan = FoldPlan([], set(), {})
    for op in block.ops:
        if not isinstance(op, TFNodeOp):
            continue
        if op.tf_type == "Const":
            if _holds_a_value(op):
                plan.constant.add(op)
            continue
        if op.has_trait(MetadataOnly) and not op.control_operands:
            values = metadata_values(op, dynamic_batch)
            if values is not None:
                plan.known.update(zip(op.data_results, values))
                plan.folded.append(op)
                plan.constant.add(op)
            continue
        if _can_fold(op, plan, max_growth_bytes):
            plan.folded.append(op)
            plan.constant.add(op)
    return plan


def _can_fold(op: TFNodeOp, plan: FoldPlan, max_growth_bytes: int) -> bool:
    if op.tf_type in NEVER_FOLDED or not op.data_operands or not op.data_results:
        return False
    if not all(plan.is_constant(v) for v in op.operands):  # control inputs too
        return False
    if not all(_numeric_static(v) for v in [*op.data_operands, *op.data_results]):
        return False
    if _has_function_attr(op) or is_stateful(op.tf_type):
        return False
    consumed = sum(_num_bytes(v) for v in op.data_operands)
    produced = sum(_num_bytes(r) for r in op.data_results)
    return produced <= consumed + max_growth_bytes


def materialized_results(plan: FoldPlan) -> list[SSAValue]:
    """Results of folded ops that something outside the folded set reads."""
    needed = []
    for op in plan.folded:
        for result in op.data_results:
            if any(use.operation not in plan.constant for use in result.uses):
                needed.append(result)
    return needed


def why_tensorflow_refused(err: Exception) -> str:
    """The line of a TensorFlow error that says what went wrong, with the node: a Session's
    error starts "Graph execution error:" and gives the kernel's message just above the
    `[[{{node ...}}]]` line, after the Python stack that defined the node."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.lstrip().startswith("[[{{node ") and i > 0:
            node = line.strip()[len("[[{{node "):].split("}}")[0]
            return f"{lines[i - 1].strip()}, at node '{node}'"
    return lines[0].strip() if lines else type(err).__name__


def evaluate(plan: FoldPlan, wanted: list[SSAValue]) -> dict[SSAValue, np.ndarray]:
    """Run the folded subgraph once in TensorFlow and fetch `wanted`."""
    import tensorflow as tf
    from tensorflow.core.framework import graph_pb2

    # Imported here, as TensorFlow is: only a fold that runs TensorFlow needs the exporter.
    from frontends.tensorflow.exporter import drop_dangling_colocation, node_def_of

    to_run = [v for v in wanted if v not in plan.known]
    values = {v: plan.known[v] for v in wanted if v in plan.known}
    if not to_run:
        return values
    graph_def = graph_pb2.GraphDef()
    names: dict[SSAValue, str] = {}
    needed = _ops_needed_for(to_run, plan)
    for op in needed:
        if any(r in plan.known for r in op.data_results):
            for port, result in enumerate(op.data_results):
                const = graph_def.node.add(name=f"{op.node_name}/_folded_{port}", op="Const")
                tensor = tf.make_tensor_proto(plan.known[result])
                const.attr["dtype"].type = tensor.dtype
                const.attr["value"].tensor.CopyFrom(tensor)
                names[result] = f"{const.name}:0"
            continue
        node = node_def_of(op, [names[v] for v in op.data_operands])
        node.ClearField("device")
        graph_def.node.append(node)
        for port, result in enumerate(op.data_results):
            names[result] = f"{op.node_name}:{port}"
    drop_dangling_colocation(graph_def)  # colocations with nodes outside the folded subgraph
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        fetched = session.run([names[v] for v in to_run])
    values.update(zip(to_run, (np.asarray(f) for f in fetched)))
    return values


def _ops_needed_for(values: list[SSAValue], plan: FoldPlan) -> list[TFNodeOp]:
    """The folded and Const ops `values` depend on, in block order."""
    seen: set[TFNodeOp] = set()
    stack = [v.owner for v in values]
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        if any(r in plan.known for r in op.data_results):
            continue
        stack.extend(v.owner for v in op.data_operands)
    block = next(iter(seen)).parent
    return [op for op in block.ops if op in seen]


def replace_with_const(result: SSAValue, value: np.ndarray, names: set[str]) -> None:
    op = result.owner
    wanted = op.node_name if result.index == 0 else f"{op.node_name}/output_{result.index}"
    name, suffix = wanted, 1
    while name in names:
        name, suffix = f"{wanted}_{suffix}", suffix + 1
    names.add(name)
    dtype = element_type(result.type)
    value_type = tensor_type(dtype, value.shape)
    array = value.astype(numpy_dtype_of_ir_type(dtype), copy=False)
    const = create_tf_op("Const", name, [], [value_type], {
        "dtype": dtype, "value": TensorAttr.from_numpy(array, value_type),
    }, device=op.device)
    op.parent.insert_op_before(const, op)
    result.replace_uses_with_if(const.data_results[0], lambda use: use.operation is not op)
    if result.index == 0:
        op.control.replace_all_uses_with(const.control)


# Shape arithmetic run at several batch sizes: ops whose small results follow from their
# inputs' values alone (never an op whose result size a value decides, such as Fill or Range).
SHAPE_ARITHMETIC_OPS = frozenset({
    "StridedSlice", "Slice", "GatherV2", "Gather", "Squeeze", "ExpandDims", "Reshape", "Identity", "Pack",
    "ConcatV2", "Unpack", "ReverseV2", "Prod", "Sum", "Max", "Min", "Mul", "Add", "AddV2", "Sub", "Neg",
    "FloorDiv", "FloorMod", "Maximum", "Minimum", "Cast",
})
_SHAPE_ELEMENTS = 16  # results larger than this are not shape arithmetic
# The batch sizes the shape arithmetic is run at, beside the module's own: primes, so that no
# result agrees at all of them by accident.
OTHER_BATCHES = (7919, 104729)


def shapes_at_batch(op: TFNodeOp, batch: int) -> list[np.ndarray] | None:
    """What Shape/ShapeN gives at batch size `batch`, for static tensors that carry the batch."""
    if op.tf_type not in ("Shape", "ShapeN") or op.control_operands:
        return None
    inputs = op.data_operands
    if not inputs or not all(is_static(v.type) for v in inputs) or not any(carries_batch(v) for v in inputs):
        return None
    out_type = numpy_dtype_of_ir_type(element_type(op.data_results[0].type))
    values = []
    for v in inputs:
        shape = np.array(tf_shape(v.type), dtype=out_type)
        if carries_batch(v):
            shape[0] = batch
        values.append(shape)
    return values


def _is_shape_arithmetic(op: TFNodeOp, plan: FoldPlan) -> bool:
    return (op.tf_type in SHAPE_ARITHMETIC_OPS and not op.control_operands and bool(op.data_operands)
            and all(plan.is_constant(v) for v in op.data_operands)
            and all(_numeric_static(v) for v in [*op.data_operands, *op.data_results])
            and all(math.prod(tf_shape(r.type)) <= _SHAPE_ELEMENTS and len(tf_shape(r.type)) <= 1
                    for r in op.data_results))


def plan_batch_shape_arithmetic(block: Block) -> tuple[FoldPlan, list[TFNodeOp]]:
    """The Shape ops of batch-carrying tensors, and the shape arithmetic that reads only them
    and constants; returns (plan, the Shape ops)."""
    plan = FoldPlan([], set(), {})
    shapes = []
    reads_a_shape: set[SSAValue] = set()
    for op in block.ops:
        if not isinstance(op, TFNodeOp):
            continue
        if op.tf_type == "Const":
            if _holds_a_value(op):
                plan.constant.add(op)
            continue
        if shapes_at_batch(op, 1) is not None:
            shapes.append(op)
            plan.constant.add(op)
            reads_a_shape.update(op.data_results)
        elif _is_shape_arithmetic(op, plan) and any(v in reads_a_shape for v in op.data_operands):
            plan.folded.append(op)
            plan.constant.add(op)
            reads_a_shape.update(op.data_results)
    return plan, shapes


def fold_batch_free_shape_parts(block: Block) -> int:
    """Under dynamic batch: fold the shape arithmetic on batch-carrying shapes whose results
    are the same at every batch size, and turn Reshape targets whose one batch-dependent entry
    TensorFlow can infer into constants with -1 there; returns how many constants were made."""
    plan, shapes = plan_batch_shape_arithmetic(block)
    wanted = materialized_results(plan)
    if not wanted:
        return 0
    batch = _module_batch(shapes)
    runs = []
    try:
        for b in (batch, *OTHER_BATCHES):
            plan.known = {r: v for op in shapes for r, v in zip(op.data_results, shapes_at_batch(op, b))}
            runs.append(evaluate(plan, wanted))
    except Exception as err:  # noqa: BLE001 - as fold_block: an op TensorFlow rejects folds nothing
        logger.warning("constant-fold: TensorFlow could not evaluate shape arithmetic (%s)", why_tensorflow_refused(err))
        return 0
    folds = {}
    for value in wanted:
        folded = _batch_free(value, [run[value] for run in runs], (batch, *OTHER_BATCHES))
        if folded is not None:
            folds[value] = folded
    names = {op.node_name for op in block.ops if isinstance(op, TFNodeOp)}
    for op in {value.owner for value in folds}:
        if all(r in folds for r in op.data_results if r in wanted):  # the op goes: its constant takes its name
            names.discard(op.node_name)
    for value, folded in folds.items():
        replace_with_const(value, folded, names)
    if folds:
        remove_dead_ops(block.parent.parent)
    return len(folds)


def _module_batch(shapes: list[TFNodeOp]) -> int:
    """The batch size the module is specialized to: dim 0 of a batch-carrying tensor."""
    return next(tf_shape(v.type)[0] for op in shapes for v in op.data_operands if carries_batch(v))


def _batch_free(value: SSAValue, values: list[np.ndarray], batches: tuple[int, ...]) -> np.ndarray | None:
    """A constant that `value` equals at every batch size, or None. `values` are its values at
    `batches`. Either it is the same at all, or it is a Reshape target (every reader a Reshape
    reading it as the shape) with one entry that changes: -1 there makes TensorFlow compute
    that entry from the element count, exactly as the graph did."""
    first = values[0]
    changes = np.zeros(first.shape, bool)
    for other in values[1:]:
        changes |= other != first
    if not changes.any():
        return first
    if first.ndim != 1 or changes.sum() != 1 or not value.uses:
        return None
    if not all(isinstance(use.operation, TFNodeOp) and use.operation.tf_type == "Reshape" and use.index == 1
               for use in value.uses):
        return None
    target = first.copy()
    position = int(np.flatnonzero(changes)[0])
    if (np.delete(target, position) == -1).any():
        return _resolved_other_unknown(value, values, batches, position)
    target[position] = -1
    return target


def _resolved_other_unknown(value: SSAValue, values: list[np.ndarray], batches, position: int) -> np.ndarray | None:
    """A target with the batch entry and a -1 (Flatten's [batch, -1]): when the entry is the
    batch times a constant and every reshaped tensor carries the batch, the -1 is static."""
    ratios = {float(v[position]) / b for v, b in zip(values, batches)}
    target = values[0].copy()
    if len(ratios) != 1 or (target == -1).sum() != 1:
        return None
    scale = ratios.pop() * math.prod(int(d) for i, d in enumerate(target) if i != position and d != -1)
    resolved = set()
    for use in value.uses:
        source = use.operation.data_operands[0]
        if not (carries_batch(source) and is_static(source.type)):
            return None
        # elements = batch * per_item = (ratio * batch) * (the other known entries) * unknown
        unknown = math.prod(tf_shape(source.type)[1:]) / scale if scale > 0 else 0
        if unknown <= 0 or unknown != int(unknown):
            return None
        resolved.add(int(unknown))
    if len(resolved) != 1:
        return None
    target[target == -1] = resolved.pop()
    target[position] = -1
    return target


def fold_block(block: Block, max_growth_bytes: int, dynamic_batch: bool) -> int:
    """Fold what can be folded in `block`; returns the number of constants made."""
    made = fold_batch_free_shape_parts(block) if dynamic_batch else 0
    return made + _fold_constants(block, max_growth_bytes, dynamic_batch)


def _fold_constants(block: Block, max_growth_bytes: int, dynamic_batch: bool) -> int:
    plan = plan_folds(block, max_growth_bytes, dynamic_batch)
    wanted = materialized_results(plan)
    if not wanted:
        return 0
    try:
        values = evaluate(plan, wanted)
    except Exception as err:  # an op TensorFlow rejects on these values: fold nothing
        logger.warning("constant-fold: TensorFlow could not evaluate the constant subgraph (%s); "
                       "nothing was folded", why_tensorflow_refused(err))
        return 0
    names = {op.node_name for op in block.ops if isinstance(op, TFNodeOp)}
    # The original node names go to the constants that replace them.
    for op in plan.folded:
        names.discard(op.node_name)
    for value in wanted:
        replace_with_const(value, values[value], names)
    remove_dead_ops(block.parent.parent)
    return len(wanted)


DEFAULT_MAX_GROWTH_BYTES = 1024


@register_pass
@dataclass(frozen=True)
class ConstantFoldPass(ModulePass):
    """Replace everything computed from constants alone (and static shapes) by constants."""

    name = "tf-constant-fold"
    aliases = ("constant-fold",)  # the name until nir 0.1; dropped in 0.3

    max_growth_bytes: int = DEFAULT_MAX_GROWTH_BYTES
    dynamic_batch: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        made = sum(
            fold_block(fn.body.block, self.max_growth_bytes, self.dynamic_batch) for fn in graph_functions(op)
        )
        if made:
            logger.debug("constant-fold: %d constants", made)
            # A folded shape operand (Reshape's, Fill's, ...) can make a result static that
            # shape-inference left unknown: infer again, only when something was folded.
            infer_shapes(op)
