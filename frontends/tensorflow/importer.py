"""GraphDef -> NIR module.

The module holds one `func.func` for the chosen signature (its arguments are the signature's
inputs, its results the signature's outputs, in key order) and one private `func.func` per
library function (the bodies of While/If/... referenced by `#tf.func` attributes). Ops are
laid out in topological order; TF1 loops (NextIteration -> Merge) are the only back edges,
and they stay as forward references.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from tensorflow.core.framework import function_pb2, graph_pb2, node_def_pb2
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    i64,
)
from xdsl.ir import Attribute, Block, Region, SSAValue
from xdsl.parser.core import ForwardDeclaredValue

from frontends.tensorflow.attrs import attrs_to_ir, shape_proto_to_dims
from frontends.tensorflow.checkpoint import CHECKPOINT_KEY_ATTR
from frontends.tensorflow.opdefs import node_output_dtypes, op_def_for, output_args
from nir.errors import NirInputError
from nir.ir.attr_names import (
    ARG_ATTRS,
    ARG_NODE,
    CONTROL_RET,
    ENTRY_FUNCTION_ATTR,
    FUNC_ATTRS,
    INPUT_KEY,
    MODULE_METHOD,
    MODULE_MIN_CONSUMER,
    MODULE_PRODUCER,
    MODULE_SIGNATURE_KEY,
    MODULE_TAGS,
    OUTPUT_KEY,
    STATEFUL,
)
from nir.ir.dtypes import ir_type_of_dtype
from nir.ir.op_facts import is_loop_back_edge
from nir.ir.shapes import element_type, tensor_type
from nir.ir.tf_attrs import TensorAttr
from nir.ir.tf_dialect import CONTROL, TFNodeOp, create_tf_op, name_hint

# Attribute keys nir uses on functions, arguments and results.
MODULE_SIGNATURE = ENTRY_FUNCTION_ATTR

_DERIVED_ATTRS = ("_output_shapes",)


class GraphImportError(NirInputError):
    """A GraphDef nir cannot turn into IR; the message names the node and the problem."""


@dataclass(frozen=True)
class TensorSpec:
    """One signature input or output: its key, graph tensor name, dtype and TF shape."""

    key: str
    tensor_name: str
    dtype: int
    shape: tuple[int, ...] | None


@dataclass(frozen=True)
class SignatureInfo:
    key: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    method_name: str = "tensorflow/serving/predict"
    tags: tuple[str, ...] = ("serve",)
    # The node the loader runs once before serving (the SavedModel's main op: lookup tables'
    # initializers), kept through a compile.
    init_op: str | None = None
    # The TF2 SavedModel (absolute path) whose object graph the output keeps: set when the
    # input was written by tf.saved_model.save or a Keras export (see object_graph.py).
    object_graph_from: str | None = None
    # The SavedModel's asset files (vocabularies), as (tensor the loader feeds the file's path
    # to, absolute path of the file): copied into the output's assets/ (see main_op.py).
    assets: tuple[tuple[str, str], ...] = ()


def split_tensor_name(name: str) -> tuple[str, int]:
    """'node:1' -> ('node', 1); 'node' -> ('node', 0)."""
    node, sep, port = name.rpartition(":")
    if sep and port.isdigit():
        return node, int(port)
    return name, 0


def full_tensor_name(name: str) -> str:
    """'node' -> 'node:0'; 'node:1' stays: one spelling per tensor, to compare and look up."""
    node, port = split_tensor_name(name)
    return f"{node}:{port}"


@dataclass
class _BodyBuilder:
    """Lowers one graph (or one function body) into a block."""

    library: Mapping[str, function_pb2.FunctionDef]
    block: Block
    weights: Callable[[str], np.ndarray] | None = None  # checkpoint key -> value
    bindings: dict[str, SSAValue] = field(default_factory=dict)
    ops: dict[str, TFNodeOp] = field(default_factory=dict)

    def value_of(self, tensor_name: str, user: str) -> SSAValue:
        if tensor_name.startswith("^"):
            node = tensor_name[1:]
            if node in self.ops:
                return self.ops[node].control
            raise GraphImportError(f"node '{user}' has a control input from unknown node '{node}'")
        node, port = split_tensor_name(tensor_name)
        if node in self.bindings:
            if port == 0:
                return self.bindings[node]
            raise GraphImportError(f"node '{user}' reads output {port} of '{node}', which has 1 outputs")
        op = self.ops.get(node)
        if op is None:
            raise GraphImportError(f"node '{user}' reads '{tensor_name}', which no node produces")
        if port >= len(op.data_results):
            raise GraphImportError(
                f"node '{user}' reads output {port} of '{node}', which has "
                f"{len(op.data_results)} outputs"
            )
        return op.data_results[port]

    def lower_nodes(self, nodes: Sequence[node_def_pb2.NodeDef]) -> None:
        by_name = {n.name: n for n in nodes}
        if len(by_name) != len(nodes):
            dup = _first_duplicate(n.name for n in nodes)
            raise GraphImportError(f"the graph has two nodes named '{dup}'")
        order, back_edges = _topological_order(nodes, by_name, self.bindings)
        forward: list[tuple[TFNodeOp, int, str]] = []
        for node in order:
            op = self._create_op(node, back_edges.get(node.name, ()), forward)
            self.ops[node.name] = op
            self.block.add_op(op)
        for op, index, tensor_name in forward:
            placeholder = op.operands[index]
            placeholder.replace_all_uses_with(self.value_of(tensor_name, op.node_name))

    def _create_op(
        self,
        node: node_def_pb2.NodeDef,
        deferred: Iterable[int],
        forward: list[tuple[TFNodeOp, int, str]],
    ) -> TFNodeOp:
        try:
            dtypes = node_output_dtypes(node, self.library)
        except ValueError as err:
            raise GraphImportError(f"node '{node.name}' ({node.op}): {err}") from None
        shapes = _output_shapes(node, len(dtypes))
        result_types = [tensor_type(ir_type_of_dtype(d), s) for d, s in zip(dtypes, shapes)]
        deferred = set(deferred)
        data: list[SSAValue] = []
        control: list[SSAValue] = []
        pending: list[tuple[int, str]] = []
        for index, name in enumerate(node.input):
            if index in deferred:
                # Control inputs come last in a NodeDef, so this is also the operand index.
                data.append(ForwardDeclaredValue(CONTROL))
                pending.append((index, name))
                continue
            if name.startswith("^"):
                if name[1:] in self.bindings:
                    continue  # arguments have nothing to wait for
                control.append(self.value_of(name, node.name))
            else:
                data.append(self.value_of(name, node.name))
        attrs = {k: v for k, v in node.attr.items() if k not in _DERIVED_ATTRS}
        weight = self._checkpoint_value(node, attrs, result_types)
        ir_attrs = attrs_to_ir(attrs)
        if weight is not None:
            ir_attrs["value"] = weight
        op = create_tf_op(
            node.op, node.name, data, result_types, ir_attrs, control, node.device
        )
        forward.extend((op, index, name) for index, name in pending)
        return op


    def _checkpoint_value(self, node: node_def_pb2.NodeDef, attrs: dict, result_types) -> TensorAttr | None:
        """A variable frozen without its weights (see checkpoint.py): its value, read from the
        checkpoint now, one variable at a time, instead of its placeholder splat."""
        if CHECKPOINT_KEY_ATTR not in attrs:
            return None
        key = attrs.pop(CHECKPOINT_KEY_ATTR).s.decode()
        del attrs["value"]
        if self.weights is None:
            raise GraphImportError(f"node '{node.name}' refers to checkpoint key '{key}', but no checkpoint was given")
        array = self.weights(key)  # a NirInputError naming the checkpoint if it cannot
        expected = result_types[0].get_shape()
        if tuple(array.shape) != tuple(expected):
            raise GraphImportError(
                f"variable '{node.name}' has shape {list(expected)} in the graph but {list(array.shape)} "
                f"in the checkpoint (key '{key}'); the SavedModel's variables do not belong to its graph"
            )
        return TensorAttr.from_numpy(array, result_types[0])


def _first_duplicate(names: Iterable[str]) -> str:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return ""


def _output_shapes(node: node_def_pb2.NodeDef, count: int) -> list[tuple[int, ...] | None]:
    shapes = node.attr.get("_output_shapes")
    if shapes is not None and len(shapes.list.shape) == count:
        return [shape_proto_to_dims(s) for s in shapes.list.shape]
    if node.op == "Const" and "value" in node.attr:
        return [shape_proto_to_dims(node.attr["value"].tensor.tensor_shape)]
    return [None] * count


def _topological_order(
    nodes: Sequence[node_def_pb2.NodeDef],
    by_name: Mapping[str, node_def_pb2.NodeDef],
    bindings: Mapping[str, SSAValue],
) -> tuple[list[node_def_pb2.NodeDef], dict[str, list[int]]]:
    """Nodes in an order where every input comes first, stable with respect to the GraphDef
    (so the same graph always prints the same way). Inputs from NextIteration nodes into
    Merge nodes are TF1 loop back edges: they are returned separately, not ordered."""
    back_edges: dict[str, list[int]] = {}
    deps: dict[str, list[str]] = {}
    for node in nodes:
        node_deps = []
        for index, name in enumerate(node.input):
            source = split_tensor_name(name.lstrip("^"))[0]
            if source in bindings or source not in by_name:
                continue  # unknown sources are reported when the input is looked up
            if is_loop_back_edge(node.op, by_name[source].op):
                back_edges.setdefault(node.name, []).append(index)
                continue
            node_deps.append(source)
        deps[node.name] = node_deps

    order: list[node_def_pb2.NodeDef] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = placed
    for root in nodes:
        if state.get(root.name):
            continue
        stack: list[tuple[str, int]] = [(root.name, 0)]
        state[root.name] = 1
        while stack:
            name, next_dep = stack[-1]
            node_deps = deps[name]
            if next_dep < len(node_deps):
                stack[-1] = (name, next_dep + 1)
                dep = node_deps[next_dep]
                dep_state = state.get(dep, 0)
                if dep_state == 0:
                    state[dep] = 1
                    stack.append((dep, 0))
                elif dep_state == 1:
                    raise GraphImportError(
                        f"the graph has a cycle through '{dep}' and '{name}' that is not a "
                        "TF1 loop (NextIteration -> Merge)"
                    )
                continue
            stack.pop()
            state[name] = 2
            order.append(by_name[name])
    return order, back_edges


# --------------------------------------------------------------------------- signatures


def _tensor_type_of(spec: TensorSpec) -> Attribute:
    return tensor_type(ir_type_of_dtype(spec.dtype), spec.shape)


def _arg_attrs(spec: TensorSpec, node: node_def_pb2.NodeDef | None) -> DictionaryAttr:
    entries: dict[str, Attribute] = {
        INPUT_KEY: StringAttr(spec.key),
        ARG_NODE: StringAttr(split_tensor_name(spec.tensor_name)[0]),
    }
    if node is not None:
        extra = {
            k: v for k, v in node.attr.items() if k not in ("dtype", "shape", *_DERIVED_ATTRS)
        }
        if extra:
            entries[ARG_ATTRS] = DictionaryAttr(attrs_to_ir(extra))
    return DictionaryAttr(entries)


def _array_or_none(entries: list[DictionaryAttr]) -> ArrayAttr | None:
    # The text form has nowhere to put attributes of zero arguments: keep the IR the same.
    return ArrayAttr(entries) if entries else None


def lower_signature(
    graph_def: graph_pb2.GraphDef,
    signature: SignatureInfo,
    library: Mapping[str, function_pb2.FunctionDef],
    func_name: str,
    weights: Callable[[str], np.ndarray] | None = None,
) -> func.FuncOp:
    nodes_by_name = {n.name: n for n in graph_def.node}
    if len(nodes_by_name) != len(graph_def.node):
        dup = _first_duplicate(n.name for n in graph_def.node)
        raise GraphImportError(f"the graph has two nodes named '{dup}'")
    input_types = [_tensor_type_of(s) for s in signature.inputs]
    block = Block(arg_types=input_types)
    builder = _BodyBuilder(library, block, weights)
    arg_nodes: list[node_def_pb2.NodeDef | None] = []
    for spec, arg in zip(signature.inputs, block.args):
        node_name, port = split_tensor_name(spec.tensor_name)
        node = nodes_by_name.get(node_name)
        if node is None:
            raise GraphImportError(
                f"signature input '{spec.key}' names tensor '{spec.tensor_name}', which is "
                "not in the graph"
            )
        if node.op not in ("Placeholder", "PlaceholderWithDefault") or port != 0:
            raise GraphImportError(
                f"signature input '{spec.key}' is '{spec.tensor_name}', a {node.op} output; "
                "nir needs signature inputs to be Placeholders"
            )
        builder.bindings[node_name] = arg
        arg.name_hint = name_hint(spec.key)
        arg_nodes.append(node)
    builder.lower_nodes([n for n in graph_def.node if n.name not in builder.bindings])
    outputs = [builder.value_of(s.tensor_name, f"signature output '{s.key}'") for s in signature.outputs]
    block.add_op(func.ReturnOp(*outputs))
    return func.FuncOp(
        func_name,
        (input_types, [v.type for v in outputs]),
        Region(block),
        arg_attrs=_array_or_none([_arg_attrs(s, n) for s, n in zip(signature.inputs, arg_nodes)]),
        res_attrs=ArrayAttr(
            [DictionaryAttr({OUTPUT_KEY: StringAttr(s.key)}) for s in signature.outputs]
        ),
    )


# --------------------------------------------------------------------------- library functions


def flatten_function_body(
    fdef: function_pb2.FunctionDef, library: Mapping[str, function_pb2.FunctionDef]
) -> tuple[list[node_def_pb2.NodeDef], dict[str, str]]:
    """FunctionDef nodes with GraphDef-style inputs ('node:port'), and the map from a
    FunctionDef tensor name ('node:out_arg:index') to its GraphDef name."""
    arg_names = {a.name for a in fdef.signature.input_arg}
    starts: dict[str, dict[str, int]] = {}
    for node in fdef.node_def:
        try:
            op_def = op_def_for(node.op, library)
            starts[node.name] = {a.name: a.start for a in output_args(op_def, node.attr)}
        except ValueError as err:
            raise GraphImportError(
                f"function '{fdef.signature.name}', node '{node.name}': {err}"
            ) from None

    def flat(name: str) -> str:
        if name.startswith("^") or name in arg_names:
            return name
        parts = name.split(":")
        if len(parts) == 3 and parts[0] in starts and parts[1] in starts[parts[0]]:
            port = starts[parts[0]][parts[1]] + int(parts[2])
            return parts[0] if port == 0 else f"{parts[0]}:{port}"
        if len(parts) == 2 and parts[0] in arg_names:
            return parts[0]
        raise GraphImportError(
            f"function '{fdef.signature.name}' refers to tensor '{name}', which it does not define"
        )

    nodes = []
    for node in fdef.node_def:
        copy = node_def_pb2.NodeDef()
        copy.CopyFrom(node)
        del copy.input[:]
        copy.input.extend(flat(i) for i in node.input)
        nodes.append(copy)
    return nodes, {n: flat(t) for n, t in fdef.ret.items()}


def lower_function(
    fdef: function_pb2.FunctionDef, library: Mapping[str, function_pb2.FunctionDef]
) -> func.FuncOp:
    signature = fdef.signature
    input_types = []
    for arg in signature.input_arg:
        if not arg.type or arg.number_attr or arg.type_list_attr:
            raise GraphImportError(
                f"function '{signature.name}' has a polymorphic argument '{arg.name}'; "
                "nir needs concrete (traced) functions"
            )
        shape = None
        arg_attr = fdef.arg_attr.get(len(input_types))
        if arg_attr is not None and "_output_shapes" in arg_attr.attr:
            shape = shape_proto_to_dims(arg_attr.attr["_output_shapes"].list.shape[0])
        input_types.append(tensor_type(ir_type_of_dtype(arg.type), shape))
    block = Block(arg_types=input_types)
    builder = _BodyBuilder(library, block)
    for arg, value in zip(signature.input_arg, block.args):
        builder.bindings[arg.name] = value
        value.name_hint = name_hint(arg.name)
    nodes, ret = flatten_function_body(fdef, library)
    builder.lower_nodes(nodes)
    results: list[SSAValue] = []
    res_attrs: list[DictionaryAttr] = []
    for out in signature.output_arg:
        value = builder.value_of(ret[out.name], f"function '{signature.name}'")
        declared = ir_type_of_dtype(out.type) if out.type else None
        if declared is not None and element_type(value.type) != declared:
            raise GraphImportError(
                f"function '{signature.name}' returns {element_type(value.type)} as '{out.name}', which its "
                f"signature declares {declared}")
        results.append(value)
        res_attrs.append(DictionaryAttr({OUTPUT_KEY: StringAttr(out.name)}))
    for ret_name in signature.control_output:
        results.append(builder.value_of("^" + fdef.control_ret[ret_name], signature.name))
        res_attrs.append(DictionaryAttr({CONTROL_RET: StringAttr(ret_name)}))
    block.add_op(func.ReturnOp(*results))
    arg_attrs = []
    for index, arg in enumerate(signature.input_arg):
        entries: dict[str, Attribute] = {INPUT_KEY: StringAttr(arg.name)}
        if index in fdef.arg_attr:
            entries[ARG_ATTRS] = DictionaryAttr(attrs_to_ir(fdef.arg_attr[index].attr))
        arg_attrs.append(DictionaryAttr(entries))
    fn = func.FuncOp(
        signature.name,
        (input_types, [r.type for r in results]),
        Region(block),
        visibility="private",
        arg_attrs=_array_or_none(arg_attrs),
        res_attrs=_array_or_none(res_attrs),
    )
    if fdef.attr:
        fn.attributes[FUNC_ATTRS] = DictionaryAttr(attrs_to_ir(fdef.attr))
    if signature.is_stateful:
        fn.attributes[STATEFUL] = IntegerAttr(1, 1)
    return fn


def import_graph_def(
    graph_def: graph_pb2.GraphDef, signature: SignatureInfo, weights: Callable[[str], np.ndarray] | None = None
) -> ModuleOp:
    """Lower a (frozen, inlined) GraphDef and the signature that reads it into a module.
    `weights` gives the values of Consts frozen without them (checkpoint key -> array)."""
    library = {f.signature.name: f for f in graph_def.library.function}
    func_name = signature.key if signature.key not in library else signature.key + "_signature"
    ops: list = [lower_signature(graph_def, signature, library, func_name, weights)]
    ops.extend(lower_function(library[name], library) for name in sorted(library))
    module = ModuleOp(ops)
    module.attributes[MODULE_TAGS] = ArrayAttr([StringAttr(t) for t in signature.tags])
    module.attributes[MODULE_SIGNATURE] = StringAttr(func_name)
    if func_name != signature.key:
        module.attributes[MODULE_SIGNATURE_KEY] = StringAttr(signature.key)
    module.attributes[MODULE_METHOD] = StringAttr(signature.method_name)
    module.attributes[MODULE_PRODUCER] = IntegerAttr(graph_def.versions.producer, i64)
    module.attributes[MODULE_MIN_CONSUMER] = IntegerAttr(graph_def.versions.min_consumer, i64)
    return module
