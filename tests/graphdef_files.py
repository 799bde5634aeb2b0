"""Tests' own frontend for a plain frozen GraphDef (.pb) with named inputs and outputs: the
fuzzer and the error tests write graphs TensorFlow's SavedModel writer would not."""

from __future__ import annotations

import os
from collections.abc import Sequence

from frontends.tensorflow.attrs import shape_proto_to_dims
from frontends.tensorflow.importer import SignatureInfo, TensorSpec, import_graph_def, split_tensor_name
from frontends.tensorflow.opdefs import node_output_dtypes
from nir.errors import NirInputError


def read_graph_def(path: str):
    from google.protobuf.message import DecodeError
    from tensorflow.core.framework import graph_pb2

    if not os.path.isfile(path):
        raise NirInputError(f"GraphDef file '{path}' does not exist")
    graph_def = graph_pb2.GraphDef()
    with open(path, "rb") as f:
        data = f.read()
    try:
        graph_def.ParseFromString(data)
    except (DecodeError, RuntimeError) as err:
        raise NirInputError(f"'{path}' is not a binary GraphDef ({err})") from None
    return graph_def


def signature_for(graph_def, inputs: Sequence[str], outputs: Sequence[str], key: str = "serving_default"):
    """A signature keyed by node name: inputs are Placeholders, outputs any 'node[:port]'."""
    nodes = {n.name: n for n in graph_def.node}
    library = {f.signature.name: f for f in graph_def.library.function}

    def node_of(tensor: str, role: str):
        name, port = split_tensor_name(tensor)
        if name not in nodes:
            raise NirInputError(f"{role} '{tensor}' is not a node of the GraphDef")
        return nodes[name], port

    input_specs = []
    for tensor in inputs:
        node, _ = node_of(tensor, "input")
        if node.op != "Placeholder":
            raise NirInputError(f"input '{tensor}' is a {node.op}; inputs must be Placeholders")
        if "dtype" not in node.attr:
            raise NirInputError(f"input Placeholder '{node.name}' has no dtype attribute")
        shape = shape_proto_to_dims(node.attr["shape"].shape) if "shape" in node.attr else None
        input_specs.append(TensorSpec(node.name, node.name + ":0", node.attr["dtype"].type, shape))
    output_specs = []
    for tensor in outputs:
        node, port = node_of(tensor, "output")
        dtypes = node_output_dtypes(node, library)
        if port >= len(dtypes):
            raise NirInputError(f"output '{tensor}': node '{node.name}' has {len(dtypes)} outputs")
        output_specs.append(TensorSpec(tensor.replace(":", "_"), f"{node.name}:{port}", dtypes[port], None))
    return SignatureInfo(key, tuple(input_specs), tuple(output_specs))


def import_graph_def_file(path: str, inputs: Sequence[str], outputs: Sequence[str]):
    graph_def = read_graph_def(path)
    return import_graph_def(graph_def, signature_for(graph_def, inputs, outputs))
