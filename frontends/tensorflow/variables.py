"""The output SavedModel's weights as variables in its checkpoint, as a SavedModel normally
holds them, instead of constants in saved_model.pb.

A frozen graph puts every weight into saved_model.pb, which protobuf cannot make larger than
2 GiB, and which must be serialized whole in memory. Here every large constant of the CPU part
becomes a resource variable (VarHandleOp, read by a ReadVariableOp under the constant's own
name, so every consumer and control edge stays as it was), its value goes to
`variables/variables.*`, and the graph gets the restore op TensorFlow's loaders run (a TF1
saver: RestoreV2 feeding one AssignVariableOp per variable). Stock TensorFlow loads the result
with `tf.saved_model.load` or the v1 loader.

The checkpoint is written by TensorFlow's own SaveV2 kernel, a bounded batch of variables at a
time, and the batches merged with MergeV2Checkpoints, so writing never holds more than one
batch of weights beyond the graph.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

VARIABLE_MIN_BYTES = 1024  # smaller constants (shapes, axes, scalars) stay in the graph
SAVE_BATCH_BYTES = 64 << 20
SAVER_SCOPE = "nir_saver"  # a scope no model of nir's input has: its savers are dropped by freezing


def movable_constants(graph_def, min_bytes: int = VARIABLE_MIN_BYTES, keep_conv_operands: bool = True) -> list:
    """The Const nodes of the graph (not of its functions) worth a variable: numeric, stored
    as raw bytes, at least `min_bytes` of them, and read neither by a Conv2D nor a BiasAdd.

    Convolution filters and biases stay constants because TensorFlow's Grappler (2.21) fuses a
    grouped Conv2D with a BiasAdd whose operands it cannot see as constants into a kernel that
    refuses grouped convolutions ("Fused conv implementation does not support grouped
    convolutions"); frozen operands keep Grappler from that fusion. They are a small share of
    a model's weights."""
    from tensorflow.core.framework import types_pb2

    filters = {
        i.split(":")[0] for n in graph_def.node if keep_conv_operands and n.op in ("Conv2D", "BiasAdd") for i in n.input
    }
    return [
        node for node in graph_def.node
        if node.op == "Const"
        and node.name not in filters
        and node.attr["dtype"].type not in (types_pb2.DT_STRING, types_pb2.DT_RESOURCE, types_pb2.DT_VARIANT)
        and len(node.attr["value"].tensor.tensor_content) >= min_bytes
    ]


def constants_to_variables(graph_def, min_bytes: int = VARIABLE_MIN_BYTES) -> list[tuple[str, object]]:
    """Turn the large Consts of `graph_def` into variables, in place. Returns (checkpoint key,
    TensorProto of the value) per variable, in graph order; the graph keeps none of the bytes."""
    from tensorflow.core.framework import tensor_pb2

    moved = []
    for node in movable_constants(graph_def, min_bytes):
        value = tensor_pb2.TensorProto()
        value.CopyFrom(node.attr["value"].tensor)
        dtype = node.attr["dtype"].type
        handle = graph_def.node.add()
        handle.name = f"{node.name}/nir_variable"
        handle.op = "VarHandleOp"
        handle.device = node.device
        handle.attr["dtype"].type = dtype
        handle.attr["shape"].shape.CopyFrom(value.tensor_shape)
        handle.attr["shared_name"].s = handle.name.encode()
        handle.attr["container"].s = b""
        device = node.device
        node.Clear()  # frees the bytes: the value lives on in `value` only
        node.name, node.op, node.device = handle.name[: -len("/nir_variable")], "ReadVariableOp", device
        node.input.append(handle.name)
        node.attr["dtype"].type = dtype
        moved.append((handle.name, value))
    return moved


def neuron_op_weights_to_checkpoint(graph_def, min_bytes: int = VARIABLE_MIN_BYTES) -> list[tuple[str, object]]:
    """Move the large constants of every NeuronOp's embedded GraphDef into the checkpoint, in
    place, under `<NeuronOp name>/<Const name>`; each Const keeps its shape and names its key
    (`_nir_checkpoint_key`). Only for a model whose NeuronOps together pass protobuf's limit:
    the NeuronOp runs its NEFF, and `inline_neuron_ops` reads the constants back."""
    from tensorflow.core.framework import graph_pb2, tensor_pb2

    from frontends.tensorflow.checkpoint import CHECKPOINT_KEY_ATTR

    moved = []
    for node in graph_def.node:
        if node.op != "NeuronOp":
            continue
        inner = graph_pb2.GraphDef.FromString(node.attr["graph_def"].s)
        node.attr["graph_def"].s = b""
        for const in movable_constants(inner, min_bytes, keep_conv_operands=False):
            value = tensor_pb2.TensorProto()
            value.CopyFrom(const.attr["value"].tensor)
            const.attr["value"].tensor.ClearField("tensor_content")
            const.attr[CHECKPOINT_KEY_ATTR].s = f"{node.name}/{const.name}".encode()
            moved.append((f"{node.name}/{const.name}", value))
        node.attr["graph_def"].s = inner.SerializeToString(deterministic=True)
    return moved


def add_saver(graph_def, moved: list[tuple[str, object]], meta_graph) -> None:
    """Add the save and restore ops of the variables to `graph_def`, and the saver_def that
    names them to `meta_graph`."""
    from tensorflow.core.protobuf import saver_pb2

    def node(name: str, op: str, inputs=(), **attrs):
        n = graph_def.node.add()
        n.name, n.op = f"{SAVER_SCOPE}/{name}", op
        n.input.extend(inputs)
        for key, setter in attrs.items():
            setter(n.attr[key])
        return n

    def string_tensor(values: list[bytes], shape: list[int]):
        def set_value(attr):
            attr.tensor.dtype = 7  # DT_STRING
            for d in shape:
                attr.tensor.tensor_shape.dim.add().size = d
            attr.tensor.string_val.extend(values)
        return set_value

    def dtype(value: int):
        return lambda attr: setattr(attr, "type", value)

    def dtypes(values: list[int]):
        return lambda attr: attr.list.type.extend(values)

    names = [name.encode() for name, _ in moved]
    types = [value.dtype for _, value in moved]
    node("filename", "Const", value=string_tensor([b"model"], []), dtype=dtype(7))
    node("tensor_names", "Const", value=string_tensor(names, [len(names)]), dtype=dtype(7))
    node("shape_and_slices", "Const", value=string_tensor([b""] * len(names), [len(names)]), dtype=dtype(7))
    restore = node("RestoreV2", "RestoreV2", [f"{SAVER_SCOPE}/filename", f"{SAVER_SCOPE}/tensor_names",
                                               f"{SAVER_SCOPE}/shape_and_slices"], dtypes=dtypes(types))
    assigns = []
    for index, (name, value) in enumerate(moved):
        assign = node(f"assign_{index}", "AssignVariableOp", [name, f"{restore.name}:{index}"], dtype=dtype(value.dtype))
        assigns.append("^" + assign.name)
    node("restore_all", "NoOp", assigns)
    reads = []
    for index, (name, value) in enumerate(moved):
        read = node(f"read_{index}", "ReadVariableOp", [name], dtype=dtype(value.dtype))
        reads.append(read.name)
    save = node("SaveV2", "SaveV2", [f"{SAVER_SCOPE}/filename", f"{SAVER_SCOPE}/tensor_names",
                                     f"{SAVER_SCOPE}/shape_and_slices", *reads], dtypes=dtypes(types))
    node("control_dependency", "Identity", [f"{SAVER_SCOPE}/filename", "^" + save.name], T=dtype(7))
    saver = meta_graph.saver_def
    saver.filename_tensor_name = f"{SAVER_SCOPE}/filename:0"
    saver.save_tensor_name = f"{SAVER_SCOPE}/control_dependency:0"
    saver.restore_op_name = f"{SAVER_SCOPE}/restore_all"
    saver.max_to_keep = 5
    saver.keep_checkpoint_every_n_hours = 10000.0
    saver.version = saver_pb2.SaverDef.V2


def _batches(moved: list[tuple[str, object]]) -> Iterator[list[tuple[str, object]]]:
    batch, size = [], 0
    for item in moved:
        batch.append(item)
        size += item[1].ByteSize()
        if size >= SAVE_BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def write_checkpoint(variables_dir: str, moved: list[tuple[str, object]]) -> None:
    """variables/variables.{index,data-*} holding `moved`, written by TensorFlow's SaveV2.
    Consumes `moved`: each value is dropped once written, so memory falls as the file grows."""
    import tensorflow as tf
    from tensorflow.python.framework import tensor_util

    prefix = os.path.join(variables_dir, "variables")
    batches = list(_batches(moved))
    moved.clear()
    parts = []
    for number, batch in enumerate(batches):
        part = prefix if len(batches) == 1 else f"{prefix}_part{number}"
        names = [name for name, _ in batch]
        tensors = []
        while batch:
            _, value = batch.pop(0)
            tensors.append(tf.constant(tensor_util.MakeNdarray(value)))
            del value
        tf.raw_ops.SaveV2(prefix=part, tensor_names=names, shape_and_slices=[""] * len(names), tensors=tensors)
        del tensors
        batches[number] = []
        parts.append(part)
    if len(parts) > 1:
        tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=parts, destination_prefix=prefix, delete_old_dirs=False)


def variables_to_constants(graph_def, meta_graph, model_dir: str):
    """The inverse, for a SavedModel nir wrote: each variable read becomes a Const of its
    value again and the saver goes. Returns a new GraphDef."""
    from tensorflow.core.framework import graph_pb2
    from tensorflow.python.framework import tensor_util

    from frontends.tensorflow.checkpoint import CheckpointWeights, checkpoint_prefix, variable_keys

    from frontends.tensorflow.checkpoint import CHECKPOINT_KEY_ATTR, has_checkpoint

    keys = variable_keys(meta_graph)
    if not has_checkpoint(model_dir):
        return graph_def
    weights = CheckpointWeights(checkpoint_prefix(model_dir))
    thawed = graph_pb2.GraphDef()
    thawed.versions.CopyFrom(graph_def.versions)
    thawed.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.name.startswith(SAVER_SCOPE + "/") or node.name in keys:
            continue
        copy = thawed.node.add()
        if node.op == "ReadVariableOp" and node.input[0] in keys:
            value = weights(keys[node.input[0]])
            copy.name, copy.op, copy.device = node.name, "Const", node.device
            copy.input.extend(i for i in node.input[1:] if i.startswith("^"))
            copy.attr["dtype"].type = node.attr["dtype"].type
            copy.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(value))
        else:
            copy.CopyFrom(node)
        if copy.op == "NeuronOp":
            inner = graph_pb2.GraphDef.FromString(copy.attr["graph_def"].s)
            externalized = [c for c in inner.node if CHECKPOINT_KEY_ATTR in c.attr]
            for const in externalized:
                value = weights(const.attr[CHECKPOINT_KEY_ATTR].s.decode())
                del const.attr[CHECKPOINT_KEY_ATTR]
                const.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(value))
            if externalized:
                copy.attr["graph_def"].s = inner.SerializeToString(deterministic=True)
    return thawed
