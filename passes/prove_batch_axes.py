"""prove-batch-axes: which tensors of the entry function carry the batch on dimension 0, proved
by inferring the shapes again at a second batch size.

Dynamic batch lets the Neuron runtime run a NeuronOp compiled for batch b on any batch: it cuts
each input marked batch axis 0 into pieces of b along dimension 0, runs each piece, and joins
the outputs marked so. That is right only for a tensor whose dimension 0 is the batch and whose
other dimensions do not depend on it; a tensor marked -1 must not depend on the batch at all, or
each piece's result overwrites the last one's. One shape cannot tell which is which: a [6, b]
transpose looks fixed, and x^T x at batch 4 is [4, 4], which looks batched. So this pass copies
the module, forgets every shape inference found, gives the batch inputs a second batch size and
infers again; for each result of each op:

    dim 0 is b, then the second size, and no other dim moves  ->  0 (batch axis 0)
    the shape does not move                                    ->  -1 (fixed)
    anything else (the batch on another axis, k x b, a shape
    the second inference cannot find)                          ->  -2 (cannot be cut)

and records them on the op (`nir.proven_batch_axes`, beside shape inference's own tracking in
`nir.batch_axes`, which constant-fold's second inference redoes). It runs right after shape
inference, on the model's own ops, before rewrites give some shapes a fixed batch (a Reshape to
[b * 16, 64] inside a cluster is fine: the runtime hands the NeuronOp pieces of its compiled
batch). The NeuronOp's axes then come from these proofs; an op made by a
later rewrite has none, and a cluster that has such a tensor, or one that cannot be cut, at its
boundary runs at its compiled batch only (backends/neuron/neuron_op.py says so in a warning).
The original tensorflow-neuron marks every tensor whose dim 0 TensorFlow leaves unknown, so it
cuts such a cluster anyway.

Loop and branch bodies keep shape inference's tracking: a body is inferred once per shape it is
called with, and is not proved again here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, ModuleOp, UnitAttr, i64
from xdsl.passes import ModulePass

from nir.errors import NirError
from nir.ir.attr_names import BATCH_AXES_PROVED, PROVEN_BATCH_AXES
from nir.ir.control_flow import graph_functions
from nir.ir.module import entry_function
from nir.ir.queries import CANNOT_CUT, carries_batch, graph_ops
from nir.ir.shapes import element_type, retype, tensor_type, tf_shape
from nir.passmanager.registry import register_pass
from passes.shape_inference import ShapeConflictError, batched_arguments, infer_shapes

logger = logging.getLogger("nir")

Shape = tuple[int, ...] | None


def second_batch_size(batch: int) -> int:
    """Another batch size, odd and apart from b, so that a dimension computed from the batch
    (b // 2, b * k, b + 1) moves with it."""
    return 2 * batch + 3


def common_batch(fn) -> int | None:
    """The batch size every batch-carrying input of the entry function has, if they agree."""
    sizes = {tf_shape(arg.type)[0] for arg in batched_arguments(fn) if tf_shape(arg.type)}
    return sizes.pop() if len(sizes) == 1 and min(sizes) > 0 else None


def shapes_at(module: ModuleOp, batch: int) -> list[list[Shape]] | None:
    """The shapes of each entry-function op's results (in op order) with the batch inputs at
    `batch`, inferred from scratch on a copy; None when the copy does not infer at that size.

    An op whose shapes contradict each other at `batch` (a Reshape to a constant [2, 32] that
    tracing wrote for its example's batch of 2) gets the shapes shape inference tracked for it
    at the first batch: dimension 0 moved to `batch` where it found the batch there, unchanged
    elsewhere. That is what the runtime sees (it only ever runs the NeuronOp on pieces of the
    compiled batch), and the inference goes on from there."""
    tracked = {op.node_name: [(tf_shape(r.type), carries_batch(r)) for r in op.data_results]
               for op in graph_ops(entry_function(module))}
    refused = []

    def as_tracked(op) -> list[Shape]:
        refused.append(op)
        return [(batch, *shape[1:]) if carries and shape else shape for shape, carries in tracked[op.node_name]]

    copy = module.clone()
    fn = entry_function(copy)
    for function in graph_functions(copy):  # bodies too: they are specialized again at `batch`
        for op in list(graph_ops(function)):
            for result in op.data_results:
                retype(result, tensor_type(element_type(result.type), None))
    for arg in batched_arguments(fn):
        retype(arg, tensor_type(element_type(arg.type), (batch, *tf_shape(arg.type)[1:])))
    try:
        infer_shapes(copy, as_tracked)
    except (ShapeConflictError, NirError, ValueError) as err:
        logger.info("prove-batch-axes: the model does not infer at batch %d (%s): no tensor is proved "
                    "to carry the batch", batch, err)
        return None
    if refused:
        logger.info("prove-batch-axes: %d op(s) do not infer at batch %d (the first: %s '%s'); their results "
                    "are taken as shape inference tracked them", len(refused), batch, refused[0].tf_type,
                    refused[0].node_name)
    return [[tf_shape(r.type) for r in op.data_results] for op in graph_ops(fn)]


def batch_axis(first: Shape, second: Shape, batch: int, second_batch: int) -> int:
    """0, -1 or CANNOT_CUT for one tensor, from its shapes at the two batch sizes."""
    if first is None or second is None or len(first) != len(second) or any(d < 0 for d in (*first, *second)):
        return CANNOT_CUT
    if first == second:
        return -1
    if first and first[0] == batch and second[0] == second_batch and first[1:] == second[1:]:
        return 0
    return CANNOT_CUT


@register_pass
@dataclass(frozen=True)
class ProveBatchAxesPass(ModulePass):
    """Prove which results of the entry function's ops carry the batch on dimension 0."""

    name = "tf-prove-batch-axes"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        fn = entry_function(op)
        ops = list(graph_ops(fn))
        batch = common_batch(fn)
        second = second_batch_size(batch) if batch is not None else None
        shapes = shapes_at(op, second) if second is not None else None
        for graph_op, at_second in zip(ops, shapes or [None] * len(ops)):
            results = graph_op.data_results
            if not results:
                continue
            if batch is None:  # no input carries a batch: nothing depends on one
                axes = [-1] * len(results)
            elif at_second is None:
                axes = [CANNOT_CUT] * len(results)
            else:
                axes = [batch_axis(tf_shape(r.type), s, batch, second) for r, s in zip(results, at_second)]
            graph_op.properties[PROVEN_BATCH_AXES] = ArrayAttr([IntegerAttr(a, i64) for a in axes])
        op.attributes[BATCH_AXES_PROVED] = UnitAttr()
