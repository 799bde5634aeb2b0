"""The compiled signature spliced into a TF2 input's own saved_model.pb.

Keeping a TF2 input's object graph through TensorFlow's loader and saver (object_graph.py)
re-saves every object of the input: on ResNet50 that is 6 s, mostly tracing the save and restore
functions of its variables. The input's saved_model.pb already holds all of that; only its
compiled signature changes. So, when the compiled graph needs nothing but its inputs and
constants (no variables, tables or other resources of its own), it becomes one more function of
the input's library, and three small edits point at it:

- the object graph's entry for the signature (a bare concrete function) names the new
  function, and `concrete_functions` describes its inputs and outputs (no captured objects);
- for TF1 loaders (TF Serving), the graph gets a call of the new function fed by the
  signature's Placeholders, and the SignatureDef's outputs read that call;
- `function_aliases` names the new function `nir_compiled/<key>`, which is how a model nir
  compiled is told apart (object_graph.written_by_nir).

The variables, assets and every other function are the input's, copied unchanged. Weights
the compiled graph leaves on CPU become variables the new function captures, added to the
object graph and the checkpoint (captured_weights.py). A compiled graph with resources of its
own (tables) takes the saver's way (`can_splice`).
"""

from __future__ import annotations

from frontends.tensorflow.attrs import dims_to_shape_proto
from frontends.tensorflow.captured_weights import (
    add_variable_objects,
    checkpoint_object_graph,
    restore_in_graph,
    weights_as_arguments,
    write_checkpoint,
)
from frontends.tensorflow.importer import full_tensor_name
from frontends.tensorflow.loader import meta_graph_with_tags, read_saved_model_proto
from frontends.tensorflow.object_graph import (
    SPLICED_ALIAS_PREFIX,
    copy_with_new_proto,
    rename_functions_in_graph,
    take_payloads,
)
from frontends.tensorflow.variables import movable_constants
from frontends.tensorflow.weights import WEIGHT_ATTR, node_pieces, put_neuron_op_weights_in_place
from frontends.tensorflow.wire import Frame, framed
from nir.errors import NirInputError
from nir.ir.names import unique_name

CALL_NODE_PREFIX = "nir_compiled_call"
FUNCTION_PREFIX = "__inference_nir_compiled"
# Ops that create state a function cannot carry without the object graph knowing it.
_STATEFUL_RESOURCES = frozenset({
    "VarHandleOp", "VariableV2", "HashTableV2", "MutableHashTableV2", "MutableDenseHashTableV2",
    "MutableHashTableOfTensorsV2", "AnonymousHashTable", "AnonymousMutableHashTable",
})


def can_splice(graph_def) -> bool:
    """True when the compiled graph has no resource of its own (a table, a variable): what it
    reads is its inputs, constants, and weights the splice makes captured variables."""
    nodes = [*graph_def.node, *(n for f in graph_def.library.function for n in f.node_def)]
    return not any(n.op in _STATEFUL_RESOURCES for n in nodes)


def leaves_weights_on_cpu(graph_def, variable_min_elements: int | None = None) -> bool:
    return bool(movable_constants(graph_def, min_elements=variable_min_elements))


def splice_compiled_signature(model_dir: str, graph_def, signature, export_dir: str, weights=None,
                              variable_min_elements: int | None = None) -> None:
    """Write to `export_dir` the SavedModel `model_dir` with its `signature.key` signature
    computed by `graph_def` (NeuronOps and all), whose weights left on CPU become captured
    variables. `weights`: the WeightStore `graph_def` refers to. TensorFlow must know every op
    type of `graph_def` (a backend declares its fused op first). Raises CannotCapture, having
    written nothing, when the input's checkpoint cannot take the weights."""
    proto = read_saved_model_proto(model_dir)
    meta_graph = meta_graph_with_tags(proto, tuple(signature.tags))
    object_graph = None
    if leaves_weights_on_cpu(graph_def, variable_min_elements):
        object_graph = checkpoint_object_graph(model_dir, meta_graph)
    moved = weights_as_arguments(graph_def, variable_min_elements) if object_graph is not None else []
    put_neuron_op_weights_in_place(graph_def, weights)
    payloads = take_payloads(graph_def, "NeuronOp")
    taken = {f.signature.name for f in meta_graph.graph_def.library.function}
    renames = {f.signature.name: unique_name(f"nir_{f.signature.name}", taken) for f in graph_def.library.function}
    rename_functions_in_graph(graph_def, renames)
    name = unique_name(f"{FUNCTION_PREFIX}_{_safe(signature.key)}", taken)
    captured = [f"{handle}:0" for handle, *_ in moved]
    functions = [function_def_of(graph_def, signature, name, captured), *graph_def.library.function]
    carrying = [f for f in functions if any(n.name in payloads or WEIGHT_ATTR in n.attr for n in f.node_def)]
    meta_graph.graph_def.library.function.extend(f for f in functions if f not in carrying)
    _point_signature_at(meta_graph, signature, name)
    handles, write_variables = [], None
    if moved:
        ids, keys = add_variable_objects(meta_graph, object_graph, moved)
        meta_graph.object_graph_def.concrete_functions[name].bound_inputs.extend(ids)
        handles = restore_in_graph(meta_graph, moved, keys)

        def write_variables(folder: str) -> None:
            write_checkpoint(model_dir, folder, object_graph, moved, keys, weights)
    _call_from_graph(meta_graph, signature, name, handles)
    meta_graph.meta_info_def.function_aliases[SPLICED_ALIAS_PREFIX + signature.key] = name
    copy_with_new_proto(model_dir, proto, export_dir,
                        pieces=_saved_model_pieces(proto, meta_graph, carrying, payloads, weights),
                        write_variables=write_variables)


def _saved_model_pieces(proto, meta_graph, carrying, payloads, weights=None):
    """saved_model.pb as pieces: `proto`, with the functions `carrying` NeuronOps added to
    `meta_graph`'s library and their payloads framed in place, never serialized whole (a
    cluster's weights are held once: in `payloads`). A second `graph_def` field (and `library`
    in it) merges into the first, as protobuf merges a singular message field met twice."""
    from tensorflow.core.protobuf import saved_model_pb2

    head = saved_model_pb2.SavedModel()
    head.CopyFrom(proto)
    head.ClearField("meta_graphs")
    pieces = [head.SerializeToString(deterministic=True)]
    for each in proto.meta_graphs:
        parts = [each.SerializeToString(deterministic=True)]
        if each is meta_graph and carrying:
            library = Frame(2, [Frame(1, _function_parts(f, payloads, weights)) for f in carrying])
            parts.append(Frame(2, [library]))
        pieces.append(Frame(2, parts))
    for piece in pieces:
        yield from [piece] if isinstance(piece, bytes) else piece.pieces()


def _function_parts(function, payloads, weights=None) -> list:
    """A FunctionDef's bytes with its NeuronOps' payload attributes framed from `payloads`, and
    its constants' weights from the store `weights` (weights.py)."""
    from tensorflow.core.framework import function_pb2

    light = function_pb2.FunctionDef()
    light.CopyFrom(function)
    del light.node_def[:]
    light.node_def.extend(n for n in function.node_def if n.name not in payloads and WEIGHT_ATTR not in n.attr)
    parts = [light.SerializeToString(deterministic=True)]
    for node in function.node_def:
        if WEIGHT_ATTR in node.attr:
            parts.append(Frame(3, node_pieces(node, weights)))
        if node.name in payloads:
            bare = type(node)()
            bare.CopyFrom(node)
            for attr in payloads[node.name]:
                del bare.attr[attr]
            entries = [Frame(5, [framed(1, attr.encode()), Frame(2, [Frame(2, [value])])])
                       for attr, value in sorted(payloads[node.name].items())]
            parts.append(Frame(3, [bare.SerializeToString(deterministic=True), *entries]))
    return parts


def function_def_of(graph_def, signature, name: str, captured: list[str] = ()):
    """The FunctionDef computing `signature`'s outputs (in order) from its inputs (in order),
    then the `captured` tensors (variable handles) as further arguments."""
    import tensorflow as tf
    from tensorflow.python.framework import graph_to_function_def

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    inputs = [graph.get_tensor_by_name(full_tensor_name(s.tensor_name)) for s in signature.inputs]
    inputs += [graph.get_tensor_by_name(t) for t in captured]
    outputs = [graph.get_tensor_by_name(full_tensor_name(s.tensor_name)) for s in signature.outputs]
    function = graph_to_function_def.graph_to_function_def(
        graph, _ops_between(inputs, outputs), inputs, outputs,
        out_names=_argument_names([s.key for s in signature.outputs]))
    function.signature.name = name
    _name_arguments(function, _argument_names([s.key for s in signature.inputs]
                                              + [f"captured_{i}" for i in range(len(captured))]))
    return function


def _argument_names(keys: list[str]) -> list[str]:
    """Argument names for the keys: an OpDef argument is `[a-z][a-z0-9_]*`; the loaders show
    the keys themselves (argument_keywords, the SignatureDef), so this only has to be valid."""
    taken: set[str] = set()
    names = []
    for index, key in enumerate(keys):
        name = "".join(c if c.isalnum() else "_" for c in key.lower())
        if not name or not name[0].isalpha() or not name.isascii():
            name = f"arg{index}_{name}" if name.isascii() else f"arg{index}"
        names.append(unique_name(name, taken))
    return names


def _name_arguments(function, names: list[str]) -> None:
    """graph_to_function_def names each argument after its tensor and the body reads it by
    that name; both take `names`."""
    renames = {}
    for arg, name in zip(function.signature.input_arg, names):
        renames[arg.name] = name
        arg.name = name
    for node in function.node_def:
        inputs = [renames.get(i, i) for i in node.input]
        del node.input[:]
        node.input.extend(inputs)
    for key, value in list(function.ret.items()):
        function.ret[key] = renames.get(value, value)


def _ops_between(inputs, outputs) -> list:
    """The ops `outputs` need (data and control), not looking past `inputs`."""
    stop = {t.ref() for t in inputs}
    seen, order, stack = set(), [], [t.op for t in outputs]
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        order.append(op)
        stack.extend(t.op for t in op.inputs if t.ref() not in stop)
        stack.extend(op.control_inputs)
    return order


def _point_signature_at(meta_graph, signature, name: str) -> None:
    """The object graph's entry for the signature now names the new function."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_object_graph_pb2
    from tensorflow.python.saved_model import nested_structure_coder

    objects = meta_graph.object_graph_def
    entry = _signature_entry(objects, signature.key)
    entry.bare_concrete_function.concrete_function_name = name
    del entry.bare_concrete_function.argument_keywords[:]
    entry.bare_concrete_function.argument_keywords.extend(s.key for s in signature.inputs)

    def spec(s):
        shape = None if s.shape is None else [None if d < 0 else d for d in s.shape]
        return tf.TensorSpec(shape, tf.dtypes.as_dtype(s.dtype), name=s.key)

    described = saved_object_graph_pb2.SavedConcreteFunction()
    described.canonicalized_input_signature.CopyFrom(
        nested_structure_coder.encode_structure(((), {s.key: spec(s) for s in signature.inputs})))
    described.output_signature.CopyFrom(
        nested_structure_coder.encode_structure({s.key: spec(s) for s in signature.outputs}))
    objects.concrete_functions[name].CopyFrom(described)


def _signature_entry(objects, key: str):
    root = objects.nodes[0]
    maps = [c.node_id for c in root.children if c.local_name == "signatures"]
    for map_id in maps:
        for child in objects.nodes[map_id].children:
            node = objects.nodes[child.node_id]
            if child.local_name == key and node.WhichOneof("kind") == "bare_concrete_function":
                return node
    raise NirInputError(f"the object graph has no signature '{key}' to replace; re-export the model")


def _call_from_graph(meta_graph, signature, name: str, handles: list[str] = ()) -> None:
    """TF1 loaders read the SignatureDef: it now reads a call of the new function, fed by the
    signature's own Placeholders and the `handles` of the variables it captures."""
    from tensorflow.core.framework import attr_value_pb2


    graph_def = meta_graph.graph_def
    definition = meta_graph.signature_def[signature.key]
    taken = {n.name for n in graph_def.node}
    call = graph_def.node.add(name=unique_name(f"{CALL_NODE_PREFIX}_{_safe(signature.key)}", taken),
                              op="StatefulPartitionedCall")
    for spec in signature.inputs:
        if spec.key not in definition.inputs:
            raise NirInputError(f"signature '{signature.key}' of the input has no input '{spec.key}'")
        call.input.append(definition.inputs[spec.key].name)
        definition.inputs[spec.key].tensor_shape.CopyFrom(dims_to_shape_proto(spec.shape))
    call.input.extend(handles)
    call.attr["Tin"].list.type.extend([*(s.dtype for s in signature.inputs), *([20] * len(handles))])  # DT_RESOURCE
    call.attr["Tout"].list.type.extend(s.dtype for s in signature.outputs)
    call.attr["f"].func.name = name
    for attr in ("config", "config_proto", "executor_type"):
        call.attr[attr].CopyFrom(attr_value_pb2.AttrValue(s=b""))
    definition.ClearField("outputs")
    for index, spec in enumerate(signature.outputs):
        output = definition.outputs[spec.key]
        output.name = f"{call.name}:{index}"
        output.dtype = spec.dtype
        output.tensor_shape.CopyFrom(dims_to_shape_proto(spec.shape))


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in text)
