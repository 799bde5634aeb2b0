"""IR queries that passes, backends and reports share: a function's graph ops, the value of a
small constant, whether a tensor carries the batch, and the placement marks legalize leaves."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, StringAttr
from xdsl.ir import BlockArgument, Operation, OpResult, SSAValue

from nir.ir.attr_names import BATCH_AXES, BATCH_AXIS, CPU_REASON, ON_TARGET, PROVEN_BATCH_AXES
from nir.ir.neuron_dialect import ClusterOp, YieldOp
from nir.ir.placement import NOT_PLACED_SENTENCE
from nir.ir.tf_attrs import TensorAttr
from nir.ir.tf_dialect import TFNodeOp

# Properties (not TF attributes, so they never reach a GraphDef) that passes leave on ops.


def graph_ops(fn: func.FuncOp) -> Iterator[TFNodeOp]:
    for op in fn.body.block.ops:
        if isinstance(op, TFNodeOp):
            yield op


def const_value(value: SSAValue, max_elements: int | None = None) -> np.ndarray | None:
    """The numpy value of a tf.Const output (None if it is no Const, was elided, or has more
    than `max_elements` elements)."""
    owner = value.owner
    if isinstance(owner, TFNodeOp) and owner.tf_type == "Const":
        attr = owner.attributes.get("value")
        if isinstance(attr, TensorAttr) and not attr.data.is_elided:
            if max_elements is not None and math.prod(attr.tensor_type.get_shape()) > max_elements:
                return None
            return attr.numpy()
    return None


def carries_batch(value: SSAValue) -> bool:
    """Whether this tensor carries the batch on dimension 0: as prove-batch-axes proved it, or
    else as shape inference tracked it."""
    proven = _proof_for(value)
    if proven is not None:
        return proven == 0
    if isinstance(value, OpResult):
        op = value.op
        if isinstance(op, ClusterOp):
            terminator = op.block.last_op
            return isinstance(terminator, YieldOp) and carries_batch(terminator.values[value.index])
        axes = op.properties.get(BATCH_AXES)
        return isinstance(axes, ArrayAttr) and axes.data[value.index] == IntegerAttr(0, 64)
    if isinstance(value, BlockArgument):
        parent = value.block.parent_op()
        if isinstance(parent, ClusterOp):
            return carries_batch(parent.inputs[value.index])
        if isinstance(parent, func.FuncOp) and parent.arg_attrs:
            axis = parent.arg_attrs.data[value.index].data.get(BATCH_AXIS)
            return isinstance(axis, IntegerAttr) and axis.value.data == 0
    return False


CANNOT_CUT = -2  # prove-batch-axes: the tensor depends on the batch, but not as [batch, ...]


def _proof_for(value: SSAValue) -> int | None:
    """What prove-batch-axes recorded for an op's result (0, -1 or CANNOT_CUT), if anything."""
    if isinstance(value, OpResult) and isinstance(value.op, TFNodeOp):
        axes = value.op.properties.get(PROVEN_BATCH_AXES)
        if isinstance(axes, ArrayAttr) and value.index < len(axes.data):
            return axes.data[value.index].value.data
    return None


def depends_on_batch(value: SSAValue) -> bool:
    """Whether this tensor's shape changes with the batch: on dimension 0 or, as prove-batch-axes
    found, elsewhere (a flattened batch)."""
    proven = _proof_for(value)
    return proven != -1 if proven is not None else carries_batch(value)


def proven_batch_axis(value: SSAValue) -> int | None:
    """What prove-batch-axes found for a tensor of the entry function: 0 (the batch on dim 0)
    or -1 (fixed); None when it found that the tensor cannot be cut along dim 0, or has no
    finding for it (an op a later rewrite made, a body's tensor)."""
    if isinstance(value, OpResult) and isinstance(value.op, ClusterOp):
        terminator = value.op.block.last_op
        return proven_batch_axis(terminator.values[value.index]) if isinstance(terminator, YieldOp) else None
    if isinstance(value, BlockArgument):
        parent = value.block.parent_op()
        if isinstance(parent, ClusterOp):
            return proven_batch_axis(parent.inputs[value.index])
        return 0 if carries_batch(value) else -1  # the entry's inputs: batch-specialize knows
    proven = _proof_for(value)
    if proven is not None:
        return None if proven == CANNOT_CUT else proven
    if isinstance(value, OpResult) and isinstance(value.op, TFNodeOp) and not value.op.data_operands:
        return -1  # a constant a rewrite made: it reads nothing, no batch either
    return None


def set_cpu_reason(op: Operation, reason: str) -> None:
    op.properties.pop(ON_TARGET, None)
    op.properties[CPU_REASON] = StringAttr(reason)


def cpu_reason(op: Operation) -> str | None:
    reason = op.properties.get(CPU_REASON)
    return reason.data if isinstance(reason, StringAttr) else None


def stated_cpu_reason(op: Operation) -> str:
    """The reason an op stays on CPU, as reports state it: what the pass recorded, or that no
    pass placed it."""
    return cpu_reason(op) or NOT_PLACED_SENTENCE


def mark_on_target(op: Operation, target: str) -> None:
    op.properties.pop(CPU_REASON, None)
    op.properties[ON_TARGET] = StringAttr(target)


def is_on_target(op: Operation) -> bool:
    return ON_TARGET in op.properties
