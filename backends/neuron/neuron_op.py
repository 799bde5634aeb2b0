"""NeuronOp nodes: made from neuron.cluster ops, and inlined back into plain TensorFlow.

A NeuronOp carries its cluster as a self-contained GraphDef (one Placeholder per distinct
outside tensor, named `<source node><port>/_<n>` as the original names them, plus the cluster's
nodes and weights) and, once compiled, the NEFF in `executable`. Inlining puts the embedded
graph back in place of the node, which is how nir restores clusters neuron-cc did not compile
and how a compiled model's wiring is checked in stock TensorFlow.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tensorflow.core.framework import graph_pb2, node_def_pb2, op_def_pb2
from xdsl.ir import Operation

from frontends.tensorflow.attrs import dims_to_shape_proto
from frontends.tensorflow.exporter import GraphNames, drop_dangling_colocation, emit_graph_op
from frontends.tensorflow.importer import split_tensor_name
from frontends.tensorflow.opdefs import function_output_names, register_op_def
from frontends.tensorflow.output_names import is_stand_in
from nir.ir.attr_names import BATCH_AXES_PROVED
from nir.ir.dtypes import dtype_of_ir_type
from nir.ir.module import entry_function
from nir.ir.neuron_dialect import ClusterOp, YieldOp
from nir.ir.queries import carries_batch, proven_batch_axis
from nir.ir.shapes import element_type, tf_shape

logger = logging.getLogger("nir")

NEURON_OP = "NeuronOp"
TARGET_ATTR = "_target"


def neuron_op_def() -> op_def_pb2.OpDef:
    """NeuronOp's OpDef, as the Neuron runtime registers it (the facts in shared/reference)."""
    op_def = op_def_pb2.OpDef(name=NEURON_OP, is_stateful=True)
    op_def.input_arg.add(name="input_tensors", type_list_attr="input_dtypes")
    op_def.output_arg.add(name="output_tensors", type_list_attr="output_dtypes")
    for name, kind in (
        ("graph_def", "string"), ("executable", "string"), ("input_names", "list(string)"),
        ("input_dtypes", "list(type)"), ("input_shapes", "list(shape)"), ("output_names", "list(string)"),
        ("output_dtypes", "list(type)"), ("output_shapes", "list(shape)"), ("input_batch_axis", "list(int)"),
        ("output_batch_axis", "list(int)"), ("model_config", "list(int)"),
    ):
        op_def.attr.add(name=name, type=kind)
    return op_def


register_op_def(neuron_op_def())
# model_config: [global NeuronCores, this op's NeuronCores, max concurrent duplicates,
# runtime timeout in seconds]; -1 lets the Neuron runtime choose.
DEFAULT_MODEL_CONFIG = (-1, -1, -1, 10)


@dataclass(frozen=True)
class NeuronOpLowering:
    """Lowers each neuron.cluster to one NeuronOp node with an empty executable. A target other
    than inferentia is recorded in the node's `_target` attribute (an internal attribute, so the
    NeuronOp OpDef is unchanged), which tells relift which compiler's NEFF to look for."""

    dynamic_batch: bool = False
    target: str = "inferentia"

    def __call__(self, cluster: ClusterOp, names: GraphNames, graph_def: graph_pb2.GraphDef) -> None:
        outer_inputs = [names.tensor(outer) for outer in cluster.inputs]
        placeholders = []
        for n, outer_name in enumerate(outer_inputs):
            source, port = split_tensor_name(outer_name)
            # Inside a function body, tensors are named `node:out_arg:index`; ':' may not
            # appear in a node name.
            placeholders.append(f"{source.replace(':', '_')}{port}/_{n}")
        inner, input_names, output_names = cluster_graph(cluster, placeholders, graph_def.versions)
        serialized = inner.SerializeToString(deterministic=True)
        del inner  # a cluster's weights: hold them as few times as possible
        node_name = neuron_op_name(cluster)
        node = graph_def.node.add(name=node_name, op=NEURON_OP)
        node.input.extend(outer_inputs)
        set_neuron_op_attrs(
            node, serialized, input_names,
            [a.type for a in cluster.block.args], output_names, [r.type for r in cluster.outputs],
            *cluster_batch_axes(cluster, self.dynamic_batch, node_name),
        )
        if self.target != "inferentia":
            node.attr[TARGET_ATTR].s = self.target.encode()
        for index, result in enumerate(cluster.outputs):
            names.names[result] = node_name if index == 0 else f"{node_name}:{index}"


def cluster_graph(
    cluster: ClusterOp, placeholders: Sequence[str], versions=None
) -> tuple[graph_pb2.GraphDef, list[str], list[str]]:
    """The cluster as a self-contained GraphDef: one Placeholder per input (named
    `placeholders[i]`), its nodes and weights. Returns (graph, input tensor names, output
    tensor names)."""
    inner = graph_pb2.GraphDef()
    if versions is not None:
        inner.versions.CopyFrom(versions)
    inner_names = GraphNames()
    input_names: list[str] = []
    for arg, placeholder in zip(cluster.block.args, placeholders):
        node = inner.node.add(name=placeholder, op="Placeholder")
        node.attr["dtype"].type = dtype_of_ir_type(element_type(arg.type))
        node.attr["shape"].shape.CopyFrom(dims_to_shape_proto(tf_shape(arg.type)))
        inner_names.names[arg] = placeholder
        input_names.append(placeholder + ":0")
    output_names: list[str] = []
    for op in cluster.block.ops:
        if isinstance(op, YieldOp):
            for value in op.values:
                name = inner_names.tensor(value)
                output_names.append(name if ":" in name else name + ":0")
        else:
            emit_graph_op(op, inner_names, inner)  # type: ignore[arg-type]
    drop_dangling_colocation(inner)
    return inner, input_names, output_names


def canonical_cluster_graph(
    inner: graph_pb2.GraphDef, input_names: Sequence[str], output_names: Sequence[str]
) -> tuple[bytes, tuple[str, ...], tuple[str, ...]]:
    """The cluster graph with its Placeholders renamed `input_<i>` in input order, serialized
    deterministically: the same cluster gives the same bytes whether it was cut out of the IR
    by a pass or read from a NeuronOp, so lowerings can be cached by content."""
    renames = {name.split(":")[0]: f"input_{i}" for i, name in enumerate(input_names)}
    canonical = graph_pb2.GraphDef()
    canonical.CopyFrom(inner)
    canonical.ClearField("versions")  # a NeuronOp's graph carries the model's; the IR's none
    for node in canonical.node:
        node.name = renames.get(node.name, node.name)
        for i, source in enumerate(node.input):
            control, name = ("^", source[1:]) if source.startswith("^") else ("", source)
            node_part, sep, port = name.partition(":")
            if node_part in renames:
                node.input[i] = f"{control}{renames[node_part]}{sep}{port}"
    inputs = tuple(f"input_{i}:0" for i in range(len(input_names)))
    outputs = tuple(_renamed_tensor(n, renames) for n in output_names)
    return canonical.SerializeToString(deterministic=True), inputs, outputs


def _renamed_tensor(name: str, renames: dict[str, str]) -> str:
    node, sep, port = name.partition(":")
    return f"{renames.get(node, node)}{sep}{port}"


def neuron_op_name(cluster: ClusterOp) -> str:
    """`<most common name scope>/neuron_op_<hash>`, as the original names NeuronOps."""
    scopes = Counter(
        op.node_name.rpartition("/")[0] for op in cluster.block.ops if hasattr(op, "node_name")
    )
    scope = min(scopes.items(), key=lambda kv: (-kv[1], kv[0]))[0] if scopes else ""
    name = cluster.cluster_name.data
    return f"{scope}/{name}" if scope else name


def cluster_batch_axes(cluster: ClusterOp, dynamic: bool, node_name: str) -> tuple[list[int], list[int]]:
    """The NeuronOp's input and output batch axes: 0 where the tensor carries the batch on dim 0
    (the runtime cuts a bigger batch there), -1 for a fixed one; all -1 unless dynamic batch was
    asked for. In the entry function of a proved module the axes are what prove-batch-axes
    proved, and a NeuronOp the runtime may not cut runs at its compiled batch (see why_not_cut);
    elsewhere, what shape inference tracked."""
    values = [*cluster.block.args, *cluster.outputs]
    axes = batch_axes_to_cut(cluster) if dynamic else [-1] * len(values)
    if isinstance(axes, str):
        logger.warning("%s runs at its compiled batch only: %s", node_name, axes)
        axes = [-1] * len(values)
    return axes[:len(cluster.block.args)], axes[len(cluster.block.args):]


def batch_axes_to_cut(cluster: ClusterOp) -> list[int] | str:
    """The axes (inputs then outputs) along which the runtime may cut the cluster, or why it
    may not: proved in the entry function of a proved module, tracked elsewhere."""
    values = [*cluster.block.args, *cluster.outputs]
    if not in_proved_entry_function(cluster):
        return [0 if carries_batch(v) else -1 for v in values]
    axes = [proven_batch_axis(v) for v in values]
    why = why_not_cut(cluster, axes)
    return axes if why is None else why


def why_not_cut(cluster: ClusterOp, axes: list[int | None]) -> str | None:
    """Why the runtime may not cut this cluster along the batch, given its proven axes (inputs
    then outputs), if it may not. Cutting runs the cluster on pieces of the batch, so each
    output must be the pieces' outputs joined (axis 0) or not depend on the pieces at all."""
    args, outputs = cluster.block.args, list(cluster.block.last_op.operands)
    for value, axis in zip([*args, *cluster.outputs], axes):
        if axis is None:
            return (f"its {_describe_boundary(cluster, value)} cannot be cut along dimension 0 for dynamic "
                    "batch (its shape does not follow the batch as [batch, ...])")
    batched = {arg for arg, axis in zip(args, axes) if axis == 0}
    for index, (value, axis) in enumerate(zip(outputs, axes[len(args):])):
        if axis == 0 and not batched:
            return (f"its {_describe_boundary(cluster, cluster.outputs[index])} carries the batch, which none of "
                    "its inputs brings (cut, it would come out at the compiled batch)")
        if axis == -1 and batched & inputs_reaching(value):
            return (f"its {_describe_boundary(cluster, cluster.outputs[index])} is computed across the batch "
                    "into a fixed shape (a reduction over it): each piece would give its own")
    return None


def inputs_reaching(value) -> set:
    """The cluster's block arguments `value` is computed from."""
    seen, stack, reached = set(), [value], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        owner = current.owner
        if isinstance(owner, Operation):
            stack.extend(owner.operands)
        else:
            reached.add(current)
    return reached


def in_proved_entry_function(cluster: ClusterOp) -> bool:
    """Whether prove-batch-axes ran (dynamic batch asked for or left to nir) and the cluster is
    in the entry function, which it proves."""
    function = cluster.parent_op()
    module = function.parent_op() if function is not None else None
    return (module is not None and BATCH_AXES_PROVED in module.attributes
            and function is entry_function(module))


def _describe_boundary(cluster: ClusterOp, value) -> str:
    if value in cluster.block.args:
        outer = cluster.inputs[value.index]
        owner = outer.owner
        return f"input {getattr(owner, 'node_name', 'argument')}:{getattr(outer, 'index', 0)}"
    terminator = cluster.block.last_op
    inner = terminator.values[value.index]
    return f"output {getattr(inner.owner, 'node_name', '?')}:{inner.index}"


def set_neuron_op_attrs(
    node: node_def_pb2.NodeDef, inner: bytes, input_names: Sequence[str],
    input_types, output_names: Sequence[str], output_types, input_axes: Sequence[int],
    output_axes: Sequence[int],
) -> None:
    attr = node.attr
    attr["graph_def"].s = inner
    attr["executable"].s = b""
    attr["input_names"].list.s.extend(n.encode() for n in input_names)
    attr["input_dtypes"].list.type.extend(dtype_of_ir_type(element_type(t)) for t in input_types)
    attr["input_shapes"].list.shape.extend(dims_to_shape_proto(tf_shape(t)) for t in input_types)
    attr["output_names"].list.s.extend(n.encode() for n in output_names)
    attr["output_dtypes"].list.type.extend(dtype_of_ir_type(element_type(t)) for t in output_types)
    attr["output_shapes"].list.shape.extend(dims_to_shape_proto(tf_shape(t)) for t in output_types)
    attr["input_batch_axis"].list.i.extend(input_axes)
    attr["output_batch_axis"].list.i.extend(output_axes)
    attr["model_config"].list.i.extend(DEFAULT_MODEL_CONFIG)


def neuron_ops(graph_def: graph_pb2.GraphDef) -> list[node_def_pb2.NodeDef]:
    """The NeuronOp nodes of the graph and of its library functions (loop and branch bodies)."""
    found = [n for n in graph_def.node if n.op == NEURON_OP]
    for fdef in graph_def.library.function:
        found.extend(n for n in fdef.node_def if n.op == NEURON_OP)
    return found


def count_nodes(graph_def: graph_pb2.GraphDef) -> int:
    """Nodes of the graph and of its library functions."""
    return len(graph_def.node) + sum(len(f.node_def) for f in graph_def.library.function)


def inner_graph(node: node_def_pb2.NodeDef) -> graph_pb2.GraphDef:
    return graph_pb2.GraphDef.FromString(node.attr["graph_def"].s)


def ops_on_neuron(node: node_def_pb2.NodeDef) -> int:
    """The original's count: nodes of the embedded graph that are not its Placeholders."""
    return sum(1 for n in inner_graph(node).node if n.op != "Placeholder")


def inline_neuron_op_nodes(graph_def: graph_pb2.GraphDef, which=None, consume: bool = False) -> graph_pb2.GraphDef:
    """`graph_def` with NeuronOps (all, or those `which(node)` accepts) replaced by their
    embedded graphs, wired to the same outside tensors. Returns `graph_def` itself when there is
    nothing to inline, else a new graph into which every node is copied once. With `consume`,
    each inlined NeuronOp's embedded graph is dropped from `graph_def` once copied, so the
    weights are not held twice."""
    chosen = [n for n in graph_def.node if n.op == NEURON_OP and (which is None or which(n))]
    in_functions = any(
        n.op == NEURON_OP and (which is None or which(n)) for f in graph_def.library.function for n in f.node_def
    )
    if not chosen and not in_functions:
        return graph_def
    rename: dict[str, str] = {}
    for node in chosen:
        for index, name in enumerate(node.attr["output_names"].list.s):
            rename[node.name if index == 0 else f"{node.name}:{index}"] = name.decode()
            if index == 0:
                rename[f"{node.name}:0"] = name.decode()

    def renamed(i: str) -> str:
        if i.startswith("^"):
            target = rename.get(i[1:])
            return "^" + split_tensor_name(target)[0] if target else i
        return _strip_port0(rename.get(i, i))

    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    chosen_names = {n.name for n in chosen}
    # An output stand-in gives way to the real node of its name, which inlining brings back.
    inner_names = {inner.name for n in chosen for inner in inner_graph(n).node} if any(
        is_stand_in(n) for n in graph_def.node) else set()
    for node in graph_def.node:
        if is_stand_in(node) and node.name in inner_names:
            continue
        if node.name not in chosen_names:
            _add_with_inputs(out, node, [renamed(i) for i in node.input])
            continue
        feeds = _feeds(node)

        def graph_input(i: str) -> str:
            source = split_tensor_name(i.lstrip("^"))[0]
            if source not in feeds:
                return i
            return "^" + split_tensor_name(feeds[source])[0] if i.startswith("^") else feeds[source]

        inner = inner_graph(node)
        if consume:
            node.attr["graph_def"].s = b""
        for inner_node in inner.node:
            if inner_node.op == "Placeholder" and inner_node.name in feeds:
                continue
            _add_with_inputs(out, inner_node, [renamed(graph_input(i)) for i in inner_node.input])
        del inner
    drop_dangling_colocation(out)
    library = {f.signature.name: f for f in out.library.function}
    for fdef in out.library.function:
        if any(n.op == NEURON_OP and (which is None or which(n)) for n in fdef.node_def):
            _inline_in_function(fdef, which, library)
    return out


def _add_with_inputs(graph_def: graph_pb2.GraphDef, node: node_def_pb2.NodeDef, inputs: list[str]) -> None:
    copy = graph_def.node.add()
    copy.CopyFrom(node)
    del copy.input[:]
    copy.input.extend(inputs)


def _feeds(node: node_def_pb2.NodeDef) -> dict[str, str]:
    """A NeuronOp's inner Placeholder names -> the outside tensors that feed them."""
    return {split_tensor_name(name.decode())[0]: outer
            for name, outer in zip(node.attr["input_names"].list.s, node.input)}


def _inner_nodes(inner: graph_pb2.GraphDef, feeds: dict[str, str], rewrite_input) -> list[node_def_pb2.NodeDef]:
    """Copies of the embedded graph's nodes, but the fed Placeholders, with inputs rewritten."""
    copies = []
    for inner_node in inner.node:
        if inner_node.op == "Placeholder" and inner_node.name in feeds:
            continue
        copy = node_def_pb2.NodeDef()
        copy.CopyFrom(inner_node)
        del copy.input[:]
        copy.input.extend(rewrite_input(i) for i in inner_node.input)
        copies.append(copy)
    return copies


def _inline_in_function(fdef, which, library) -> None:
    """As inline_neuron_op_nodes, inside a FunctionDef body, whose tensors are named
    `node:out_arg:index` rather than by flat port."""
    rename: dict[str, str] = {}
    kept: list[node_def_pb2.NodeDef] = []
    for node in fdef.node_def:
        if node.op != NEURON_OP or (which is not None and not which(node)):
            kept.append(node)
            continue
        inner = inner_graph(node)
        feeds = _feeds(node)
        inner_nodes = {n.name: n for n in inner.node}

        def function_name(tensor: str) -> str:
            source, port = split_tensor_name(tensor)
            if source in feeds:
                return feeds[source]
            return function_output_names(inner_nodes[source], library)[port]

        for index, name in enumerate(node.attr["output_names"].list.s):
            rename[f"{node.name}:output_tensors:{index}"] = function_name(name.decode())
        first_output = function_name(node.attr["output_names"].list.s[0].decode())
        rename["^" + node.name] = "^" + first_output.split(":")[0]
        def body_input(i: str) -> str:
            if not i.startswith("^"):
                return function_name(i)
            return "^" + feeds[i[1:]].lstrip("^").split(":")[0] if i[1:] in feeds else i

        kept.extend(_inner_nodes(inner, feeds, body_input))
    del fdef.node_def[:]
    for node in kept:
        inputs = [rename.get(i, i) for i in node.input]
        del node.input[:]
        node.input.extend(inputs)
        fdef.node_def.append(node)
    for key, value in list(fdef.ret.items()):
        fdef.ret[key] = rename.get(value, value)


def _strip_port0(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def renamed_outputs(graph_def: graph_pb2.GraphDef) -> dict[str, str]:
    """NeuronOp output tensor name -> the inner tensor it stands for (for signatures)."""
    mapping = {}
    for node in neuron_ops(graph_def):
        for index, name in enumerate(node.attr["output_names"].list.s):
            mapping[f"{node.name}:{index}"] = name.decode()
    return mapping


def neuron_op_target(node: node_def_pb2.NodeDef) -> str:
    """The target a NeuronOp was made for (inferentia unless its `_target` says otherwise)."""
    return node.attr[TARGET_ATTR].s.decode() if TARGET_ATTR in node.attr else "inferentia"
