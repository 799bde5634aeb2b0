"""TF AttrValue <-> IR attribute: the one table both directions of the frontend use.

| AttrValue field | IR attribute                                  |
|-----------------|-----------------------------------------------|
| i               | `42 : i64`                                    |
| f               | `1.0 : f32`                                   |
| b               | `true`                                        |
| s               | `"text"` (bytes that are not UTF-8: a bytes literal) |
| type            | the element type itself (`f32`, `!tf.dtype<"string">`) |
| shape           | `#tf.shape<[1, -1]>` / `#tf.shape<unranked>` |
| tensor          | `#tf.tensor<tensor<2xf32>, ...>`              |
| func            | `#tf.func<@name, {...}>`                      |
| placeholder     | `#tf.attr_placeholder<"T">`                   |
| list            | `#tf.list<[...]>` (kept apart from scalars so empty lists survive) |
"""

from __future__ import annotations

from collections.abc import Mapping

from tensorflow.core.framework import attr_value_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow.python.framework import tensor_util
from xdsl.dialects.builtin import (
    ArrayAttr,
    BoolAttr,
    BytesAttr,
    DictionaryAttr,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import Attribute, TypeAttribute

from nir.errors import NirInputError
from nir.ir.dtypes import dtype_of_ir_type, ir_type_of_dtype
from nir.ir.shapes import tensor_type
from nir.ir.tf_attrs import (
    FuncAttr,
    ListAttr,
    PlaceholderAttr,
    ShapeAttr,
    TensorAttr,
    TensorPayload,
)

_NUMPY_UNFRIENDLY = {"string", "variant", "resource"}


class UnsupportedAttrError(NirInputError):
    """An AttrValue nir cannot represent, or a malformed one (e.g. a tensor whose bytes do
    not match its dtype and shape)."""


# --------------------------------------------------------------------------- TF -> IR


def attr_to_ir(value: attr_value_pb2.AttrValue) -> Attribute:
    kind = value.WhichOneof("value")
    if kind == "list":
        return ListAttr(list_to_ir(value.list))
    if kind is None:
        # An AttrValue with nothing set is how TF spells an empty list.
        return ListAttr(ArrayAttr([]))
    return _scalar_to_ir(kind, getattr(value, kind))


def list_to_ir(values: attr_value_pb2.AttrValue.ListValue) -> ArrayAttr:
    items: list[Attribute] = []
    for kind in ("s", "i", "f", "b", "type", "shape", "tensor", "func"):
        items.extend(_scalar_to_ir(kind, v) for v in getattr(values, kind))
    return ArrayAttr(items)


def _scalar_to_ir(kind: str, value) -> Attribute:
    match kind:
        case "i":
            return IntegerAttr(value, i64)
        case "f":
            return FloatAttr(value, Float32Type())
        case "b":
            return BoolAttr.from_bool(bool(value))
        case "s":
            try:
                return StringAttr(value.decode("utf-8"))
            except UnicodeDecodeError:
                return BytesAttr(value)
        case "type":
            return ir_type_of_dtype(value)
        case "shape":
            return ShapeAttr(shape_proto_to_dims(value))
        case "tensor":
            return tensor_proto_to_ir(value)
        case "func":
            return FuncAttr(
                value.name, DictionaryAttr({k: attr_to_ir(v) for k, v in value.attr.items()})
            )
        case "placeholder":
            return PlaceholderAttr(value)
    raise UnsupportedAttrError(f"unsupported AttrValue kind '{kind}'")


def shape_proto_to_dims(shape: tensor_shape_pb2.TensorShapeProto) -> tuple[int, ...] | None:
    if shape.unknown_rank:
        return None
    return tuple(d.size for d in shape.dim)


def tensor_proto_to_ir(proto: tensor_pb2.TensorProto) -> TensorAttr:
    dims = shape_proto_to_dims(proto.tensor_shape) or ()
    element = ir_type_of_dtype(proto.dtype)
    ir_type = tensor_type(element, dims)
    assert isinstance(ir_type, TensorType)
    if _dtype_enum_name(proto.dtype) in _NUMPY_UNFRIENDLY:
        return TensorAttr(TensorPayload(ir_type, proto.SerializeToString(), "proto"))
    try:
        array = tensor_util.MakeNdarray(proto)
    except (ValueError, TypeError) as err:
        raise UnsupportedAttrError(f"malformed tensor of shape {list(dims)}: {err}") from None
    return TensorAttr.from_numpy(array, ir_type)


def _dtype_enum_name(dtype: int) -> str:
    return types_pb2.DataType.Name(dtype)[3:].lower()


def attrs_to_ir(attrs: Mapping[str, attr_value_pb2.AttrValue]) -> dict[str, Attribute]:
    return {key: attr_to_ir(attrs[key]) for key in sorted(attrs)}


# --------------------------------------------------------------------------- IR -> TF


def attr_from_ir(attr: Attribute) -> attr_value_pb2.AttrValue:
    value = attr_value_pb2.AttrValue()
    if isinstance(attr, ListAttr):
        value.list.SetInParent()
        for item in attr.items.data:
            _append_list_item(value.list, item)
        return value
    _set_scalar(value, attr)
    return value


def _set_scalar(value: attr_value_pb2.AttrValue, attr: Attribute) -> None:
    if isinstance(attr, IntegerAttr) and isinstance(attr.type, IntegerType):
        if attr.type.width.data == 1:
            value.b = bool(attr.value.data)
        else:
            value.i = attr.value.data
    elif isinstance(attr, FloatAttr):
        value.f = attr.value.data
    elif isinstance(attr, StringAttr):
        value.s = attr.data.encode("utf-8")
    elif isinstance(attr, BytesAttr):
        value.s = attr.data
    elif isinstance(attr, TypeAttribute):
        value.type = dtype_of_ir_type(attr)
    elif isinstance(attr, ShapeAttr):
        value.shape.CopyFrom(dims_to_shape_proto(attr.data))
    elif isinstance(attr, TensorAttr):
        write_tensor_proto(value.tensor, attr)
    elif isinstance(attr, FuncAttr):
        value.func.name = attr.function_name
        for key, item in attr.attrs.data.items():
            value.func.attr[key].CopyFrom(attr_from_ir(item))
    elif isinstance(attr, PlaceholderAttr):
        value.placeholder = attr.data
    else:
        raise UnsupportedAttrError(f"IR attribute {attr} has no TensorFlow AttrValue form")


def _append_list_item(values: attr_value_pb2.AttrValue.ListValue, attr: Attribute) -> None:
    scratch = attr_value_pb2.AttrValue()
    _set_scalar(scratch, attr)
    kind = scratch.WhichOneof("value")
    field = getattr(values, kind)
    item = getattr(scratch, kind)
    if kind in ("shape", "tensor", "func"):
        field.add().CopyFrom(item)
    else:
        field.append(item)


def dims_to_shape_proto(dims: tuple[int, ...] | None) -> tensor_shape_pb2.TensorShapeProto:
    proto = tensor_shape_pb2.TensorShapeProto()
    if dims is None:
        proto.unknown_rank = True
    else:
        for d in dims:
            proto.dim.add().size = d
    return proto


def write_tensor_proto(proto: tensor_pb2.TensorProto, attr: TensorAttr) -> None:
    """Fill `proto` (a field of the message being built) with the constant: its bytes are
    copied once, straight into place, which matters for weights of hundreds of MB."""
    payload = attr.data
    if payload.data is None:
        raise ValueError(
            "a constant was parsed from IR text with elided payloads; print the IR with "
            "elide_above=None (nir opt --no-elide) to keep the weights"
        )
    if payload.encoding == "proto":
        proto.ParseFromString(payload.data)
        return
    proto.dtype = dtype_of_ir_type(payload.type.element_type)
    proto.tensor_shape.CopyFrom(dims_to_shape_proto(payload.type.get_shape()))
    proto.tensor_content = payload.data


def attrs_from_ir(attrs: Mapping[str, Attribute]) -> dict[str, attr_value_pb2.AttrValue]:
    return {key: attr_from_ir(value) for key, value in attrs.items()}


def write_attrs(target, attrs: Mapping[str, Attribute]) -> None:
    """Set IR attributes on a NodeDef's attr map in place (no intermediate AttrValue)."""
    for key, attr in attrs.items():
        value = target[key]
        if isinstance(attr, ListAttr):
            value.list.SetInParent()
            for item in attr.items.data:
                _append_list_item(value.list, item)
        else:
            _set_scalar(value, attr)
