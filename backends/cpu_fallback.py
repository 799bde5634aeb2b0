"""Run a graph that holds NeuronOps on a machine without the Neuron runtime: each NeuronOp
becomes a call of a TensorFlow function made from its embedded graph (the CPU fallback).

Stock TensorFlow has no NeuronOp kernel, so a compiled graph cannot run as it is. Inlining the
embedded graphs (`inline_neuron_op_nodes`) would run it, but loses where the clusters are; a
call per NeuronOp keeps one function per cluster, so the model still runs cluster by cluster,
as it will on the accelerator.

A NeuronOp whose inputs and outputs all carry the batch on dimension 0 (batch axis 0) takes
any batch size, as the Neuron runtime does: the batch is cut into pieces of the compiled size,
the last one padded, each piece runs the compiled-shape graph, and the results are joined and
trimmed. Any other NeuronOp takes exactly its compiled shapes.
"""

from __future__ import annotations

import itertools

from backends.neuron.neuron_op import NEURON_OP
from backends.neuron.nhwc import nchw_ops_to_nhwc
from frontends.tensorflow.importer import split_tensor_name

_CALL = "PartitionedCall"
_GENERATION = itertools.count()


def cpu_function(graph_def, input_names: list[str], output_names: list[str], relaxed_inputs=()):
    """A tf ConcreteFunction that runs `graph_def` (NeuronOps included) from the tensors
    `input_names` to `output_names`. `relaxed_inputs` names the Placeholders whose dimension 0
    is left unknown (the inputs of a dynamic-batch model)."""
    from tensorflow.core.framework import graph_pb2
    from tensorflow.python.eager import wrap_function

    runnable = graph_pb2.GraphDef()
    runnable.CopyFrom(graph_def)
    _rename_functions_apart(runnable)
    known = {f.signature.name for f in runnable.library.function}
    for node in runnable.node:
        if node.op == NEURON_OP:
            _replace_with_call(node, runnable.library, known)
    for fdef in list(runnable.library.function):  # the loop adds the clusters' functions
        _replace_in_function_body(fdef, runnable.library, known)
    relax_batch(runnable, set(relaxed_inputs))
    return wrap_function.function_from_graph_def(runnable, input_names, output_names)


def _rename_functions_apart(graph_def) -> None:
    """Give the library's functions names of their own: TensorFlow keeps one function per name
    per process, and the function the model was traced from may still hold the original body
    under the same name (nir's passes changed it)."""
    suffix = f"_nir{next(_GENERATION)}"
    names = {f.signature.name: f.signature.name + suffix for f in graph_def.library.function}
    if not names:
        return
    for fdef in graph_def.library.function:
        fdef.signature.name = names[fdef.signature.name]
        _rename_in_nodes(fdef.node_def, names)
    _rename_in_nodes(graph_def.node, names)


def _rename_in_nodes(nodes, names: dict[str, str]) -> None:
    for node in nodes:
        if node.op in names:  # a call of a library function by its name
            node.op = names[node.op]
        for value in node.attr.values():
            _rename_in_attr(value, names)


def _rename_in_attr(value, names: dict[str, str]) -> None:
    if value.HasField("func"):
        value.func.name = names.get(value.func.name, value.func.name)
        for inner in value.func.attr.values():
            _rename_in_attr(inner, names)
    elif value.HasField("list"):
        for func in value.list.func:
            func.name = names.get(func.name, func.name)


def _replace_with_call(node, library, known: set[str]) -> None:
    function = cluster_function(node)
    _add_to_library(function, library, known)
    input_dtypes = list(node.attr["input_dtypes"].list.type)
    output_dtypes = list(node.attr["output_dtypes"].list.type)
    node.op = _CALL
    node.attr.clear()
    node.attr["Tin"].list.type.extend(input_dtypes)
    node.attr["Tout"].list.type.extend(output_dtypes)
    node.attr["f"].func.name = function.name


def _replace_in_function_body(fdef, library, known: set[str]) -> None:
    """A FunctionDef names a NeuronOp's outputs `node:output_tensors:i`; a call's are `node:output:i`."""
    renamed = set()
    for node in fdef.node_def:
        if node.op == NEURON_OP:
            renamed.add(node.name)
            _replace_with_call(node, library, known)
    if not renamed:
        return

    def rename(tensor: str) -> str:
        node, _, rest = tensor.partition(":output_tensors:")
        return f"{node}:output:{rest}" if rest and node in renamed else tensor

    for node in fdef.node_def:
        inputs = [rename(i) for i in node.input]
        del node.input[:]
        node.input.extend(inputs)
    for key, value in list(fdef.ret.items()):
        fdef.ret[key] = rename(value)


def _add_to_library(function, library, known: set[str]) -> None:
    for fdef in (*function.graph.as_graph_def().library.function, function.function_def):
        if fdef.signature.name not in known:
            library.function.add().CopyFrom(fdef)
            known.add(fdef.signature.name)


def relax_batch(graph_def, names: set[str]) -> None:
    """The Placeholders `names` take any size in dimension 0."""
    for node in graph_def.node:
        if node.name in names and node.op == "Placeholder" and node.attr["shape"].shape.dim:
            node.attr["shape"].shape.dim[0].size = -1


def is_dynamic_batch(node) -> bool:
    axes = [*node.attr["input_batch_axis"].list.i, *node.attr["output_batch_axis"].list.i]
    return bool(axes) and all(axis == 0 for axis in axes)


def cluster_function(node):
    """The NeuronOp `node` as a tf ConcreteFunction of its inputs, in order."""
    import tensorflow as tf
    from tensorflow.core.framework import graph_pb2

    body = graph_pb2.GraphDef.FromString(node.attr["graph_def"].s)
    nchw_ops_to_nhwc(body)  # what Neuron runs in NCHW, the CPU may refuse to
    inputs = [name.decode() for name in node.attr["input_names"].list.s]
    outputs = [name.decode() for name in node.attr["output_names"].list.s]
    in_shapes = [tf.TensorShape(s) for s in node.attr["input_shapes"].list.shape]
    in_dtypes = [tf.as_dtype(t) for t in node.attr["input_dtypes"].list.type]
    out_specs = [
        tf.TensorSpec(tf.TensorShape(s), tf.as_dtype(t))
        for s, t in zip(node.attr["output_shapes"].list.shape, node.attr["output_dtypes"].list.type)
    ]

    def run(*tensors):
        return tf.graph_util.import_graph_def(
            body, input_map=dict(zip(inputs, tensors)), return_elements=outputs, name="cluster"
        )

    if is_dynamic_batch(node) and all(s.rank and s[0] is not None for s in in_shapes):
        specs = [tf.TensorSpec([None, *s[1:]], d) for s, d in zip(in_shapes, in_dtypes)]
        fn = _in_compiled_size_pieces(run, int(in_shapes[0][0]), out_specs)
    else:
        specs = [tf.TensorSpec(s, d) for s, d in zip(in_shapes, in_dtypes)]
        fn = run
    name = split_tensor_name(node.name)[0].replace("/", "_")
    return _concrete(fn, specs, name)


def _concrete(fn, specs, name: str):
    import tensorflow as tf

    fn.__name__ = f"nir_cpu_{name}"
    return tf.function(fn, input_signature=specs, autograph=False).get_concrete_function()


def _in_compiled_size_pieces(run, batch: int, out_specs):
    """What the Neuron runtime does with a batch that is not the compiled one: pieces of the
    compiled size, the last padded, run one after the other, joined and trimmed."""
    import tensorflow as tf

    def pieces(*tensors):
        n = tf.shape(tensors[0])[0]
        count = (n + batch - 1) // batch
        padding = count * batch - n

        def cut(t):
            pads = tf.concat([[[0, padding]], tf.zeros([tf.rank(t) - 1, 2], tf.int32)], 0)
            return tf.reshape(tf.pad(t, pads), tf.concat([[count, batch], tf.shape(t)[1:]], 0))

        results = tf.map_fn(
            lambda piece: tuple(run(*piece)), tuple(cut(t) for t in tensors),
            fn_output_signature=tuple(out_specs),
        )
        return [
            tf.reshape(r, tf.concat([[count * batch], tf.shape(r)[2:]], 0))[:n] for r in results
        ]

    return pieces
