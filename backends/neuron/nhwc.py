"""NCHW convolutions and pools left on CPU become NHWC between two transposes.

Neuron compiles NCHW convolutions, so models written for it (or for GPUs) have them; when such
a cluster does not compile and returns to CPU, TensorFlow's CPU kernels may refuse it ("Default
AvgPoolingOp only supports NHWC on device type CPU", for float16 say). As the original does
after restoring failed clusters, every such op of the final graph is rewritten: its input is
transposed to NHWC, the op runs in NHWC (its strides, window and dilations permuted), and a
Transpose back to NCHW takes the op's name, so every reader and signature is unchanged.
"""

from __future__ import annotations

from tensorflow.core.framework import graph_pb2, node_def_pb2, types_pb2

from nir.ir.names import unique_name

REWRITTEN = frozenset({"AvgPool", "MaxPool", "Conv2D", "DepthwiseConv2dNative"})
_PER_DIMENSION = ("strides", "ksize", "dilations")  # list attrs in data_format order
TO_NHWC, TO_NCHW = (0, 2, 3, 1), (0, 3, 1, 2)


def nchw_ops_to_nhwc(graph_def: graph_pb2.GraphDef) -> int:
    """Rewrite the NCHW ops of `graph_def` (its top level) in place; returns how many."""
    chosen = [n for n in graph_def.node if n.op in REWRITTEN and n.attr["data_format"].s == b"NCHW"]
    if not chosen:
        return 0
    taken = {n.name for n in graph_def.node}
    to_nhwc = _perm_constant(graph_def, unique_name("nir_nhwc/to_nhwc", taken), TO_NHWC)
    to_nchw = _perm_constant(graph_def, unique_name("nir_nhwc/to_nchw", taken), TO_NCHW)
    for node in chosen:
        _rewrite(graph_def, node, to_nhwc, to_nchw, taken)
    return len(chosen)


def _rewrite(graph_def, node: node_def_pb2.NodeDef, to_nhwc: str, to_nchw: str, taken: set[str]) -> None:
    name, dtype = node.name, node.attr["T"].type
    transposed_input = _transpose(graph_def, unique_name(f"{name}/nir_input_nhwc", taken), node.input[0], to_nhwc, dtype)
    node.name = unique_name(f"{name}/nir_nhwc", taken)
    node.input[0] = transposed_input
    node.attr["data_format"].s = b"NHWC"
    node.attr.pop("_output_shapes", None)  # recorded for NCHW
    for attr in _PER_DIMENSION:
        if attr in node.attr and len(node.attr[attr].list.i) == 4:
            values = list(node.attr[attr].list.i)
            node.attr[attr].list.i[:] = [values[i] for i in TO_NHWC]
    if "explicit_paddings" in node.attr and len(node.attr["explicit_paddings"].list.i) == 8:
        pairs = list(zip(*[iter(node.attr["explicit_paddings"].list.i)] * 2))
        node.attr["explicit_paddings"].list.i[:] = [v for i in TO_NHWC for v in pairs[i]]
    _transpose(graph_def, name, node.name, to_nchw, dtype)


def _transpose(graph_def, name: str, source: str, perm: str, dtype: int) -> str:
    node = graph_def.node.add(name=name, op="Transpose", input=[source, perm])
    node.attr["T"].type = dtype
    node.attr["Tperm"].type = types_pb2.DT_INT32
    return name


def _perm_constant(graph_def, name: str, perm) -> str:
    node = graph_def.node.add(name=name, op="Const")
    node.attr["dtype"].type = types_pb2.DT_INT32
    tensor = node.attr["value"].tensor
    tensor.dtype = types_pb2.DT_INT32
    tensor.tensor_shape.dim.add(size=len(perm))
    tensor.int_val.extend(perm)
    return name
