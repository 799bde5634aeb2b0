"""Variables read straight from a SavedModel's checkpoint, never through a Session.

Freezing through a Session (what the original did) restores every variable into the Session,
copies each into a Const of one frozen GraphDef, and copies that GraphDef again to import it: the
weights are in memory three or four times, and a GraphDef past 2 GiB cannot be serialized at
all. Here the graph is frozen without its weights: each variable becomes a Const that holds only
its shape (a one-value splat) and the key of its value in the checkpoint
(`_nir_checkpoint_key`); the importer reads each value from the checkpoint as it lowers that
Const, one variable at a time, straight into the IR's payload.

Which checkpoint key belongs to which variable node is read off the SavedModel's own restore op
(`saver_def.restore_op_name`): a RestoreV2 whose i-th output is assigned to a variable. TF1
graphs assign in the graph itself; TF2 SavedModels call a restore function with every variable
handle as an argument. A model whose restore op nir cannot follow (sliced or partitioned
variables, an unusual saver) is loaded the old way, through a Session.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import numpy as np

from frontends.tensorflow.bundle import BundleReader, CorruptCheckpoint, NotReadableHere
from nir.errors import NirInputError

CHECKPOINT_KEY_ATTR = "_nir_checkpoint_key"
_ASSIGN_OPS = ("AssignVariableOp", "Assign")
_PASS_THROUGH = ("Identity", "IdentityN")
_VARIABLE_OPS = ("VarHandleOp", "VariableV2")


class NotFollowable(Exception):
    """The restore op does not have a shape nir can read variable keys from."""


def checkpoint_prefix(model_dir: str) -> str:
    return os.path.join(model_dir, "variables", "variables")


def has_checkpoint(model_dir: str) -> bool:
    return os.path.isfile(checkpoint_prefix(model_dir) + ".index")


def variable_keys(meta_graph) -> dict[str, str]:
    """Variable node name -> checkpoint key, from the MetaGraphDef's restore op."""
    graph = meta_graph.graph_def
    restore = meta_graph.saver_def.restore_op_name.split(":")[0].lstrip("^")
    if not restore:
        return {}
    nodes = {n.name: n for n in graph.node}
    functions = {f.signature.name: f for f in graph.library.function}
    keys: dict[str, str] = {}
    _collect(restore, nodes, functions, lambda name: name, keys, set())
    return keys


def _collect(start: str, nodes, functions, outer, keys: dict[str, str], seen: set[str]) -> None:
    """Walk back from `start` through control and data inputs; every RestoreV2 met gives keys.
    `outer` maps a name of this scope (a node, or a function argument) to a graph node name."""
    stack = [start]
    while stack:
        name = stack.pop()
        if name in seen or name not in nodes:
            continue
        seen.add(name)
        node = nodes[name]
        if node.op in ("StatefulPartitionedCall", "PartitionedCall") and node.attr["f"].func.name in functions:
            _collect_call(node, nodes, functions, outer, keys)
        elif node.op == "RestoreV2":
            _read_restore(node, nodes, outer, keys)
        stack.extend(_node_of(i) for i in node.input)


def _collect_call(call, nodes, functions, outer, keys: dict[str, str]) -> None:
    function = functions[call.attr["f"].func.name]
    data_inputs = [i for i in call.input if not i.startswith("^")]
    arguments = {arg.name: data_inputs[k] for k, arg in enumerate(function.signature.input_arg) if k < len(data_inputs)}
    body = {n.name: n for n in function.node_def}

    def through_call(name: str) -> str:
        if name in arguments:
            return outer(_node_of(arguments[name]))
        return name

    for node in function.node_def:
        if node.op == "RestoreV2":
            _read_restore(node, body, through_call, keys)
        elif node.op in ("StatefulPartitionedCall", "PartitionedCall") and node.attr["f"].func.name in functions:
            _collect_call(node, body, functions, through_call, keys)


def _read_restore(restore, nodes, outer, keys: dict[str, str]) -> None:
    names = _string_list(nodes, restore.input[1])
    slices = _string_list(nodes, restore.input[2])
    if any(slices):
        raise NotFollowable(f"'{restore.name}' restores slices of partitioned variables")
    for consumer in nodes.values():
        if consumer.op not in _ASSIGN_OPS:
            continue
        index = _restore_output(consumer.input[1], nodes, restore.name)
        if index is None:
            continue
        target = outer(_node_of(consumer.input[0]))
        if index >= len(names):
            raise NotFollowable(f"'{consumer.name}' assigns output {index} of '{restore.name}', which restores {len(names)}")
        keys[target] = names[index]


def _restore_output(tensor: str, nodes, restore: str) -> int | None:
    """Which output of `restore` the tensor is (through Identity nodes), or None."""
    for _ in range(16):
        node, index = _split(tensor)
        if node == restore:
            return index
        producer = nodes.get(node)
        if producer is None or producer.op not in _PASS_THROUGH or not producer.input:
            return None
        tensor = producer.input[index if producer.op == "IdentityN" else 0]
    return None


def _string_list(nodes, tensor: str) -> list[str]:
    node = nodes.get(_node_of(tensor))
    if node is None or node.op != "Const":
        raise NotFollowable(f"the restore op's '{tensor}' is not a constant")
    return [s.decode() for s in node.attr["value"].tensor.string_val]


def _node_of(tensor: str) -> str:
    return tensor.lstrip("^").split(":")[0]


def _split(tensor: str) -> tuple[str, int]:
    """Graph ('n:1') and function-body ('n:tensors:1', 'n:output:0') tensor names."""
    parts = tensor.lstrip("^").split(":")
    return parts[0], int(parts[-1]) if len(parts) > 1 else 0


class ShapeOnly:
    """A variable's value as TensorFlow's freezer sees it: the right shape, one zero of data,
    so the Const it makes is a splat of a few bytes whatever the variable's size."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype):
        self.shape = shape
        self.dtype = dtype

    def __array__(self, dtype=None, copy=None):
        return np.zeros((), dtype or self.dtype)


def freeze_without_weights(graph_def, output_nodes: Iterable[str], keys: Mapping[str, str]):
    """The graph with every variable it reads replaced by a weightless Const carrying its
    checkpoint key. Raises NotFollowable for a variable without a key or a full shape."""
    import tensorflow as tf
    from tensorflow.python.framework import convert_to_constants, graph_util

    class CheckpointData(convert_to_constants._ConverterData):  # noqa: SLF001 - TF's freezer, fed shapes only
        def __init__(self) -> None:
            super().__init__(graph_util.extract_sub_graph(graph_def, list(output_nodes)))
            for node in self.graph_def.node:
                if node.op not in _VARIABLE_OPS:
                    continue
                if node.name not in keys:
                    raise NotFollowable(f"variable '{node.name}' is not restored by the SavedModel's restore op")
                dims = tuple(d.size for d in node.attr["shape"].shape.dim)
                if node.attr["shape"].shape.unknown_rank or any(d < 0 for d in dims):
                    raise NotFollowable(f"variable '{node.name}' has no full static shape")
                dtype = tf.dtypes.as_dtype(node.attr["dtype"].type).base_dtype
                self._tensor_data[node.name] = convert_to_constants._TensorData(  # noqa: SLF001
                    numpy=ShapeOnly(dims, dtype.as_numpy_dtype), dtype=dtype.as_datatype_enum, index=None
                )

    data = CheckpointData()
    frozen, _ = convert_to_constants._replace_variables_by_constants(converter_data=data)  # noqa: SLF001
    for node in frozen.node:
        if node.op == "Const" and node.name in data.tensor_data:
            node.attr[CHECKPOINT_KEY_ATTR].s = keys[node.name].encode()
    return frozen


class CheckpointWeights:
    """Reads one variable at a time from a checkpoint: numeric variables by nir's own reader
    (bundle.py: one copy of the bytes, none kept by TensorFlow's allocator), the rest by
    TensorFlow's checkpoint reader."""

    def __init__(self, prefix: str):
        from tensorflow.python.training import py_checkpoint_reader

        self.prefix = prefix
        try:
            self._reader = py_checkpoint_reader.NewCheckpointReader(prefix)
        except Exception as err:  # noqa: BLE001 - TensorFlow raises its own error types here
            raise _unreadable(prefix, err) from None
        try:
            self._bundle: BundleReader | None = BundleReader(prefix)
        except Exception:  # noqa: BLE001 - any index nir cannot parse: TensorFlow's reader opened it
            self._bundle = None  # so let it read, or say what is wrong

    def __call__(self, key: str) -> np.ndarray:
        if self._bundle is not None and key in self._bundle.entries:
            try:
                return self._bundle.read(key)
            except NotReadableHere:
                pass
            except (CorruptCheckpoint, OSError) as err:
                raise _unreadable(self.prefix, err, key) from None
        try:
            return self._reader.get_tensor(key)
        except Exception as err:  # noqa: BLE001
            raise _unreadable(self.prefix, err, key) from None


def _unreadable(prefix: str, err: Exception, key: str | None = None) -> Exception:

    what = f"variable '{key}' from" if key else "the checkpoint"
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return NirInputError(
        f"TensorFlow could not load {what} '{prefix}': {reason}; check that the variables/ "
        "directory is complete (re-export the SavedModel if it is not)"
    )


def with_weights(graph_def, weights):
    """A copy of a graph frozen without its weights, with each such Const holding its value:
    the classic frozen GraphDef, for tools that need one (and can hold it: under 2 GiB)."""
    from tensorflow.core.framework import graph_pb2
    from tensorflow.python.framework import tensor_util

    frozen = graph_pb2.GraphDef()
    frozen.CopyFrom(graph_def)
    for node in frozen.node:
        if CHECKPOINT_KEY_ATTR in node.attr:
            value = weights(node.attr[CHECKPOINT_KEY_ATTR].s.decode())
            del node.attr[CHECKPOINT_KEY_ATTR]
            node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(value))
    return frozen
