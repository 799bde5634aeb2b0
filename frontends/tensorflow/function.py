"""A live TF2 function -> one frozen, flat GraphDef plus a signature: the frontend of `nir.trace`.

A SavedModel on disk and a traced function take different roads to the same place, the
`LoadedModel` the importer reads: the function's variables become Consts (TensorFlow's own
`convert_variables_to_constants_v2`, as the original's trace does), and its calls are inlined
and its shapes recorded by the same steps `load_saved_model` uses, so the passes see the same
kind of graph whichever entry point was used.

Signature keys are the function's argument (placeholder) names, in the function's flat input
order, and `output_<i>` for the flat outputs; the caller maps its nested structures onto them.
"""

from __future__ import annotations

from dataclasses import replace

from frontends.tensorflow.importer import SignatureInfo, TensorSpec, split_tensor_name
from frontends.tensorflow.loader import (
    LoadedModel,
    inline_function_calls,
    keep_functional_control_flow,
    restore_pruned_inputs,
    with_shapes,
)
from nir.errors import NirInputError


def output_key(index: int) -> str:
    return f"output_{index}"


def load_concrete_function(concrete, batch_size: int | None = None, output_keys=None) -> LoadedModel:
    """Freeze `concrete` (a tf ConcreteFunction) into the importer's input. With `batch_size`,
    dimension 0 of the inputs that have that size is the batch: the signature leaves it
    unknown, so batch-specialize sets it and marks the input as batch-carrying (which dynamic
    batch needs)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    try:
        # Functional While/If stay as they are: their bodies are what nir clusters.
        frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=False, aggressive_inlining=True)
    except (tf.errors.InvalidArgumentError, ValueError) as err:
        raise NirInputError(
            f"TensorFlow could not turn the variables of {concrete.name} into constants: "
            f"{str(err).splitlines()[0]}; trace the model before saving and reloading it, so "
            "its layers are not wrapped in calls TensorFlow cannot unpack"
        ) from None
    graph_def = frozen.graph.as_graph_def()
    signature = _signature_of(frozen, batch_size, output_keys)
    output_nodes = sorted({split_tensor_name(s.tensor_name)[0] for s in signature.outputs})
    keep_functional_control_flow(graph_def)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    inlined = inline_function_calls(graph_def, graph, output_nodes)
    restore_pruned_inputs(inlined, graph_def, signature)
    return LoadedModel(with_shapes(inlined), signature, len(graph_def.node))


def _signature_of(frozen, batch_size: int | None, output_keys) -> SignatureInfo:
    inputs = tuple(_batch_unknown(_spec(t.op.name, t), batch_size) for t in frozen.inputs)
    if not inputs:
        raise NirInputError(
            "the traced function takes no tensor input, so it computes a constant and there is "
            "nothing to compile; pass the tensors it should take as example_inputs"
        )
    keys = list(output_keys) if output_keys is not None else [output_key(i) for i in range(len(frozen.outputs))]
    outputs = tuple(_spec(k, t) for k, t in zip(keys, frozen.outputs))
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
