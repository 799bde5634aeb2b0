"""Synthetic frozen graphs of a given size: chains of MatMul/BiasAdd/elementwise blocks with
unsupported ops (Cumsum, Where-free CPU ops) sprinkled in, so clustering has work to do."""

from __future__ import annotations

import numpy as np
from tensorflow.core.framework import graph_pb2
from tensorflow.python.framework import tensor_util

from frontends.tensorflow.importer import SignatureInfo, TensorSpec

WIDTH = 32


def _node(graph, name, op, inputs=(), **attrs):
    node = graph.node.add(name=name, op=op)
    node.input.extend(inputs)
    for key, value in attrs.items():
        if isinstance(value, bool):
            node.attr[key].b = value
        elif isinstance(value, int) and key in ("T", "dtype", "Tidx"):
            node.attr[key].type = value
        elif isinstance(value, np.ndarray):
            node.attr[key].tensor.CopyFrom(tensor_util.make_tensor_proto(value))
    return node


def synthetic_graph(num_ops: int, seed: int = 0) -> tuple[graph_pb2.GraphDef, SignatureInfo]:
    rng = np.random.RandomState(seed)
    graph = graph_pb2.GraphDef()
    graph.versions.producer = 1882
    x = _node(graph, "x", "Placeholder", dtype=1)
    x.attr["shape"].shape.dim.add().size = -1
    x.attr["shape"].shape.dim.add().size = WIDTH
    axis = _node(graph, "axis", "Const", dtype=3, value=np.array(1, np.int32))
    current, i = x.name, 0
    skip = current
    while len(graph.node) < num_ops - 2:
        w = _node(graph, f"b{i}/w", "Const", dtype=1, value=rng.standard_normal((WIDTH, WIDTH)).astype(np.float32) * 0.1)
        b = _node(graph, f"b{i}/b", "Const", dtype=1, value=rng.standard_normal(WIDTH).astype(np.float32) * 0.1)
        mm = _node(graph, f"b{i}/matmul", "MatMul", [current, w.name], T=1, transpose_a=False, transpose_b=False)
        ba = _node(graph, f"b{i}/bias", "BiasAdd", [mm.name, b.name], T=1)
        act = _node(graph, f"b{i}/act", ["Relu", "Tanh", "Sigmoid"][i % 3], [ba.name], T=1)
        out = _node(graph, f"b{i}/residual", "AddV2", [act.name, skip], T=1)
        if i % 7 == 6:  # an op Inferentia lacks: splits the clusters
            out = _node(graph, f"b{i}/cumsum", "Cumsum", [out.name, axis.name], T=1, Tidx=3)
        if i % 4 == 3:
            skip = out.name
        current, i = out.name, i + 1
    _node(graph, "y", "Identity", [current], T=1)
    signature = SignatureInfo(
        "serving_default",
        (TensorSpec("x", "x:0", 1, (-1, WIDTH)),),
        (TensorSpec("y", "y:0", 1, (-1, WIDTH)),),
    )
    return graph, signature
