"""Weights left on CPU in a spliced TF2 output, as variables the compiled signature captures.

A compiled graph whose CPU part keeps weights (a compile without neuron-cc, clusters neuron-cc
refused) used to keep the input's object graph through TensorFlow's loader and saver, which
load the input and the compiled model and re-trace and re-save every object: 2.4 GB of memory
and 20 s on ResNet50, for 100 MB of weights. Here the splice (splice.py) does what `tf.function`
does for a function that reads variables, by hand:

- each large constant of the compiled graph becomes a variable read (constants_to_variables),
  and the variable's handle an argument of the spliced function after the signature's inputs;
- the object graph gets a plain object (`nir_compiled_weights`, a child of the root) with one
  variable per weight, and the function's `bound_inputs` name them, so TF2's loader captures
  them in that order;
- the checkpoint is the input's, rewritten with those variables added and its object graph
  (`_CHECKPOINTABLE_OBJECT_GRAPH`, whose node ids are the SavedModel's) extended to match;
- for TF1 loaders, the graph gets a VarHandleOp per variable, restored from the checkpoint by a
  RestoreV2 that the saver's restore op now also runs, and the signature's call reads them.

Each weight streams from the weight store (weights.py) to the checkpoint; nothing is loaded
into TensorFlow.
"""

from __future__ import annotations

import numpy as np

from frontends.tensorflow.bundle import BundleReader
from frontends.tensorflow.checkpoint import CheckpointWeights, checkpoint_prefix, has_checkpoint
from frontends.tensorflow.variables import CheckpointParts, constants_to_variables, moved_value
from nir.ir.names import unique_name

WEIGHTS_OBJECT = "nir_compiled_weights"
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_DT_RESOURCE = 20
_DT_STRING = 7


class CannotCapture(Exception):
    """The input's checkpoint cannot take the weights (no checkpoint, or an object graph whose
    nodes are not the SavedModel's): the caller takes TensorFlow's saver instead."""


def checkpoint_object_graph(model_dir: str, meta_graph):
    """The input checkpoint's TrackableObjectGraph, if its node ids are the SavedModel's."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    if not has_checkpoint(model_dir):
        raise CannotCapture("the input has no checkpoint")
    try:
        data = CheckpointWeights(checkpoint_prefix(model_dir))(OBJECT_GRAPH_KEY)
    except Exception as err:  # noqa: BLE001 - any reason the graph cannot be read means: do not capture
        raise CannotCapture(f"the input's checkpoint has no object graph ({err})") from None
    try:
        graph = trackable_object_graph_pb2.TrackableObjectGraph.FromString(_as_bytes(data))
    except Exception as err:  # noqa: BLE001 - protobuf's DecodeError, or a value that is no string
        raise CannotCapture(f"the input's checkpoint object graph does not parse ({err})") from None
    if len(graph.nodes) != len(meta_graph.object_graph_def.nodes):
        raise CannotCapture("the checkpoint's object graph and the SavedModel's differ")
    return graph


def _as_bytes(value) -> bytes:
    return value if isinstance(value, bytes) else np.asarray(value, dtype=object).item()


def _as_array(value) -> np.ndarray:
    """A value of TensorFlow's reader as an array to save: a string scalar comes as `bytes`,
    which numpy's own bytes type would cut at its last NUL."""
    return np.array(value, dtype=object) if isinstance(value, bytes) else np.asarray(value)


def weights_as_arguments(graph_def, variable_min_elements: int | None = None) -> list[tuple]:
    """Turn the large constants of `graph_def` into reads of variables whose handles are
    resource Placeholders (the spliced function's captured arguments). Returns
    constants_to_variables's items: (handle node, TensorProto of the value, store key)."""
    moved = constants_to_variables(graph_def, min_elements=variable_min_elements)
    handles = {name for name, *_ in moved}
    for node in graph_def.node:
        if node.name in handles:
            name, device = node.name, node.device
            node.Clear()
            node.name, node.op, node.device = name, "Placeholder", device
            node.attr["dtype"].type = _DT_RESOURCE
    return moved


def add_variable_objects(meta_graph, object_graph, moved: list[tuple]) -> tuple[list[int], list[str]]:
    """Add the variables to the SavedModel's object graph and the checkpoint's; returns their
    node ids and checkpoint keys, in `moved`'s order."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    objects = meta_graph.object_graph_def
    root_names = {c.local_name for c in objects.nodes[0].children}
    local_name = unique_name(WEIGHTS_OBJECT, root_names)
    parent_id = len(objects.nodes)
    parent = objects.nodes.add()
    parent.user_object.identifier = "_generic_user_object"
    parent.user_object.version.producer = 1
    parent.user_object.version.min_consumer = 1
    objects.nodes[0].children.add(node_id=parent_id, local_name=local_name)
    checkpoint_parent = object_graph.nodes.add()
    object_graph.nodes[0].children.add(node_id=parent_id, local_name=local_name)
    ids, keys = [], []
    for index, (handle, value, _) in enumerate(moved):
        node_id = len(objects.nodes)
        variable = objects.nodes.add().variable
        variable.dtype = value.dtype
        variable.shape.CopyFrom(value.tensor_shape)
        variable.trainable = False
        variable.name = handle.rsplit("/nir_variable", 1)[0]
        parent.children.add(node_id=node_id, local_name=str(index))
        checkpoint_parent.children.add(node_id=node_id, local_name=str(index))
        key = f"{local_name}/{index}/.ATTRIBUTES/VARIABLE_VALUE"
        checkpoint_node = object_graph.nodes.add()
        checkpoint_node.attributes.append(trackable_object_graph_pb2.TrackableObjectGraph.TrackableObject.SerializedTensor(
            name="VARIABLE_VALUE", full_name=variable.name, checkpoint_key=key))
        checkpoint_node.has_checkpoint_values.value = True
        ids.append(node_id)
        keys.append(key)
    return ids, keys


def write_checkpoint(model_dir: str, variables_dir: str, object_graph, moved: list[tuple], keys: list[str],
                     weights=None) -> None:
    """variables/ of the output: the input's tensors, the captured weights under `keys` (from
    the weight store `weights`, released once saved) and the extended object graph, saved in
    batches of about SAVE_BATCH_BYTES (one data file for a small model)."""
    checkpoint = CheckpointParts(variables_dir)
    checkpoint.save_stream(_tensors_to_save(model_dir, object_graph, moved, keys, weights), weights)
    checkpoint.finish()


def _tensors_to_save(model_dir: str, object_graph, moved: list[tuple], keys: list[str], weights):
    """(checkpoint key, array, weight-store key or None) of every tensor of the output's
    checkpoint, one at a time."""
    prefix = checkpoint_prefix(model_dir)
    reader = CheckpointWeights(prefix)
    try:
        names = sorted(BundleReader(prefix).entries)
    except Exception:  # noqa: BLE001 - an index nir cannot parse: TensorFlow's reader lists it
        from tensorflow.python.training import py_checkpoint_reader

        names = sorted(py_checkpoint_reader.NewCheckpointReader(prefix).get_variable_to_shape_map())
    for name in names:
        if name != OBJECT_GRAPH_KEY:
            yield name, _as_array(reader(name)), None
    for key, (_, value, stored) in zip(keys, moved):
        yield key, moved_value(value, stored, weights), stored
    yield OBJECT_GRAPH_KEY, np.array(object_graph.SerializeToString(deterministic=True), dtype=object), None


def restore_in_graph(meta_graph, moved: list[tuple], keys: list[str]) -> list[str]:
    """For TF1 loaders: a VarHandleOp per captured weight in the MetaGraph's graph, restored by
    the saver's restore op; returns the handles' node names, in order."""
    graph = meta_graph.graph_def
    taken = {n.name for n in graph.node}
    saver = meta_graph.saver_def

    def node(name: str, op: str, inputs=()):
        n = graph.node.add(name=unique_name(name, taken), op=op)
        taken.add(n.name)
        n.input.extend(inputs)
        return n

    handles = []
    for index, (_, value, _) in enumerate(moved):
        handle = node(f"{WEIGHTS_OBJECT}/{index}", "VarHandleOp")
        handle.attr["dtype"].type = value.dtype
        handle.attr["shape"].shape.CopyFrom(value.tensor_shape)
        handle.attr["shared_name"].s = handle.name.encode()
        handle.attr["container"].s = b""
        handles.append(handle.name)
    names = node(f"{WEIGHTS_OBJECT}/tensor_names", "Const")
    slices = node(f"{WEIGHTS_OBJECT}/shape_and_slices", "Const")
    for const, values in ((names, [k.encode() for k in keys]), (slices, [b""] * len(keys))):
        const.attr["dtype"].type = _DT_STRING
        tensor = const.attr["value"].tensor
        tensor.dtype = _DT_STRING
        tensor.tensor_shape.dim.add(size=len(values))
        tensor.string_val.extend(values)
    restore = node(f"{WEIGHTS_OBJECT}/RestoreV2", "RestoreV2", [saver.filename_tensor_name, names.name, slices.name])
    restore.attr["dtypes"].list.type.extend(value.dtype for _, value, _ in moved)
    assigns = []
    for index, ((_, value, _), handle) in enumerate(zip(moved, handles)):
        assign = node(f"{WEIGHTS_OBJECT}/assign_{index}", "AssignVariableOp", [handle, f"{restore.name}:{index}"])
        assign.attr["dtype"].type = value.dtype
        assigns.append("^" + assign.name)
    if saver.restore_op_name:
        assigns.insert(0, "^" + saver.restore_op_name.split(":")[0])
    saver.restore_op_name = node(f"{WEIGHTS_OBJECT}/restore_all", "NoOp", assigns).name
    return handles

