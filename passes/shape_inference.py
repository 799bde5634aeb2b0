"""shape-inference: give every tensor in the entry function the static shape TensorFlow would.

Walks the graph in order and computes each op's output shapes with the Python shape functions
of `passes.shape_functions` (plus small constant evaluation, so Shape -> StridedSlice -> Pack
-> Reshape chains resolve). Ops without a Python shape function go to TensorFlow's own C++
shape inference, one single-node graph at a time, so every op gets the shape TF gives it.
Shapes only ever get more precise; a shape that contradicts a known dimension is an error.

Along the way each op records which of its results carry the batch on dimension 0
(`nir.batch_axes`, seeded by batch-specialize's marks on the inputs), which dynamic batch needs.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, ModuleOp, i64
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass

from nir.ir.shapes import element_type, retype, tensor_type, tf_shape
from nir.ir.tf_dialect import TFNodeOp
from nir.passmanager.registry import register_pass
from passes._util import entry_function, graph_ops
from passes.shape_functions import SHAPE_FUNCTIONS, VALUE_FUNCTIONS, Shape

logger = logging.getLogger("nir")


class ShapeConflictError(ValueError):
    pass


def merge_shapes(old: Shape, new: Shape, where: str) -> Shape:
    """The more precise of two shapes; an error if they disagree on a known dimension."""
    if new is None:
        return old
    if old is None:
        return tuple(new)
    if len(old) != len(new):
        raise ShapeConflictError(f"{where}: rank {len(new)} inferred, but the IR says {old}")
    merged = []
    for a, b in zip(old, new):
        if a >= 0 and b >= 0 and a != b:
            raise ShapeConflictError(f"{where}: shape {tuple(new)} inferred, but the IR says {old}")
        merged.append(a if a >= 0 else b)
    return tuple(merged)


def tensorflow_shapes(op: TFNodeOp, shapes: list[Shape], values: list[np.ndarray | None]) -> list[Shape]:
    """Output shapes from TensorFlow's C++ shape function for this single op."""
    import tensorflow as tf
    from tensorflow.core.framework import graph_pb2

    from frontends.tensorflow.attrs import dims_to_shape_proto
    from frontends.tensorflow.exporter import node_def_of
    from nir.ir.dtypes import dtype_of_ir_type

    graph_def = graph_pb2.GraphDef()
    inputs = []
    for index, (value, shape, known) in enumerate(zip(op.data_operands, shapes, values)):
        name = f"input_{index}"
        node = graph_def.node.add(name=name)
        dtype = dtype_of_ir_type(element_type(value.type))
        if known is not None:
            node.op = "Const"
            node.attr["dtype"].type = dtype
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(known, dtype=tf.dtypes.as_dtype(dtype)))
        else:
            node.op = "Placeholder"
            node.attr["dtype"].type = dtype
            node.attr["shape"].shape.CopyFrom(dims_to_shape_proto(shape))
        inputs.append(name)
    graph_def.node.append(node_def_of(op, inputs))
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    outputs = graph.get_operation_by_name(op.node_name).outputs
    return [None if t.shape.rank is None else tuple(-1 if d is None else d for d in t.shape.as_list()) for t in outputs]


BATCH_AXES = "nir.batch_axes"
# Ops whose results describe a tensor rather than hold its data: never batched.
_METADATA_OPS = frozenset({"Shape", "ShapeN", "Size", "Rank"})


@dataclass
class _Inference:
    values: dict[SSAValue, np.ndarray]
    fallbacks: Counter
    batched: set[SSAValue]

    def track_batch(self, op: TFNodeOp) -> None:
        """A result carries the batch on dim 0 when a batched operand does and the result's
        dim 0 has the same size (elementwise, conv, matmul, reshape keeping dim 0, ...)."""
        if op.tf_type in _METADATA_OPS:
            return
        sizes = {tf_shape(v.type)[0] for v in op.data_operands if v in self.batched and tf_shape(v.type)}
        axes = []
        for result in op.data_results:
            shape = tf_shape(result.type)
            carries = bool(shape) and shape[0] in sizes
            if carries:
                self.batched.add(result)
            axes.append(IntegerAttr(0 if carries else -1, i64))
        if any(a.value.data == 0 for a in axes):
            op.properties[BATCH_AXES] = ArrayAttr(axes)
        else:
            op.properties.pop(BATCH_AXES, None)

    def known(self, value: SSAValue) -> np.ndarray | None:
        return self.values.get(value)

    def infer(self, op: TFNodeOp) -> None:
        shapes = [tf_shape(v.type) for v in op.data_operands]
        values = [self.known(v) for v in op.data_operands]
        new = None
        shape_function = SHAPE_FUNCTIONS.get(op.tf_type)
        if shape_function is not None:
            new = shape_function(op, shapes, values)
        if new is None and op.data_results:
            self.fallbacks[op.tf_type] += 1
            try:
                new = tensorflow_shapes(op, shapes, values)
            except Exception as err:  # TF rejects ops it cannot build alone (e.g. functions)
                logger.debug("TensorFlow shape inference failed for %s: %s", op.node_name, err)
                new = None
        if new is not None:
            self._update(op, new)
        self.track_batch(op)
        value_function = VALUE_FUNCTIONS.get(op.tf_type)
        if value_function is not None and op.data_results:
            value = value_function(op, values, shapes)
            if value is not None:
                self.values[op.data_results[0]] = value

    def _update(self, op: TFNodeOp, new: list[Shape]) -> None:
        for result, shape in zip(op.data_results, new):
            old = tf_shape(result.type)
            merged = merge_shapes(old, shape, f"'{op.node_name}' ({op.tf_type})")
            if merged != old:
                retype(result, tensor_type(element_type(result.type), merged))


@register_pass
@dataclass(frozen=True)
class ShapeInferencePass(ModulePass):
    """Infer static shapes for every tensor (Python shape functions, TensorFlow as fallback)."""

    name = "shape-inference"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        fallbacks = infer_shapes(op)
        if fallbacks:
            logger.debug("shape-inference used TensorFlow for: %s", dict(fallbacks))


def infer_shapes(module: ModuleOp) -> Counter:
    """Run shape inference on the entry function; returns how often each op type fell back
    to TensorFlow's C++ shape inference."""
    fn = entry_function(module)
    inference = _Inference({}, Counter(), batched_arguments(fn))
    for graph_op in graph_ops(fn):
        inference.infer(graph_op)
    _refresh_signature(fn)
    return inference.fallbacks


def batched_arguments(fn) -> set[SSAValue]:
    """Arguments batch-specialize marked as carrying the batch on dim 0."""
    from passes.batch_specialize import BATCH_AXIS

    if not fn.arg_attrs:
        return set()
    return {
        arg for arg, attrs in zip(fn.args, fn.arg_attrs.data)
        if isinstance(attrs.data.get(BATCH_AXIS), IntegerAttr) and attrs.data[BATCH_AXIS].value.data == 0
    }


def _refresh_signature(fn) -> None:
    """Keep the function type in step with the (now more precise) returned values."""
    from xdsl.dialects.builtin import FunctionType

    ret = fn.body.block.last_op
    fn.function_type = FunctionType.from_lists(
        [a.type for a in fn.args], [v.type for v in ret.operands]
    )
