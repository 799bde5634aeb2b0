"""The last gate before a SavedModel is written: TensorFlow must build its graph.

The verifier checks every pass against TensorFlow's rules (and `tests/oracle.py` checks the
verifier against TensorFlow), but the exporter, relift and the backends write GraphDefs after
the last pass; a mistake there would give a SavedModel that TensorFlow refuses to load. So the
graph, and the graph inside each NeuronOp, is imported into TensorFlow first; if TensorFlow
refuses it, nothing is written.

Weights play no part in whether TensorFlow builds a graph (a Const's shape and dtype do), so
the graphs are imported without them: a copy of ResNet50's graph costs kilobytes, not its
100 MB of weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tensorflow.core.framework import graph_pb2, tensor_shape_pb2

from nir.errors import NirError

_SMALL_PAYLOAD = 1024
_NODE_IN_MESSAGE = re.compile(r"\{\{node ([^}]+)\}\}|node '?([^\s':]+)'?")


@dataclass(frozen=True)
class Refusal:
    graph: str  # "the graph", or "NeuronOp 'name'"
    node: str | None
    message: str


class TensorFlowRefusesGraph(NirError):
    """The graph about to be written is one TensorFlow would not load."""


def tensorflow_refusal(graph_def: graph_pb2.GraphDef) -> Refusal | None:
    """Why TensorFlow refuses to build `graph_def` or a NeuronOp's embedded graph, or None.
    Op types TensorFlow does not know (a plug-in target's) are not judged."""
    from tensorflow.python.framework import op_def_registry

    library = {f.signature.name for f in graph_def.library.function}
    if all(op_def_registry.get(n.op) is not None or n.op in library for n in graph_def.node):
        message = _import_error(_without_payloads(graph_def))
        if message is not None:
            return Refusal("the graph", _node_named_in(message), message)
    for node in graph_def.node:
        embedded = node.attr.get("graph_def") if node.op == "NeuronOp" else None
        if embedded is None or not embedded.s:
            continue
        inner = graph_pb2.GraphDef.FromString(embedded.s)
        _drop_payloads(inner)
        message = _import_error(inner)
        if message is not None:
            return Refusal(f"NeuronOp '{node.name}'", _node_named_in(message), message)
    return None


def _import_error(graph_def) -> str | None:
    import tensorflow as tf

    try:
        with tf.Graph().as_default():
            tf.graph_util.import_graph_def(graph_def, name="")
    except (ValueError, TypeError, KeyError, tf.errors.OpError) as err:
        return str(err).strip()
    return None


def _node_named_in(message: str) -> str | None:
    match = _NODE_IN_MESSAGE.search(message)
    return None if match is None else (match.group(1) or match.group(2))


def _holds_weights(value) -> bool:
    return value.HasField("tensor") and value.tensor.ByteSize() > _SMALL_PAYLOAD


def _without_payloads(graph_def) -> graph_pb2.GraphDef:
    """A copy of `graph_def` whose big constants keep their dtype and shape but not their
    bytes, and whose NeuronOps keep neither their embedded graph nor their NEFF."""
    light = graph_pb2.GraphDef()
    light.versions.CopyFrom(graph_def.versions)
    light.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        copy = light.node.add(name=node.name, op=node.op, device=node.device)
        copy.input.extend(node.input)
        for key, value in node.attr.items():
            if key == "value" and _holds_weights(value):
                tensor = copy.attr[key].tensor
                tensor.dtype = value.tensor.dtype
                tensor.tensor_shape.CopyFrom(value.tensor.tensor_shape)
            elif node.op == "NeuronOp" and key in ("graph_def", "executable"):
                copy.attr[key].s = b""
            else:
                copy.attr[key].CopyFrom(value)
    return light


def _drop_payloads(graph_def) -> None:
    for node in graph_def.node:
        value = node.attr.get("value")
        if value is not None and _holds_weights(value):
            dtype, shape = value.tensor.dtype, tensor_shape_pb2.TensorShapeProto()
            shape.CopyFrom(value.tensor.tensor_shape)
            value.tensor.Clear()
            value.tensor.dtype = dtype
            value.tensor.tensor_shape.CopyFrom(shape)
