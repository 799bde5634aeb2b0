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

import math
import os

from frontends.tensorflow.checkpoint import (
    CHECKPOINT_KEY_ATTR,
    CheckpointWeights,
    checkpoint_prefix,
    has_checkpoint,
    variable_keys,
    with_weights,
)
from frontends.tensorflow.weights import WEIGHT_ATTR, WeightStore, has_references, weight_key
from frontends.tensorflow.wire import fields, framed, varint_field

VARIABLE_MIN_BYTES = 1024  # smaller constants (shapes, axes, scalars) stay in the graph
SAVE_BATCH_BYTES = 64 << 20
SAVER_SCOPE = "nir_saver"  # a scope no model of nir's input has: its savers are dropped by freezing


def movable_constants(graph_def, min_bytes: int = VARIABLE_MIN_BYTES, min_elements: int | None = None) -> list:
    """The Const nodes of the graph (not of its functions) worth a variable: numeric, stored
    as raw bytes, at least `min_bytes` of them, and read neither by a Conv2D nor a BiasAdd.

    Convolution filters and biases stay constants because TensorFlow's Grappler (2.21) fuses a
    grouped Conv2D with a BiasAdd whose operands it cannot see as constants into a kernel that
    refuses grouped convolutions ("Fused conv implementation does not support grouped
    convolutions"); frozen operands keep Grappler from that fusion. They are a small share of
    a model's weights."""
    from tensorflow.core.framework import types_pb2

    filters = {i.split(":")[0] for n in graph_def.node if n.op in ("Conv2D", "BiasAdd") for i in n.input}
    return [
        node for node in graph_def.node
        if node.op == "Const"
        and node.name not in filters
        and node.attr["dtype"].type not in (types_pb2.DT_STRING, types_pb2.DT_RESOURCE, types_pb2.DT_VARIANT)
        and (_content_bytes(node) >= min_bytes if min_elements is None
             else _elements(node) > min_elements and _content_bytes(node) > 0)
    ]


def _elements(node) -> int:
    return math.prod(d.size for d in node.attr["value"].tensor.tensor_shape.dim)


def _content_bytes(node) -> int:
    """Bytes of a Const's tensor_content, held or referred to (weights.py); 0 without one."""
    if weight_key(node) is not None:
        return _elements(node) * tensor_numpy_dtype(node.attr["dtype"].type).itemsize
    return len(node.attr["value"].tensor.tensor_content)


def constants_to_variables(graph_def, min_bytes: int = VARIABLE_MIN_BYTES,
                           min_elements: int | None = None) -> list[tuple[str, object]]:
    """Turn the large Consts of `graph_def` into variables, in place: those of `min_bytes` or
    more, or, with `min_elements`, those of more elements (the original's
    constant_size_to_exclude). Returns (checkpoint key, TensorProto of the value, key of its
    payload in the weight store or None) per variable, in graph order; the graph keeps none of
    the bytes."""
    from tensorflow.core.framework import tensor_pb2

    moved = []
    for node in movable_constants(graph_def, min_bytes, min_elements):
        value = tensor_pb2.TensorProto()
        value.CopyFrom(node.attr["value"].tensor)
        stored = weight_key(node)
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
        moved.append((handle.name, value, stored))
    return moved


def neuron_op_without_weights(node, checkpoint: CheckpointParts, min_bytes: int = VARIABLE_MIN_BYTES,
                              weights: WeightStore | None = None) -> bytes:
    """The serialized NeuronOp `node` with the large constants of its embedded GraphDef saved to
    `checkpoint` under `<NeuronOp name>/<Const name>`; each Const keeps its shape and names its
    key (`_nir_checkpoint_key`). For a model whose NeuronOps together pass protobuf's limit:
    the NeuronOp runs its NEFF, and `inline_neuron_ops` reads the constants back.

    Works on the embedded graph's bytes, never parsed: each weight is fed to SaveV2 as a view
    of them, and the light graph is those bytes with the weights cut out, so a cluster's
    weights are in memory once more at most. `node` is not changed (a message's bytes are
    freed only with the message). An embedded graph that refers to `weights` (weights.py) has
    its payloads saved from the store instead."""
    import numpy as np
    from tensorflow.core.framework import node_def_pb2

    data = node.attr["graph_def"].s
    if weights is not None and has_references(data):
        return _neuron_op_saving_references(node, data, checkpoint, weights)
    weights = {name: spot for name, spot in tensor_content_offsets(data).items() if spot[3] >= min_bytes}
    for name, (dtype, shape, offset, length) in weights.items():
        numpy_dtype = tensor_numpy_dtype(dtype)
        view = np.frombuffer(data, dtype=numpy_dtype, count=length // numpy_dtype.itemsize, offset=offset)
        checkpoint.save_arrays([f"{node.name}/{name}"], [view.reshape(shape)])
        del view
    light_graph = _graph_without_weights(data, {name: f"{node.name}/{name}" for name in weights})
    del data
    light = node_def_pb2.NodeDef()
    light.name, light.op, light.device = node.name, node.op, node.device
    light.input.extend(node.input)
    for name, value in node.attr.items():
        if name != "graph_def":
            light.attr[name].CopyFrom(value)
    light.attr["graph_def"].s = light_graph
    return light.SerializeToString(deterministic=True)


def _neuron_op_saving_references(node, data: bytes, checkpoint: CheckpointParts, weights: WeightStore) -> bytes:
    """neuron_op_without_weights for an embedded graph whose weights are in `weights`: each is
    saved from the store and released, and its Const names its checkpoint key instead."""
    import numpy as np
    from tensorflow.core.framework import graph_pb2, node_def_pb2

    inner = graph_pb2.GraphDef.FromString(data)
    for inner_node in inner.node:
        key = weight_key(inner_node)
        if key is None:
            continue
        shape = [d.size for d in inner_node.attr["value"].tensor.tensor_shape.dim]
        array = np.frombuffer(weights.get(key), tensor_numpy_dtype(inner_node.attr["dtype"].type)).reshape(shape)
        checkpoint.save_arrays([f"{node.name}/{inner_node.name}"], [array])
        del array
        weights.release(key)
        del inner_node.attr[WEIGHT_ATTR]
        inner_node.attr[CHECKPOINT_KEY_ATTR].s = f"{node.name}/{inner_node.name}".encode()
    light = node_def_pb2.NodeDef()
    light.CopyFrom(node)
    light.attr["graph_def"].s = inner.SerializeToString(deterministic=True)
    return light.SerializeToString(deterministic=True)


def _graph_without_weights(data: bytes, keys: dict[str, str]) -> bytes:
    """The serialized GraphDef `data` with the tensor_content of the Consts in `keys` cut out
    and a `_nir_checkpoint_key` attr naming each one's key added, rebuilt field by field
    (GraphDef.node = 1; NodeDef.name = 1, attr = 5 as entries of key = 1 and value = 2;
    AttrValue.tensor = 8; TensorProto.tensor_content = 4)."""
    def tensor(s: int, e: int) -> bytes:
        return _rebuilt(data, s, e, {4: lambda *_: None})

    def value(s: int, e: int) -> bytes:
        return _rebuilt(data, s, e, {8: tensor})

    def entry(s: int, e: int) -> bytes:
        return _rebuilt(data, s, e, {2: value}) if _is_value_entry(data, s, e) else data[s:e]

    def node(s: int, e: int) -> bytes:
        name = next((data[fs:fe].decode() for f, (fs, fe) in fields(data, s, e) if f == 1), None)
        if name not in keys:
            return data[s:e]
        key_attr = framed(1, CHECKPOINT_KEY_ATTR.encode()) + framed(2, framed(2, keys[name].encode()))
        return _rebuilt(data, s, e, {5: entry}) + framed(5, key_attr)

    return _rebuilt(data, 0, len(data), {1: node})


def _rebuilt(data: bytes, start: int, end: int, replace: dict) -> bytes:
    """The message data[start:end] field by field: a length-delimited field whose number is in
    `replace` gets the payload that function returns for its span (None drops the field), every
    other field is copied as it is."""
    out = bytearray()
    for number, (s, e) in fields(data, start, end, every_wire_type=True):
        if number is None:
            out += data[s:e]
        elif number in replace:
            payload = replace[number](s, e)
            if payload is not None:
                out += framed(number, payload)
        else:
            out += framed(number, data[s:e])
    return bytes(out)


def _is_value_entry(data: bytes, start: int, end: int) -> bool:
    entry = dict(fields(data, start, end))
    return 1 in entry and data[entry[1][0]:entry[1][1]] == b"value"


def tensor_numpy_dtype(dtype: int):
    import numpy as np
    import tensorflow as tf

    return np.dtype(tf.dtypes.as_dtype(dtype).as_numpy_dtype)


def tensor_content_offsets(graph_bytes: bytes) -> dict[str, tuple[int, list[int], int, int]]:
    """Where, in a serialized GraphDef, each Const keeps its raw bytes: node name -> (dtype,
    shape, offset, length). Read off the wire format (GraphDef.node = 1; NodeDef.name = 1,
    NodeDef.op = 2, NodeDef.attr = 5 as map entries of key = 1 and value = 2; AttrValue.tensor
    = 8; TensorProto.dtype = 1, tensor_shape = 2 with dim = 2 and size = 1, tensor_content = 4),
    so the weights are viewed in place, never copied."""
    found = {}
    for _, (start, end) in ((f, span) for f, span in fields(graph_bytes, 0, len(graph_bytes)) if f == 1):
        node_fields = list(fields(graph_bytes, start, end))
        name = next((graph_bytes[s:e].decode() for f, (s, e) in node_fields if f == 1), None)
        op = next((graph_bytes[s:e] for f, (s, e) in node_fields if f == 2), None)
        if op != b"Const":
            continue
        for number, (s, e) in node_fields:
            if number != 5 or not _is_value_entry(graph_bytes, s, e):
                continue
            value = dict(fields(graph_bytes, s, e))[2]
            tensor = dict(fields(graph_bytes, *value)).get(8)
            if tensor is None:
                continue
            dtype = varint_field(graph_bytes, *tensor, 1)
            shape = []
            for tnumber, (ts, te) in fields(graph_bytes, *tensor):
                if tnumber == 2:
                    shape = [varint_field(graph_bytes, ds, de, 1) for dnumber, (ds, de) in fields(graph_bytes, ts, te) if dnumber == 2]
                elif tnumber == 4 and name is not None:
                    found[name] = (dtype, shape, ts, te - ts)
    return found


class CheckpointParts:
    """The output checkpoint written a part at a time by TensorFlow's SaveV2, then merged into
    variables/variables (MergeV2Checkpoints), so no more than one part's weights are in memory.

    SaveV2 runs in a v1 Session with the values fed as numpy arrays: a feed hands TensorFlow
    the array's memory as it is, where an eager tf.constant would copy it twice."""

    def __init__(self, variables_dir: str):
        self.prefix = os.path.join(variables_dir, "variables")
        self.parts: list[str] = []

    def save_arrays(self, names: list[str], arrays: list) -> None:
        """Save numpy arrays (views are fine) under `names` as one part; empties `arrays`. An
        array over SAVE_BATCH_BYTES is saved as slices along its first dimension, one part
        each, since a feed is copied once: TensorFlow's readers and RestoreV2 assemble the
        slices into the whole tensor."""
        small_names, small = [], []
        for name, array in zip(names, arrays):
            if array.nbytes > SAVE_BATCH_BYTES and array.ndim >= 1 and array.shape[0] > 1:
                rows = max(1, SAVE_BATCH_BYTES // max(1, array.nbytes // array.shape[0]))
                full = " ".join(str(d) for d in array.shape)
                rest = ":-" * (array.ndim - 1)
                for start in range(0, array.shape[0], rows):
                    length = min(rows, array.shape[0] - start)
                    self._save_part([name], [f"{full} {start},{length}{rest}"], [array[start:start + length]])
            else:
                small_names.append(name)
                small.append(array)
        arrays.clear()
        if small:
            self._save_part(small_names, [""] * len(small), small)

    def _save_part(self, names: list[str], slices: list[str], arrays: list) -> None:
        import tensorflow as tf

        part = f"{self.prefix}_part{len(self.parts)}"
        graph = tf.Graph()
        with graph.as_default():
            feeds = [tf.compat.v1.placeholder(tf.as_dtype(a.dtype), a.shape) for a in arrays]
            save = tf.raw_ops.SaveV2(prefix=part, tensor_names=names, shape_and_slices=slices, tensors=feeds)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(save, dict(zip(feeds, arrays)))
        self.parts.append(part)

    def save_stream(self, items, weights: WeightStore | None = None) -> None:
        """Save (key, array, weight-store key or None) items, taken as they come, in parts of
        about SAVE_BATCH_BYTES; each payload the store held is released once its part is saved."""
        names, arrays, stored_keys, size = [], [], [], 0
        for name, array, stored in items:
            names.append(name)
            arrays.append(array)
            stored_keys.append(stored)
            size += array.nbytes
            if size >= SAVE_BATCH_BYTES:
                self._save_and_release(names, arrays, stored_keys, weights)
                names, stored_keys, size = [], [], 0
        if names:
            self._save_and_release(names, arrays, stored_keys, weights)

    def _save_and_release(self, names: list[str], arrays: list, stored_keys: list, weights) -> None:
        self.save_arrays(names, arrays)
        for key in stored_keys:
            if key is not None:
                weights.release(key)

    def save_batches(self, moved: list[tuple], weights: WeightStore | None = None) -> None:
        """Save `moved` (constants_to_variables's items) in parts of about SAVE_BATCH_BYTES;
        consumes the list, and the store's payloads, as it goes."""
        self.save_stream(_consumed_values(moved, weights), weights)

    def finish(self) -> None:
        import tensorflow as tf

        if not self.parts:
            return
        # In a graph and Session of its own, as SaveV2: run eagerly, the op would only be added
        # to the caller's default graph in TF1 code (a `with tf.Session()` block, or after
        # disable_eager_execution) and the parts never merged.
        graph = tf.Graph()
        with graph.as_default():
            merge = tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=self.parts, destination_prefix=self.prefix,
                                                  delete_old_dirs=False)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(merge)


def _consumed_values(moved: list[tuple], weights: WeightStore | None):
    """(key, array, store key) of each of constants_to_variables's items, popped as it goes."""
    moved.reverse()
    while moved:
        key, value, stored = moved.pop()
        yield key, moved_value(value, stored, weights), stored


def moved_value(value, stored: str | None, weights: WeightStore | None):
    """A moved constant's value as an array viewing its bytes: the store's, or its TensorProto's."""
    import numpy as np

    data = value.tensor_content if stored is None else weights.get(stored)
    return np.frombuffer(data, tensor_numpy_dtype(value.dtype)).reshape([d.size for d in value.tensor_shape.dim])


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

    names = [name.encode() for name, *_ in moved]
    types = [value.dtype for _, value, *_ in moved]
    node("filename", "Const", value=string_tensor([b"model"], []), dtype=dtype(7))
    node("tensor_names", "Const", value=string_tensor(names, [len(names)]), dtype=dtype(7))
    node("shape_and_slices", "Const", value=string_tensor([b""] * len(names), [len(names)]), dtype=dtype(7))
    restore = node("RestoreV2", "RestoreV2", [f"{SAVER_SCOPE}/filename", f"{SAVER_SCOPE}/tensor_names",
                                               f"{SAVER_SCOPE}/shape_and_slices"], dtypes=dtypes(types))
    assigns = []
    for index, (name, value, *_) in enumerate(moved):
        assign = node(f"assign_{index}", "AssignVariableOp", [name, f"{restore.name}:{index}"], dtype=dtype(value.dtype))
        assigns.append("^" + assign.name)
    node("restore_all", "NoOp", assigns)
    reads = []
    for index, (name, value, *_) in enumerate(moved):
        read = node(f"read_{index}", "ReadVariableOp", [name], dtype=dtype(value.dtype))
        reads.append(read.name)
    save = node("SaveV2", "SaveV2", [f"{SAVER_SCOPE}/filename", f"{SAVER_SCOPE}/tensor_names",
                                     f"{SAVER_SCOPE}/shape_and_slices", *reads], dtypes=dtypes(types))
    node("control_dependency", "Identity", [f"{SAVER_SCOPE}/filename", "^" + save.name], T=dtype(7))
    _declare_variables(meta_graph, [name for name, *_ in moved], assigns, reads)
    saver = meta_graph.saver_def
    saver.filename_tensor_name = f"{SAVER_SCOPE}/filename:0"
    saver.save_tensor_name = f"{SAVER_SCOPE}/control_dependency:0"
    saver.restore_op_name = f"{SAVER_SCOPE}/restore_all"
    saver.max_to_keep = 5
    saver.keep_checkpoint_every_n_hours = 10000.0
    saver.version = saver_pb2.SaverDef.V2


def _declare_variables(meta_graph, names: list[str], assigns: list[str], reads: list[str]) -> None:
    """List the variables in the `variables` collection, as TF1's Saver does: TF2's loader of
    a TF1 SavedModel makes Python variables only of those it finds there, and without them a
    function traced over the graph (a signature re-saved by tf.saved_model.save) would not
    capture them and could not find them once saved. Each one's initializer is its restore."""
    from tensorflow.core.framework import variable_pb2

    collection = meta_graph.collection_def["variables"].bytes_list.value
    for name, assign, read in zip(names, assigns, reads):
        variable = variable_pb2.VariableDef(
            variable_name=f"{name}:0", initializer_name=assign.lstrip("^"), snapshot_name=f"{read}:0",
            is_resource=True, trainable=False,
        )
        collection.append(variable.SerializeToString())


def variables_to_constants(graph_def, meta_graph, model_dir: str):
    """The inverse, for a SavedModel nir wrote: each variable read becomes a Const of its
    value again and the saver goes. Returns a new GraphDef."""
    from tensorflow.core.framework import graph_pb2
    from tensorflow.python.framework import tensor_util


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
            if any(CHECKPOINT_KEY_ATTR in c.attr for c in inner.node):
                copy.attr["graph_def"].s = with_weights(inner, weights).SerializeToString(deterministic=True)
    return thawed
