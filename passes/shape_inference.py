"""shape-inference: give every tensor in the entry function the static shape TensorFlow would.

Walks the graph in order and computes each op's output shapes with the Python shape functions
of `nir.ir.shape_functions` (plus small constant evaluation, so Shape -> StridedSlice -> Pack
-> Reshape chains resolve). Ops without a Python shape function go to TensorFlow's own C++
shape inference, one single-node graph at a time, so every op gets the shape TF gives it.
Shapes only ever get more precise; a shape that contradicts a known dimension is an error.

Bodies of While/If/Case are specialized to the shapes their op passes in (see
`nir.ir.control_flow`), so the ops inside them get static shapes too.

Along the way each op records which of its results carry the batch on dimension 0
(`nir.batch_axes`, seeded by batch-specialize's marks on the inputs), which dynamic batch needs.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, IntegerAttr, ModuleOp, i64
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass

from nir.ir.attr_names import BATCH_AXES, BATCH_AXIS
from nir.ir.control_flow import (
    CASE_OPS,
    CONTROL_FLOW_OPS,
    IF_OPS,
    WHILE_OPS,
    Specializations,
    body_names,
    data_returns,
    private_functions,
    reference_counts,
    refresh_function_type,
    specialize_branches,
    specialize_while,
)
from nir.ir.dtypes import dtype_of_ir_type, is_ref_type
from nir.ir.module import entry_function
from nir.ir.queries import graph_ops
from nir.ir.shape_functions import SHAPE_FUNCTIONS, VALUE_FUNCTIONS, Shape, ShapeMismatchError
from nir.ir.shapes import element_type, retype, tensor_type, tf_shape
from nir.ir.tf_attrs import PlaceholderAttr
from nir.ir.tf_dialect import ForwardsInput, MetadataOnly, TFNodeOp
from nir.passmanager.registry import register_pass

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

    # Imported here, as TensorFlow is: only an op without a shape function of nir's needs them.
    from frontends.tensorflow.attrs import dims_to_shape_proto
    from frontends.tensorflow.exporter import node_def_of

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


def tensorflow_judges_alone(op: TFNodeOp) -> bool:
    """Whether TensorFlow refusing this op, built alone on placeholders of its operands' types and
    shapes, means it refuses the op: not for a call of a function (the single-op graph has no
    library), an op of a plug-in or a function body's attribute placeholder, or a TF1 ref
    variable's reader."""
    from tensorflow.python.framework import op_def_registry

    if op_def_registry.get(op.tf_type) is None or body_names(op):
        return False
    if any(isinstance(a, PlaceholderAttr) for a in op.attributes.values()):
        return False
    return not any(is_ref_type(element_type(v.type)) for v in op.data_operands)


# Which operand of each TensorList op is an element shape, and which must be a scalar.
_ELEMENT_SHAPE_OPERAND = {"TensorListReserve": 0, "EmptyTensorList": 0, "TensorListFromTensor": 1,
                          "TensorListStack": 1, "TensorListGetItem": 2}
_SCALAR_OPERANDS = {"TensorListReserve": (1,), "EmptyTensorList": (1,), "TensorListGetItem": (1,),
                    "TensorListSetItem": (1,)}


def check_tensor_list_operands(op: TFNodeOp, shapes: list[Shape], values: list[np.ndarray | None]) -> None:
    """What TensorFlow's TensorList shape functions (and its MLIR verifier) refuse: an element
    shape of rank above 1 or a scalar one other than -1 (unknown rank), and an index or count
    that is not a scalar. nir follows element shapes itself (`track_tensor_list`), so these
    ops never reach TensorFlow's own shape functions."""
    index = _ELEMENT_SHAPE_OPERAND.get(op.tf_type)
    if index is not None and index < len(shapes):
        shape, value = shapes[index], values[index]
        if shape is not None and len(shape) > 1:
            raise ShapeConflictError(f"'{op.node_name}' ({op.tf_type}): element_shape must be at most rank 1, not {shape}")
        if shape == () and value is not None and int(np.asarray(value).reshape(-1)[0]) != -1:
            raise ShapeConflictError(f"'{op.node_name}' ({op.tf_type}): a scalar element_shape must be -1 (unknown "
                                     f"rank), not {int(np.asarray(value).reshape(-1)[0])}")
    for position in _SCALAR_OPERANDS.get(op.tf_type, ()):
        if position < len(shapes) and shapes[position] not in (None, ()):
            raise ShapeConflictError(f"'{op.node_name}' ({op.tf_type}): operand {position} must be a scalar, "
                                     f"not of shape {shapes[position]}")


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


TENSOR_LIST_OPS = frozenset({
    "TensorListFromTensor", "TensorListReserve", "EmptyTensorList", "TensorListSetItem",
    "TensorListPushBack", "TensorListGetItem", "TensorListStack",
})


def _shape_value(value) -> Shape:
    """An element_shape operand's value as a shape (-1 for unknown dims), if it is known."""
    if value is None:
        return None
    dims = [int(d) for d in np.asarray(value).reshape(-1)]
    if np.asarray(value).ndim == 0:
        return None if dims[0] == -1 else ()
    return tuple(dims)


def _merged(a: Shape, b: Shape) -> Shape:
    """The more precise of two shapes that may disagree only where one is unknown."""
    if a is None:
        return None if b is None else tuple(b)
    if b is None or len(a) != len(b):
        return tuple(a)
    return tuple(x if x >= 0 else y for x, y in zip(a, b))


# Ops whose results describe a tensor rather than hold its data: never batched.


@dataclass
class _Bodies:
    """What inference needs to specialize control-flow bodies (looked up on first use: most
    graphs have no control flow)."""

    module: ModuleOp
    fallbacks: Counter
    _specializations: Specializations | None = None
    _counts: Counter | None = None

    @property
    def specializations(self) -> Specializations:
        if self._specializations is None:
            self._specializations = Specializations(private_functions(self.module))
        return self._specializations

    @property
    def counts(self) -> Counter:
        if self._counts is None:
            self._counts = reference_counts(self.module)
        return self._counts

    def infer_function(self, fn, batched_args, elements) -> list[Shape]:
        mark_batched_arguments(fn, batched_args)
        inference = _Inference({}, self.fallbacks, {a for a, b in zip(fn.args, batched_args) if b}, self)
        inference.element_shapes.update({a: e for a, e in zip(fn.args, elements) if e is not None})
        for graph_op in graph_ops(fn):
            inference.infer(graph_op)
        return [inference.element_shapes.get(v) for v in data_returns(fn)]

    def specialize(self, op: TFNodeOp, batched: list[bool], elements: list[Shape]):
        if op.tf_type in WHILE_OPS:
            return specialize_while(op, self.specializations, self.counts, batched, elements, self.infer_function)
        if op.tf_type in IF_OPS | CASE_OPS:
            return specialize_branches(op, self.specializations, self.counts, batched, elements,
                                       self.infer_function)
        return None


@dataclass
class _Inference:
    values: dict[SSAValue, np.ndarray]
    fallbacks: Counter
    batched: set[SSAValue]
    bodies: _Bodies | None = None
    # Element shapes of TensorList (variant) values: the IR type of a list says nothing of
    # them, and RNN loops read their steps out of lists.
    element_shapes: dict[SSAValue, Shape] = field(default_factory=dict)

    def track_batch(self, op: TFNodeOp) -> None:
        """A result carries the batch on dim 0 when a batched operand does and the result's
        dim 0 has the same size (elementwise, conv, matmul, reshape keeping dim 0, ...)."""
        if op.has_trait(MetadataOnly):
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
        elif op.tf_type in CONTROL_FLOW_OPS and self.bodies is not None:
            specialized = self.bodies.specialize(
                op, [v in self.batched for v in op.data_operands],
                [self.element_shapes.get(v) for v in op.data_operands],
            )
            if specialized is not None:
                types, elements = specialized
                # The bodies decide: shapes recorded on a loop's outputs at export can be stale
                # (a frozen variable's output still carries its resource handle's scalar shape).
                for result, new_type in zip(list(op.data_results), types):
                    retype(result, tensor_type(element_type(result.type), tf_shape(new_type)))
                self.element_shapes.update(
                    {r: e for r, e in zip(op.data_results, elements) if e is not None}
                )
        if op.tf_type in TENSOR_LIST_OPS:
            check_tensor_list_operands(op, shapes, values)
        if op.tf_type in TENSOR_LIST_OPS or op.has_trait(ForwardsInput):
            new = self.track_tensor_list(op, shapes, values, new)
        if new is None and op.data_results:
            self.fallbacks[op.tf_type] += 1
            try:
                new = tensorflow_shapes(op, shapes, values)
            except Exception as err:  # TensorFlow refuses the op, or cannot build it alone
                # "with input shapes" marks an error of the op's shape function itself, not of
                # building a node alone (a colocation with a node the one-op graph lacks, ...).
                if "with input shapes" in str(err) and tensorflow_judges_alone(op):
                    raise ShapeConflictError(f"'{op.node_name}' ({op.tf_type}): TensorFlow refuses it: "
                                             f"{_first_line(err)}") from None
                logger.debug("TensorFlow shape inference failed for %s: %s", op.node_name, err)
                new = None
        if new is not None:
            self._update(op, new)
        self.track_batch(op)
        value_function = VALUE_FUNCTIONS.get(op.tf_type)
        if value_function is not None and op.data_results:
            try:
                value = value_function(op, values, shapes)
            except (ValueError, IndexError, TypeError):  # a value only the run can have (or refuse)
                value = None
            if value is not None:
                self.values[op.data_results[0]] = value

    def track_tensor_list(self, op: TFNodeOp, shapes, values, new):
        """Follow element shapes through TensorList ops; returns `new` with the shape of an
        element read out of a list made more precise."""
        kind = op.tf_type
        if op.has_trait(ForwardsInput):
            for source, result in zip(op.data_operands, op.data_results):
                self._set_element(result, self.element_shapes.get(source))
        elif kind == "TensorListFromTensor":
            element = _merged(shapes[0][1:] if shapes[0] else None, _shape_value(values[1]))
            self._set_element(op.data_results[0], element)
        elif kind in ("TensorListReserve", "EmptyTensorList"):
            self._set_element(op.data_results[0], _shape_value(values[0]))
        elif kind in ("TensorListSetItem", "TensorListPushBack"):
            item = shapes[-1]
            self._set_element(op.data_results[0], _merged(self.element_shapes.get(op.data_operands[0]), item))
        elif kind == "TensorListGetItem" and op.data_results:
            element = _merged(self.element_shapes.get(op.data_operands[0]), _shape_value(values[2]))
            if element is not None:
                return [element]
        elif kind == "TensorListStack":
            element = _merged(self.element_shapes.get(op.data_operands[0]), _shape_value(values[1]))
            old = tf_shape(op.data_results[0].type)
            if element is not None:
                count = old[0] if old and len(old) == len(element) + 1 else -1
                stated = op.attributes.get("num_elements")  # -1 unless the list's length is known
                if count < 0 and isinstance(stated, IntegerAttr) and stated.value.data >= 0:
                    count = stated.value.data
                return [(count, *element)]
        return new

    def _set_element(self, value: SSAValue, element: Shape) -> None:
        if element is not None:
            self.element_shapes[value] = tuple(element)

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

    name = "tf-shape-inference"
    aliases = ("shape-inference",)  # the name until nir 0.1; dropped in 0.3

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        fallbacks = infer_shapes(op)
        if fallbacks:
            logger.debug("shape-inference used TensorFlow for: %s", dict(fallbacks))


def infer_shapes(module: ModuleOp, when_refused: Callable[[TFNodeOp], list[Shape]] | None = None) -> Counter:
    """Run shape inference on the entry function; returns how often each op type fell back
    to TensorFlow's C++ shape inference. An op whose shapes contradict each other is an error,
    unless `when_refused` gives its result shapes instead (prove-batch-axes, at a batch size
    the model fixed somewhere)."""
    fn = entry_function(module)
    bodies = _Bodies(module, Counter())
    inference = _Inference({}, bodies.fallbacks, batched_arguments(fn), bodies)
    for graph_op in graph_ops(fn):
        try:
            inference.infer(graph_op)
        except (ShapeConflictError, ShapeMismatchError):
            if when_refused is None:
                raise
            inference._update(graph_op, when_refused(graph_op))
            inference.track_batch(graph_op)
    refresh_function_type(fn)  # the returned values are more precise now
    return inference.fallbacks


def mark_batched_arguments(fn, batched_args) -> None:
    """Record on a body's arguments which carry the batch on dim 0, as batch-specialize does
    for the entry function's."""


    if not fn.arg_attrs:
        return
    entries = []
    for attrs, batched in zip(fn.arg_attrs.data, batched_args):
        data = {k: v for k, v in attrs.data.items() if k != BATCH_AXIS}
        if batched:
            data[BATCH_AXIS] = IntegerAttr(0, i64)
        entries.append(DictionaryAttr(data))
    fn.arg_attrs = ArrayAttr(entries)


def batched_arguments(fn) -> set[SSAValue]:
    """Arguments batch-specialize marked as carrying the batch on dim 0."""

    if not fn.arg_attrs:
        return set()
    return {
        arg for arg, attrs in zip(fn.args, fn.arg_attrs.data)
        if isinstance(attrs.data.get(BATCH_AXIS), IntegerAttr) and attrs.data[BATCH_AXIS].value.data == 0
    }

