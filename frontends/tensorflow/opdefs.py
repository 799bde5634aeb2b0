"""What TensorFlow's OpDefs say about a node's outputs: how many, of which dtypes, in which
named output args. Both directions of the frontend need it (flat ports in a GraphDef,
`node:arg:index` names in a FunctionDef)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tensorflow.core.framework import attr_value_pb2, function_pb2, node_def_pb2, op_def_pb2
from tensorflow.python.framework import op_def_registry

from nir.errors import NirInputError
from nir.ir.op_facts import declare_op_type, signature_of_op_def


class UnknownOpError(NirInputError):
    """A node whose op type TensorFlow does not know (a custom op whose library is not loaded)."""


@dataclass(frozen=True)
class OutputArg:
    name: str
    start: int
    dtypes: tuple[int, ...]


# OpDefs of op types that live outside TensorFlow's registry (a backend's fused op, such as
# NeuronOp), so that FunctionDef bodies holding them can be written and read.
_EXTRA_OP_DEFS: dict[str, op_def_pb2.OpDef] = {}


def register_op_def(op_def: op_def_pb2.OpDef) -> None:
    _EXTRA_OP_DEFS[op_def.name] = op_def
    # The verifier checks ops of this type against the same OpDef.
    declare_op_type(op_def.name, op_def.is_stateful, signature_of_op_def(op_def))


def op_def_for(op_type: str, library: Mapping[str, function_pb2.FunctionDef]) -> op_def_pb2.OpDef:
    if op_type in library:
        return library[op_type].signature
    op_def = op_def_registry.get(op_type) or _EXTRA_OP_DEFS.get(op_type)
    if op_def is None:
        raise UnknownOpError(
            f"op type '{op_type}' is not registered in this TensorFlow; load the library that "
            "defines it (tf.load_op_library) before compiling the model"
        )
    return op_def


def output_args(
    op_def: op_def_pb2.OpDef, attrs: Mapping[str, attr_value_pb2.AttrValue]
) -> list[OutputArg]:
    """The node's output args with their flat start port and dtypes."""
    args: list[OutputArg] = []
    start = 0
    for arg in op_def.output_arg:
        dtypes = _arg_dtypes(arg, attrs, op_def)
        args.append(OutputArg(arg.name, start, dtypes))
        start += len(dtypes)
    return args


def _arg_dtypes(
    arg: op_def_pb2.OpDef.ArgDef,
    attrs: Mapping[str, attr_value_pb2.AttrValue],
    op_def: op_def_pb2.OpDef,
) -> tuple[int, ...]:
    if arg.type_list_attr:
        return tuple(_attr(attrs, arg.type_list_attr, op_def).list.type)
    dtype = arg.type if arg.type else _attr(attrs, arg.type_attr, op_def).type
    count = _attr(attrs, arg.number_attr, op_def).i if arg.number_attr else 1
    return (dtype,) * count


def _attr(
    attrs: Mapping[str, attr_value_pb2.AttrValue], name: str, op_def: op_def_pb2.OpDef
) -> attr_value_pb2.AttrValue:
    if name in attrs:
        return attrs[name]
    for attr_def in op_def.attr:
        if attr_def.name == name and attr_def.HasField("default_value"):
            return attr_def.default_value
    raise UnknownOpError(f"op '{op_def.name}' needs attribute '{name}', which the node lacks")


def function_output_names(
    node: node_def_pb2.NodeDef, library: Mapping[str, function_pb2.FunctionDef]
) -> list[str]:
    """The names a FunctionDef body gives the node's outputs, by flat port: 'node:out_arg:index'."""
    return [
        f"{node.name}:{arg.name}:{index}"
        for arg in output_args(op_def_for(node.op, library), node.attr)
        for index in range(len(arg.dtypes))
    ]


def node_output_dtypes(
    node: node_def_pb2.NodeDef, library: Mapping[str, function_pb2.FunctionDef]
) -> list[int]:
    op_def = op_def_for(node.op, library)
    return [d for arg in output_args(op_def, node.attr) for d in arg.dtypes]
