"""Weights kept beside an exported GraphDef instead of inside it.

A protobuf message built with upb (TensorFlow 2.21's protobuf) keeps every byte it was given in
an arena freed only with the whole message: clearing a Const, or the whole graph, returns
nothing while anything still refers to it. A graph that held a model's weights would hold them
until it was written, beside the IR's copy, the NeuronOps' embedded copies and the writer's.
So the compile's export leaves each large constant's bytes out of the graph: the Const keeps its
dtype and shape, and `_nir_weight` names its payload in a `WeightStore`, which holds the IR's own
`bytes` objects (no copy). Whoever writes a file (a cluster's GraphDef for the compiler,
saved_model.pb, the checkpoint) takes the bytes from the store as it writes, and the serialized
form is exactly what the graph with its weights would serialize to (`graph_pieces`), so the
compiler's inputs and the compile cache's keys do not change.

NeuronOps' embedded graphs carry references too. Functions of the library never do: they are
serialized whole.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from tensorflow.core.framework import graph_pb2, node_def_pb2

from frontends.tensorflow.wire import Frame, field_end, framed, read_varint

WEIGHT_ATTR = "_nir_weight"
MIN_REFERENCED_BYTES = 1024  # as VARIABLE_MIN_BYTES: smaller constants stay in the graph

_NODE_ATTR = 5  # NodeDef.attr, map entries of key = 1, value = 2
_ATTR_VALUE_S = 2  # AttrValue.s
_ATTR_VALUE_TENSOR = 8  # AttrValue.tensor
_TENSOR_CONTENT = 4  # TensorProto.tensor_content


class WeightStore:
    """Payloads of the Consts of an exported graph, by the key their `_nir_weight` names."""

    def __init__(self) -> None:
        self._payloads: dict[str, bytes] = {}

    def add(self, data: bytes) -> str:
        key = str(len(self._payloads))
        self._payloads[key] = data
        return key

    def get(self, key: str) -> bytes:
        try:
            return self._payloads[key]
        except KeyError:
            raise KeyError(f"no weight '{key}' in this compile's store (a graph from another export?)") from None

    def release(self, key: str) -> None:
        """The payload is written where it belongs: drop it so its memory goes."""
        self._payloads.pop(key, None)

    def __len__(self) -> int:
        return len(self._payloads)

    @property
    def num_bytes(self) -> int:
        return sum(len(data) for data in self._payloads.values())


_active: contextvars.ContextVar[WeightStore | None] = contextvars.ContextVar("nir_weight_store", default=None)


@contextlib.contextmanager
def weights_from(store: WeightStore | None) -> Iterator[None]:
    """Inside this block, `embedded_graph_pieces` and `embedded_graph` resolve references from
    `store`: how targets (plug-ins among them) emit clusters without a new argument."""
    token = _active.set(store)
    try:
        yield
    finally:
        _active.reset(token)


def active_store() -> WeightStore | None:
    return _active.get()


def weight_key(node: node_def_pb2.NodeDef) -> str | None:
    value = node.attr.get(WEIGHT_ATTR)
    return value.s.decode() if value is not None else None


def refer_to_payload(node: node_def_pb2.NodeDef, data: bytes, store: WeightStore) -> None:
    """Make `node`'s value refer to `data` in `store`; its TensorProto keeps dtype and shape."""
    node.attr[WEIGHT_ATTR].s = store.add(data).encode()


def _length(pieces) -> int:
    return sum(len(p) for p in pieces)


def _framed(number: int, pieces: list) -> list:
    return list(Frame(number, pieces).pieces())


def _top_level_fields(data: bytes):
    """(field number, tag start, end, payload start) of each field of a serialized message."""
    position = 0
    while position < len(data):
        start = position
        tag, position = read_varint(data, position)
        payload_start, end = field_end(data, position, tag & 7)
        yield tag >> 3, start, end, payload_start
        position = end


def _entry_key(data: bytes, start: int, end: int) -> bytes:
    for number, _, field_stop, payload_start in _top_level_fields(data[start:end]):
        if number == 1:
            return data[start + payload_start: start + field_stop]
    return b""


def _with_attr_entry(rest: bytes, name: str, value_pieces: list) -> list:
    """A serialized NodeDef `rest` (without attr `name`) with the entry `name` -> AttrValue
    `value_pieces` put where deterministic serialization puts it: among the attr entries in key
    order, after every field numbered below attr."""
    key = name.encode()
    entry = _framed(_NODE_ATTR, [framed(1, key), *_framed(2, value_pieces)])
    cut = len(rest)
    for number, start, end, payload_start in _top_level_fields(rest):
        if number > _NODE_ATTR or (number == _NODE_ATTR and _entry_key(rest, payload_start, end) > key):
            cut = start
            break
    return [rest[:cut], *entry, rest[cut:]]


def node_pieces(node: node_def_pb2.NodeDef, store: WeightStore | None) -> list:
    """The bytes `node` would serialize to (deterministically) with every reference resolved,
    as pieces to write one after another; a payload is a view of the store's bytes."""
    key = weight_key(node)
    if key is not None:
        return _const_pieces(node, key, store)
    if node.op == "NeuronOp" and store is not None and has_references(node.attr["graph_def"].s):
        shell = node_def_pb2.NodeDef()
        shell.CopyFrom(node)
        del shell.attr["graph_def"]
        value = _framed(_ATTR_VALUE_S, node_pieces_of_embedded(node, store))
        return _with_attr_entry(shell.SerializeToString(deterministic=True), "graph_def", value)
    return [node.SerializeToString(deterministic=True)]


def _const_pieces(node: node_def_pb2.NodeDef, key: str, store: WeightStore | None) -> list:
    if store is None:
        raise ValueError(f"Const '{node.name}' refers to weight '{key}', but no weight store was given")
    shell = node_def_pb2.NodeDef()
    shell.CopyFrom(node)
    del shell.attr[WEIGHT_ATTR]
    tensor_head = shell.attr["value"].tensor.SerializeToString(deterministic=True)  # dtype, shape
    del shell.attr["value"]
    data = store.get(key)
    tensor = [tensor_head, *_framed(_TENSOR_CONTENT, [memoryview(data)])]
    return _with_attr_entry(shell.SerializeToString(deterministic=True), "value", _framed(_ATTR_VALUE_TENSOR, tensor))


def has_references(graph_bytes: bytes) -> bool:
    return WEIGHT_ATTR.encode() in graph_bytes


def graph_pieces(graph_def: graph_pb2.GraphDef, store: WeightStore | None) -> list:
    """The bytes of `graph_def` with its weights, as SerializeToString(deterministic=True) of the
    graph holding them would give, in pieces (nodes first, then library and versions, as
    protobuf orders fields by number)."""
    pieces = []
    for node in graph_def.node:
        pieces.extend(_framed(1, node_pieces(node, store)))
    shell = graph_pb2.GraphDef()
    for field in ("versions", "library"):  # copied only when set: an empty one serializes
        if graph_def.HasField(field):
            getattr(shell, field).CopyFrom(getattr(graph_def, field))
    pieces.append(shell.SerializeToString(deterministic=True))
    return pieces


def pieces_size(pieces) -> int:
    return _length(pieces)


def write_pieces(path: str, pieces) -> None:
    with open(path, "wb") as f:
        for piece in pieces:
            f.write(piece)


def embedded_graph_pieces(node: node_def_pb2.NodeDef) -> list:
    """A NeuronOp's embedded GraphDef as the compiler reads it: weights in place."""
    data = node.attr["graph_def"].s
    if not has_references(data):
        return [data]
    return node_pieces_of_embedded(node, _require_active(node))


def embedded_graph(node: node_def_pb2.NodeDef) -> graph_pb2.GraphDef:
    """A NeuronOp's embedded GraphDef with its weights (a copy of one cluster's weights)."""
    return graph_pb2.GraphDef.FromString(b"".join(embedded_graph_pieces(node)))


def _require_active(node) -> WeightStore:
    store = active_store()
    if store is None:
        raise ValueError(f"NeuronOp '{node.name}' refers to weights, but no weight store is active (weights_from)")
    return store


def with_weight_values(graph_def: graph_pb2.GraphDef, store: WeightStore | None) -> graph_pb2.GraphDef:
    """A graph holding its weights: `graph_def` itself when it refers to none, else a copy. For
    the paths that need one (a model kept in memory, TF2's saver); it costs the weights once."""
    if store is None or not len(store):
        return graph_def
    return graph_pb2.GraphDef.FromString(b"".join(graph_pieces(graph_def, store)))


def put_neuron_op_weights_in_place(graph_def: graph_pb2.GraphDef, store: WeightStore | None) -> None:
    """Give each NeuronOp of `graph_def` its embedded graph with the weights in place, released
    from `store`: for a writer that hands NeuronOps to TensorFlow as they are."""
    if store is None:
        return
    for node in graph_def.node:
        if node.op == "NeuronOp" and has_references(node.attr["graph_def"].s):
            data = b"".join(node_pieces_of_embedded(node, store))
            release_weights_of(node, store)
            node.attr["graph_def"].s = data


def node_pieces_of_embedded(node: node_def_pb2.NodeDef, store: WeightStore) -> list:
    return graph_pieces(graph_pb2.GraphDef.FromString(node.attr["graph_def"].s), store)


def release_weights_of(node: node_def_pb2.NodeDef, store: WeightStore) -> None:
    """Drop from `store` the payloads `node` refers to (itself, or inside its embedded graph)."""
    key = weight_key(node)
    if key is not None:
        store.release(key)
    elif node.op == "NeuronOp" and has_references(node.attr["graph_def"].s):
        for inner in graph_pb2.GraphDef.FromString(node.attr["graph_def"].s).node:
            if (inner_key := weight_key(inner)) is not None:
                store.release(inner_key)
