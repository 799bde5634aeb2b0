"""A live TF2 function -> one frozen, flat GraphDef plus a signature: the frontend of `nir.trace`.

A SavedModel on disk and a traced function take different roads to the same place, the
`LoadedModel` the importer reads. Here TensorFlow's own freezer (convert_to_constants, which the
original's trace used) inlines the function's calls, keeps functional While/If (their bodies are
what nir clusters in loops), and replaces each captured variable or tensor by a Const; nir gives
it each value's shape only, so the Consts are weightless and name their source, and the importer
reads each value from the live variable when it lowers that Const. The weights are never copied
into a GraphDef: a large model traces as fast as its SavedModel compiles, in the same memory.

Signature keys are the function's argument (placeholder) names, in the function's flat input
order, and, for the flat outputs, the caller's keys or `output_<i>`; the caller maps its nested
structures onto them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from frontends.tensorflow.checkpoint import CHECKPOINT_KEY_ATTR, ShapeOnly
from frontends.tensorflow.importer import SignatureInfo, TensorSpec, split_tensor_name
from frontends.tensorflow.loader import LoadedModel, restore_pruned_inputs, with_shapes
from nir.errors import NirInputError


def output_key(index: int) -> str:
    return f"output_{index}"


def load_concrete_function(concrete, batch_size: int | None = None, output_keys=None) -> LoadedModel:
    """Freeze `concrete` (a tf ConcreteFunction) into the importer's input. With `batch_size`,
    dimension 0 of the inputs that have that size is the batch: the signature leaves it
    unknown, so batch-specialize sets it and marks the input as batch-carrying (which dynamic
    batch needs). `output_keys` name the flat outputs (default `output_<i>`).

    The weights are not copied into the graph: as for a SavedModel, each variable (or captured
    tensor) becomes a Const that only names it, and the importer reads its value from the live
    variable when it lowers that Const, one at a time."""
    import tensorflow as tf

    try:
        graph_def, values = freeze_function_without_weights(concrete)
    except (tf.errors.InvalidArgumentError, ValueError) as err:
        raise NirInputError(
            f"TensorFlow could not turn the variables of {concrete.name} into constants: "
            f"{str(err).splitlines()[0]}; trace the model before saving and reloading it, so "
            "its layers are not wrapped in calls TensorFlow cannot unpack"
        ) from None
    signature = _signature_of(concrete, graph_def, batch_size, output_keys)
    traced = concrete.graph.as_graph_def()
    restore_pruned_inputs(graph_def, traced, signature)
    return LoadedModel(with_shapes(graph_def), signature, len(traced.node), values.read)


class _LiveValues:
    """Const name -> the variable or captured tensor whose value it stands for."""

    def __init__(self) -> None:
        self.sources: dict[str, object] = {}

    def read(self, key: str) -> np.ndarray:
        return np.asarray(self.sources[key].numpy())


def freeze_function_without_weights(concrete):
    """TensorFlow's own freezer (convert_to_constants), with every captured value given as its
    shape only, and functional control flow kept. Returns (graph_def, _LiveValues)."""
    from tensorflow.python.framework import convert_to_constants

    values = _LiveValues()

    class ShapeOnlyCaptures(convert_to_constants._FunctionConverterDataInEager):  # noqa: SLF001
        def _build_tensor_data(self) -> None:
            variables = {id(v.handle): v for v in self._func.graph.variables}
            for index, (outside, inside) in enumerate(self._func.graph.captures):
                name = inside.name.split(":")[0]
                source = variables.get(id(outside), outside)
                if source is outside and outside.dtype.name == "resource":
                    continue  # a resource that is no variable (a lookup table): stays an input
                values.sources[name] = source
                self._tensor_data[name] = convert_to_constants._TensorData(  # noqa: SLF001
                    numpy=ShapeOnly(tuple(source.shape), source.dtype.as_numpy_dtype),
                    dtype=source.dtype.as_datatype_enum, index=index,
                )

    data = ShapeOnlyCaptures(func=concrete, lower_control_flow=False, aggressive_inlining=True)
    graph_def, _ = convert_to_constants._replace_variables_by_constants(converter_data=data)  # noqa: SLF001
    for node in graph_def.node:
        if node.op == "Const" and node.name in values.sources:
            node.attr[CHECKPOINT_KEY_ATTR].s = node.name.encode()
    return graph_def, values


def _signature_of(concrete, graph_def, batch_size: int | None, output_keys) -> SignatureInfo:
    """The function's own inputs (not its captures), by placeholder name, and its outputs."""
    present = {n.name for n in graph_def.node}
    captured = {id(inside) for _, inside in concrete.graph.captures}
    inputs = tuple(
        _batch_unknown(_spec(t.op.name, t), batch_size)
        for t in concrete.inputs if id(t) not in captured
    )
    if not inputs:
        raise NirInputError(
            "the traced function takes no tensor input, so it computes a constant and there is "
            "nothing to compile; pass the tensors it should take as example_inputs"
        )
    keys = list(output_keys) if output_keys is not None else [output_key(i) for i in range(len(concrete.outputs))]
    outputs = tuple(_spec(k, t) for k, t in zip(keys, concrete.outputs))
    missing = [s.tensor_name for s in outputs if split_tensor_name(s.tensor_name)[0] not in present]
    if missing:
        raise NirInputError(f"the frozen function lost its outputs {missing}; please report this model")
    if not outputs:
        raise NirInputError("the traced function returns no tensor; there is nothing to compile")
    return SignatureInfo("serving_default", inputs, outputs)


def _batch_unknown(spec: TensorSpec, batch_size: int | None) -> TensorSpec:
    if batch_size is None or not spec.shape or spec.shape[0] != batch_size:
        return spec
    return replace(spec, shape=(-1, *spec.shape[1:]))


def _spec(key: str, tensor) -> TensorSpec:
    shape = tensor.shape
    dims = None if shape.rank is None else tuple(-1 if d is None else d for d in shape.as_list())
    return TensorSpec(key, tensor.name, tensor.dtype.as_datatype_enum, dims)
