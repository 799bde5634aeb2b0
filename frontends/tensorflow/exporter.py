"""NIR module -> GraphDef (and library FunctionDefs): the importer run backwards.

Node names, attributes (through the same AttrValue table), devices and control edges come back
as they went in. `neuron.cluster` ops are lowered by a `ClusterLowering` the caller chooses:
the default puts the cluster's ops back as ordinary CPU nodes; the Inferentia backend swaps in
one NeuronOp per compiled cluster.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from tensorflow.core.framework import function_pb2, graph_pb2, node_def_pb2
from xdsl.dialects import func
from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, ModuleOp, StringAttr
from xdsl.ir import BlockArgument, SSAValue

from frontends.tensorflow.attrs import attr_from_ir, attrs_from_ir, dims_to_shape_proto, write_attrs
from frontends.tensorflow.importer import (
    ARG_ATTRS,
    ARG_NODE,
    CONTROL_RET,
    FUNC_ATTRS,
    INPUT_KEY,
    MODULE_MIN_CONSUMER,
    MODULE_PRODUCER,
    MODULE_SIGNATURE_KEY,
    OUTPUT_KEY,
    STATEFUL,
    SignatureInfo,
    TensorSpec,
)
from frontends.tensorflow.opdefs import function_output_names
from frontends.tensorflow.weights import MIN_REFERENCED_BYTES, WeightStore, refer_to_payload
from nir.errors import NirError
from nir.ir.attr_names import MODULE_METHOD, MODULE_TAGS
from nir.ir.dtypes import dtype_of_ir_type
from nir.ir.module import entry_function
from nir.ir.neuron_dialect import ClusterOp, YieldOp
from nir.ir.op_facts import LOOP_NEXT_ITERATION_OPS
from nir.ir.shapes import element_type, tf_shape
from nir.ir.tf_attrs import TensorAttr, TensorPayload
from nir.ir.tf_dialect import TFNodeOp
from nir.ir.tf_types import ControlType


class GraphExportError(NirError):
    """IR that has no GraphDef form (e.g. an op nir does not know how to write back)."""


@dataclass
class GraphNames:
    """Tensor names of IR values in the GraphDef being written."""

    names: dict[SSAValue, str] = field(default_factory=dict)

    def tensor(self, value: SSAValue) -> str:
        try:
            return self.names[value]
        except KeyError:
            owner = value.owner
            if isinstance(owner, TFNodeOp) and owner.tf_type in LOOP_NEXT_ITERATION_OPS:
                # A TF1 loop's Merge reads its NextIteration, written later: the name is known.
                return "^" + owner.node_name if value is owner.control else _graph_tensor_name(owner, value.index)
            raise GraphExportError(f"value {value} is used before any node defines it") from None


ClusterLowering = Callable[[ClusterOp, GraphNames, graph_pb2.GraphDef], None]


def node_def_of(op: TFNodeOp, input_names: list[str]) -> node_def_pb2.NodeDef:
    node = node_def_pb2.NodeDef()
    _fill_node(node, op, input_names)
    return node


def _fill_node(node: node_def_pb2.NodeDef, op: TFNodeOp, input_names: list[str]) -> None:
    """Write `op` into `node` in place: constants are copied once, straight into the node."""
    node.name, node.op, node.device = op.node_name, op.tf_type, op.device
    node.input.extend(input_names)
    write_attrs(node.attr, op.attributes)


def _graph_tensor_name(op: TFNodeOp, port: int) -> str:
    return op.node_name if port == 0 else f"{op.node_name}:{port}"


def emit_graph_op(op: TFNodeOp, names: GraphNames, graph_def: graph_pb2.GraphDef) -> None:
    """Add `op` as a node of `graph_def`. Under `releasing_weights()`, a Const gives up its
    payload once it is in the graph, or, with a store, gives it to the store instead."""
    inputs = []
    for value in op.operands:
        name = names.tensor(value)
        if isinstance(value.type, ControlType):
            # A control token names its node; a data tensor name would make a data edge.
            name = "^" + name.lstrip("^").split(":")[0]
        inputs.append(name)
    node = graph_def.node.add()
    store = _WEIGHT_STORE.get()
    payload = _referable_payload(op) if store is not None else None
    if payload is None:
        _fill_node(node, op, inputs)
    else:
        _fill_node_referring(node, op, inputs, payload, store)
    if _RELEASE_WEIGHTS.get() and op.tf_type == "Const":
        release_payload(op)
    for port, result in enumerate(op.data_results):
        names.names[result] = _graph_tensor_name(op, port)
    names.names[op.control] = "^" + op.node_name


def _referable_payload(op: TFNodeOp) -> TensorPayload | None:
    """The payload of a Const worth keeping out of the graph (weights.py): raw and large."""
    if op.tf_type != "Const":
        return None
    value = op.attributes.get("value")
    if not isinstance(value, TensorAttr):
        return None
    payload = value.data
    if payload.encoding != "raw" or payload.data is None or len(payload.data) < MIN_REFERENCED_BYTES:
        return None
    return payload


def _fill_node_referring(node: node_def_pb2.NodeDef, op: TFNodeOp, input_names: list[str],
                         payload: TensorPayload, store: WeightStore) -> None:
    node.name, node.op, node.device = op.node_name, op.tf_type, op.device
    node.input.extend(input_names)
    write_attrs(node.attr, {k: v for k, v in op.attributes.items() if k != "value"})
    tensor = node.attr["value"].tensor
    tensor.dtype = dtype_of_ir_type(payload.type.element_type)
    tensor.tensor_shape.CopyFrom(dims_to_shape_proto(payload.type.get_shape()))
    refer_to_payload(node, payload.data, store)


_RELEASE_WEIGHTS: contextvars.ContextVar[bool] = contextvars.ContextVar("nir_release_weights", default=False)
_WEIGHT_STORE: contextvars.ContextVar[WeightStore | None] = contextvars.ContextVar("nir_export_store", default=None)


@contextlib.contextmanager
def releasing_weights(store: WeightStore | None = None) -> Iterator[None]:
    """Export that consumes the module's weights: each Const's payload is dropped from the IR
    as soon as its node holds the bytes, so a model's weights are not in memory twice (IR and
    GraphDef) at the end of a compile. The module is left with elided constants.

    With `store`, the large payloads of the entry function and its clusters go to `store`
    instead of the graph (weights.py): the graph never holds them, and each leaves memory when
    it is written."""
    token = _RELEASE_WEIGHTS.set(True)
    store_token = _WEIGHT_STORE.set(store)
    try:
        yield
    finally:
        _RELEASE_WEIGHTS.reset(token)
        _WEIGHT_STORE.reset(store_token)


@contextlib.contextmanager
def _weights_in_graph() -> Iterator[None]:
    """Library functions are serialized whole by everything that writes them: no references."""
    token = _WEIGHT_STORE.set(None)
    try:
        yield
    finally:
        _WEIGHT_STORE.reset(token)


def release_payload(op: TFNodeOp) -> None:
    value = op.attributes.get("value")
    if isinstance(value, TensorAttr) and value.data.data is not None:
        op.attributes["value"] = TensorAttr(TensorPayload(value.data.type, None, value.data.encoding))


def inline_cluster(cluster: ClusterOp, names: GraphNames, graph_def: graph_pb2.GraphDef) -> None:
    """Default lowering: the cluster's ops go back into the graph as CPU nodes."""
    for arg, outer in zip(cluster.block.args, cluster.inputs):
        names.names[arg] = names.tensor(outer)
    for inner in cluster.block.ops:
        if isinstance(inner, YieldOp):
            for result, value in zip(cluster.outputs, inner.values):
                names.names[result] = names.tensor(value)
        else:
            emit_graph_op(inner, names, graph_def)  # type: ignore[arg-type]


def drop_dangling_colocation(graph_def: graph_pb2.GraphDef) -> None:
    """Remove `_class: loc:@node` entries naming nodes the graph no longer has (passes remove
    and move nodes; TensorFlow refuses to import a colocation with an unknown node)."""
    present = {n.name for n in graph_def.node}
    for node in graph_def.node:
        if "_class" not in node.attr:
            continue
        entries = list(node.attr["_class"].list.s)
        kept = [e for e in entries if not e.startswith(b"loc:@") or e[5:].decode() in present]
        if len(kept) != len(entries):
            if kept:
                del node.attr["_class"].list.s[:]
                node.attr["_class"].list.s.extend(kept)
            else:
                del node.attr["_class"]


def _emit_block_ops(
    ops, names: GraphNames, graph_def: graph_pb2.GraphDef, lower_cluster: ClusterLowering
) -> None:
    for op in ops:
        if isinstance(op, TFNodeOp):
            emit_graph_op(op, names, graph_def)
        elif isinstance(op, ClusterOp):
            lower_cluster(op, names, graph_def)
        elif not isinstance(op, func.ReturnOp):
            raise GraphExportError(f"'{op.name}' has no GraphDef form")


def _placeholder(arg: BlockArgument, node_name: str, extra: DictionaryAttr | None) -> node_def_pb2.NodeDef:
    node = node_def_pb2.NodeDef(name=node_name, op="Placeholder")
    node.attr["dtype"].type = dtype_of_ir_type(element_type(arg.type))
    node.attr["shape"].shape.CopyFrom(dims_to_shape_proto(tf_shape(arg.type)))
    if extra is not None:
        for key, value in attrs_from_ir(extra.data).items():
            node.attr[key].CopyFrom(value)
    return node


def _dict_get(attrs: DictionaryAttr | None, key: str):
    return None if attrs is None else attrs.data.get(key)


def export_module(
    module: ModuleOp, lower_cluster: ClusterLowering = inline_cluster
) -> tuple[graph_pb2.GraphDef, SignatureInfo]:
    """The module's entry function as a GraphDef (library included) and its signature."""
    entry = entry_function(module)
    graph_def = graph_pb2.GraphDef()
    producer = module.attributes.get(MODULE_PRODUCER)
    if isinstance(producer, IntegerAttr):
        graph_def.versions.producer = producer.value.data
    min_consumer = module.attributes.get(MODULE_MIN_CONSUMER)
    if isinstance(min_consumer, IntegerAttr):
        graph_def.versions.min_consumer = min_consumer.value.data
    names = GraphNames()
    arg_attrs = entry.arg_attrs.data if entry.arg_attrs else [None] * len(entry.args)
    inputs = []
    for arg, attrs in zip(entry.args, arg_attrs):
        node_name = _dict_get(attrs, ARG_NODE)
        key = _dict_get(attrs, INPUT_KEY)
        if node_name is None or key is None:
            raise GraphExportError(
                f"argument {arg.index} of @{entry.sym_name.data} lacks {ARG_NODE}/{INPUT_KEY}"
            )
        graph_def.node.append(_placeholder(arg, node_name.data, _dict_get(attrs, ARG_ATTRS)))
        names.names[arg] = node_name.data
        inputs.append(_spec(key.data, node_name.data + ":0", arg))
    body = entry.body.block
    _emit_block_ops(body.ops, names, graph_def, lower_cluster)
    ret = body.last_op
    assert isinstance(ret, func.ReturnOp)
    res_attrs = entry.res_attrs.data if entry.res_attrs else [None] * len(ret.arguments)
    outputs = []
    for value, attrs in zip(ret.arguments, res_attrs):
        key = _dict_get(attrs, OUTPUT_KEY)
        if key is None:
            raise GraphExportError(f"a result of @{entry.sym_name.data} lacks {OUTPUT_KEY}")
        name = names.tensor(value)
        outputs.append(_spec(key.data, name if ":" in name else name + ":0", value))
    drop_dangling_colocation(graph_def)
    library_ops = [op for op in module.ops if isinstance(op, func.FuncOp) and op is not entry]
    signatures = {fn.sym_name.data: _function_signature(fn) for fn in library_ops}
    with _weights_in_graph():
        for fn in library_ops:
            graph_def.library.function.append(_function_def(fn, signatures, lower_cluster, graph_def.versions))
    tags = tuple(a.data for a in module.attributes[MODULE_TAGS].data)  # type: ignore[union-attr]
    method = module.attributes.get(MODULE_METHOD)
    key = module.attributes.get(MODULE_SIGNATURE_KEY)
    signature = SignatureInfo(
        key.data if isinstance(key, StringAttr) else entry.sym_name.data,
        tuple(inputs),
        tuple(outputs),
        method.data if isinstance(method, StringAttr) else "tensorflow/serving/predict",
        tags,
    )
    return graph_def, signature


def _spec(key: str, tensor_name: str, value: SSAValue) -> TensorSpec:
    return TensorSpec(key, tensor_name, dtype_of_ir_type(element_type(value.type)), tf_shape(value.type))


# --------------------------------------------------------------------------- functions


def _function_signature(fn: func.FuncOp) -> function_pb2.FunctionDef:
    fdef = function_pb2.FunctionDef()
    sig = fdef.signature
    sig.name = fn.sym_name.data
    arg_attrs = fn.arg_attrs.data if fn.arg_attrs else [None] * len(fn.args)
    for arg, attrs in zip(fn.args, arg_attrs):
        arg_def = sig.input_arg.add(name=_dict_get(attrs, INPUT_KEY).data)  # type: ignore[union-attr]
        arg_def.type = dtype_of_ir_type(element_type(arg.type))
    res_attrs = fn.res_attrs.data if fn.res_attrs else []
    for result_type, attrs in zip(fn.function_type.outputs.data, res_attrs):
        if (key := _dict_get(attrs, OUTPUT_KEY)) is not None:
            sig.output_arg.add(name=key.data, type=dtype_of_ir_type(element_type(result_type)))
        elif (ret := _dict_get(attrs, CONTROL_RET)) is not None:
            sig.control_output.append(ret.data)
    sig.is_stateful = STATEFUL in fn.attributes
    return fdef


def _function_def(
    fn: func.FuncOp, signatures: Mapping[str, function_pb2.FunctionDef],
    lower_cluster: ClusterLowering = inline_cluster, versions=None,
) -> function_pb2.FunctionDef:
    fdef = function_pb2.FunctionDef()
    fdef.CopyFrom(signatures[fn.sym_name.data])
    names: dict[SSAValue, str] = {}
    arg_attrs = fn.arg_attrs.data if fn.arg_attrs else [None] * len(fn.args)
    for index, (arg, attrs) in enumerate(zip(fn.args, arg_attrs)):
        names[arg] = fdef.signature.input_arg[index].name
        if (extra := _dict_get(attrs, ARG_ATTRS)) is not None:
            for key, value in attrs_from_ir(extra.data).items():
                fdef.arg_attr[index].attr[key].CopyFrom(value)
    for op in fn.body.block.ops:
        if isinstance(op, func.ReturnOp):
            continue
        if isinstance(op, ClusterOp):
            _lower_cluster_in_function(op, names, fdef, signatures, lower_cluster, versions)
            continue
        if not isinstance(op, TFNodeOp):
            raise GraphExportError(f"'{op.name}' in @{fn.sym_name.data} has no FunctionDef form")
        _emit_function_op(op, names, fdef, signatures)
    ret = fn.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    res_attrs = fn.res_attrs.data if fn.res_attrs else []
    for value, attrs in zip(ret.arguments, res_attrs):
        if (key := _dict_get(attrs, OUTPUT_KEY)) is not None:
            fdef.ret[key.data] = names[value]
        elif (control := _dict_get(attrs, CONTROL_RET)) is not None:
            fdef.control_ret[control.data] = names[value].lstrip("^")
    if (attrs := fn.attributes.get(FUNC_ATTRS)) is not None:
        for key, value in attrs.data.items():  # type: ignore[union-attr]
            fdef.attr[key].CopyFrom(attr_from_ir(value))
    return fdef


def _emit_function_op(op: TFNodeOp, names: dict[SSAValue, str], fdef: function_pb2.FunctionDef,
                      signatures: Mapping[str, function_pb2.FunctionDef]) -> None:
    node = node_def_of(op, [names[value] for value in op.operands])
    fdef.node_def.append(node)
    _name_function_outputs(op, node, signatures, names)


def _lower_cluster_in_function(
    cluster: ClusterOp, names: dict[SSAValue, str], fdef: function_pb2.FunctionDef,
    signatures: Mapping[str, function_pb2.FunctionDef], lower_cluster: ClusterLowering, versions,
) -> None:
    """A cluster inside a loop or branch body. The default lowering puts its ops back as body
    nodes; any other lowering writes its nodes as for a graph, and their outputs are then named
    as a FunctionDef names them (`node:out_arg:index`)."""
    if lower_cluster is inline_cluster:
        for arg, outer in zip(cluster.block.args, cluster.inputs):
            names[arg] = names[outer]
        for inner in cluster.block.ops:
            if isinstance(inner, YieldOp):
                for result, value in zip(cluster.outputs, inner.values):
                    names[result] = names[value]
            else:
                _emit_function_op(inner, names, fdef, signatures)  # type: ignore[arg-type]
        return
    scratch = graph_pb2.GraphDef()
    if versions is not None:
        scratch.versions.CopyFrom(versions)
    graph_names = GraphNames(names)
    lower_cluster(cluster, graph_names, scratch)
    flat_names = {}
    for node in scratch.node:
        fdef.node_def.append(node)
        for port, name in enumerate(function_output_names(node, signatures)):
            flat_names[node.name if port == 0 else f"{node.name}:{port}"] = name
    for result in cluster.outputs:
        names[result] = flat_names[names[result]]


def _name_function_outputs(
    op: TFNodeOp,
    node: node_def_pb2.NodeDef,
    signatures: Mapping[str, function_pb2.FunctionDef],
    names: dict[SSAValue, str],
) -> None:
    """FunctionDef bodies name outputs 'node:out_arg:index', not by flat port."""
    names.update(zip(op.data_results, function_output_names(node, signatures)))
    names[op.control] = "^" + node.name

