"""Python shape functions for TensorFlow's common ops, and small constant evaluation.

A shape function receives the op, its input shapes (TF convention: tuple of dims with -1 for
unknown, None for unknown rank) and the known values of its inputs (small constants and shape
arithmetic evaluated on the way), and returns one shape per data output -- or None when it
cannot decide, in which case shape inference asks TensorFlow's C++ shape functions.

Researchers register shape functions for their own op types with `register_shape_function`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects.builtin import IntegerAttr, StringAttr

from nir.ir.dtypes import numpy_dtype_of_ir_type
from nir.ir.queries import const_value
from nir.ir.tf_attrs import ListAttr
from nir.ir.tf_dialect import TFNodeOp

Shape = tuple[int, ...] | None
ShapeFunction = Callable[[TFNodeOp, Sequence[Shape], Sequence[np.ndarray | None]], list[Shape] | None]
ValueFunction = Callable[[TFNodeOp, Sequence[np.ndarray | None], Sequence[Shape]], np.ndarray | None]

SHAPE_FUNCTIONS: dict[str, ShapeFunction] = {}
VALUE_FUNCTIONS: dict[str, ValueFunction] = {}
MAX_VALUE_ELEMENTS = 4096  # shape arithmetic only; never evaluate weights


class ShapeMismatchError(ValueError):
    """An op's input shapes contradict each other (TensorFlow would refuse the node)."""


def _same_dim(op: TFNodeOp, what: str, a: int, b: int) -> None:
    if a >= 0 and b >= 0 and a != b:
        raise ShapeMismatchError(f"{op.tf_type} '{op.node_name}': {what} ({a} vs {b})")


def register_shape_function(*op_types: str) -> Callable[[ShapeFunction], ShapeFunction]:
    """Decorator: `fn(op, input_shapes, input_values) -> [output shapes] | None`."""

    def register(fn: ShapeFunction) -> ShapeFunction:
        for op_type in op_types:
            SHAPE_FUNCTIONS[op_type] = fn
        return fn

    return register


def _value_function(*op_types: str):
    def register(fn: ValueFunction) -> ValueFunction:
        for op_type in op_types:
            VALUE_FUNCTIONS[op_type] = fn
        return fn

    return register


# --------------------------------------------------------------------------- attribute access


def attr_int(op: TFNodeOp, name: str, default: int = 0) -> int:
    attr = op.attributes.get(name)
    return attr.value.data if isinstance(attr, IntegerAttr) else default


def attr_str(op: TFNodeOp, name: str, default: str = "") -> str:
    attr = op.attributes.get(name)
    return attr.data if isinstance(attr, StringAttr) else default


def attr_ints(op: TFNodeOp, name: str) -> list[int] | None:
    attr = op.attributes.get(name)
    if isinstance(attr, ListAttr):
        return [a.value.data for a in attr.items.data if isinstance(a, IntegerAttr)]
    return None


def _dims(value: np.ndarray | None) -> list[int] | None:
    return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]


def _view(shape: Sequence[int]) -> np.ndarray:
    """A zero-memory array of `shape`, to let numpy's indexing rules compute result shapes."""
    return np.broadcast_to(np.zeros((), dtype=np.bool_), tuple(shape))


def _static(shape: Shape) -> bool:
    return shape is not None and all(d >= 0 for d in shape)


# --------------------------------------------------------------------------- shape functions

_UNARY = (
    "Identity Snapshot StopGradient PreventGradient CheckNumbers Relu Relu6 Elu Selu LeakyRelu "
    "Sigmoid Tanh Softplus Softsign Softmax LogSoftmax Exp Expm1 Log Log1p Sqrt Rsqrt Square Neg "
    "Abs Sign Floor Ceil Round Rint Reciprocal Inv Sin Cos Tan Asin Acos Atan Sinh Cosh Erf Erfc "
    "Cast IsNan IsInf IsFinite LogicalNot OnesLike ZerosLike Gelu BiasAdd "
    "LRN ClipByValue Invert Cumsum Cumprod ReverseV2 Roll"
).split()


@register_shape_function(*_UNARY)
def _same_as_first(op, shapes, values):
    return [shapes[0]]


_BINARY = (
    "Add AddV2 Sub Mul Div RealDiv DivNoNan FloorDiv FloorMod TruncateDiv TruncateMod Maximum "
    "Minimum Pow SquaredDifference Equal NotEqual Less LessEqual Greater GreaterEqual LogicalAnd "
    "LogicalOr BiasAddV1 Atan2 Xdivy Xlogy MulNoNan BitwiseAnd BitwiseOr BitwiseXor"
).split()


def broadcast(*shapes: Shape) -> Shape:
    if any(s is None for s in shapes):
        return None
    rank = max(len(s) for s in shapes)  # type: ignore[arg-type]
    out = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] if len(s) - rank + i >= 0 else 1 for s in shapes]  # type: ignore[arg-type]
        known = {d for d in dims if d != 1 and d >= 0}
        if len(known) > 1:
            raise ValueError(f"shapes {list(shapes)} do not broadcast")
        if known:
            out.append(known.pop())
        elif any(d < 0 for d in dims):
            out.append(-1)
        else:
            out.append(1)
    return tuple(out)


@register_shape_function(*_BINARY)
def _broadcast_binary(op, shapes, values):
    return [broadcast(shapes[0], shapes[1])]


@register_shape_function("Select", "SelectV2")
def _select(op, shapes, values):
    if op.tf_type == "Select" and shapes[1] is not None:
        return [broadcast(shapes[1], shapes[2])]
    return [broadcast(*shapes[:3])]


@register_shape_function("AddN")
def _add_n(op, shapes, values):
    return [broadcast(*shapes)]


@register_shape_function("IdentityN")
def _identity_n(op, shapes, values):
    return list(shapes)


@register_shape_function("Const")
def _const(op, shapes, values):
    return [tuple(op.attributes["value"].tensor_type.get_shape())]


@register_shape_function("Placeholder", "PlaceholderWithDefault")
def _placeholder(op, shapes, values):
    attr = op.attributes.get("shape")
    return [getattr(attr, "data", None)]


@register_shape_function("MatMul")
def _matmul(op, shapes, values):
    a, b = shapes[0], shapes[1]
    if a is None or b is None:
        return None
    m, k = (a[1], a[0]) if attr_int(op, "transpose_a") else (a[0], a[1])
    k2, n = (b[1], b[0]) if attr_int(op, "transpose_b") else (b[0], b[1])
    _same_dim(op, "inner dimensions of the two operands differ", k, k2)
    return [(m, n)]


@register_shape_function("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def _batch_matmul(op, shapes, values):
    a, b = shapes[0], shapes[1]
    if a is None or b is None:
        return None
    m = a[-1] if attr_int(op, "adj_x") else a[-2]
    n = b[-2] if attr_int(op, "adj_y") else b[-1]
    batch = broadcast(a[:-2], b[:-2]) if op.tf_type != "BatchMatMul" else a[:-2]
    return [(*batch, m, n)]  # type: ignore[misc]


def _spatial_out(size: int, window: int, stride: int, dilation: int, padding: str, pads=(0, 0)) -> int:
    if size < 0:
        return -1
    effective = (window - 1) * dilation + 1
    if padding == "SAME":
        return math.ceil(size / stride)
    if padding == "EXPLICIT":
        return (size + pads[0] + pads[1] - effective) // stride + 1
    return math.ceil((size - effective + 1) / stride)


def _layout(op) -> tuple[int, int]:
    """(first spatial axis, channel axis) for NHWC or NCHW."""
    return (2, 1) if attr_str(op, "data_format", "NHWC").startswith("NC") else (1, 3)


@register_shape_function("Conv2D", "DepthwiseConv2dNative")
def _conv2d(op, shapes, values):
    x, w = shapes[0], shapes[1]
    if x is None or w is None or len(x) != 4 or len(w) != 4:
        return None
    spatial, channel = _layout(op)
    if op.tf_type == "DepthwiseConv2dNative":
        _same_dim(op, "input depth differs from the filter's in-depth", x[channel], w[2])
    elif x[channel] > 0 and w[2] > 0 and x[channel] % w[2]:
        raise ShapeMismatchError(
            f"Conv2D '{op.node_name}': input depth {x[channel]} is not a multiple of the filter's "
            f"in-depth {w[2]}")
    strides = attr_ints(op, "strides") or [1, 1, 1, 1]
    dilations = attr_ints(op, "dilations") or [1, 1, 1, 1]
    padding = attr_str(op, "padding", "VALID")
    explicit = attr_ints(op, "explicit_paddings") or [0] * 8
    out = list(x)
    for i in range(2):
        axis = spatial + i
        out[axis] = _spatial_out(
            x[axis], w[i], strides[axis], dilations[axis], padding, explicit[2 * axis : 2 * axis + 2]
        )
    if op.tf_type == "Conv2D":
        out[channel] = w[3]
    else:
        out[channel] = x[channel] * w[3] if x[channel] >= 0 and w[3] >= 0 else -1
    return [tuple(out)]


@register_shape_function("MaxPool", "AvgPool")
def _pool(op, shapes, values):
    x = shapes[0]
    if x is None or len(x) != 4:
        return None
    ksize = attr_ints(op, "ksize") or [1, 1, 1, 1]
    strides = attr_ints(op, "strides") or [1, 1, 1, 1]
    padding = attr_str(op, "padding", "VALID")
    out = list(x)
    spatial, _ = _layout(op)
    for axis in (spatial, spatial + 1):
        out[axis] = _spatial_out(x[axis], ksize[axis], strides[axis], 1, padding)
    return [tuple(out)]


@register_shape_function("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def _fused_batch_norm(op, shapes, values):
    x = shapes[0]
    _, channel = _layout(op)
    c = x[channel] if x is not None and len(x) == 4 else -1
    count = len(op.data_results)
    return [x] + [(c,)] * (count - 1)


@register_shape_function("Reshape")
def _reshape(op, shapes, values):
    target = _dims(values[1])
    if target is None:
        if shapes[1] is not None and len(shapes[1]) == 1 and shapes[1][0] >= 0:
            return [(-1,) * shapes[1][0]]
        return None
    if target.count(-1) == 1 and _static(shapes[0]):
        known = math.prod(d for d in target if d != -1)
        total = math.prod(shapes[0])  # type: ignore[arg-type]
        target[target.index(-1)] = total // known if known else 0
    return [tuple(target)]


@register_shape_function("Transpose")
def _transpose(op, shapes, values):
    perm = _dims(values[1])
    if perm is None or shapes[0] is None:
        return None
    return [tuple(shapes[0][p] for p in perm)]


@register_shape_function("ConcatV2")
def _concat(op, shapes, values):
    axis = _dims(values[-1])
    inputs = shapes[:-1]
    if axis is None or any(s is None for s in inputs):
        return None
    rank = len(inputs[0])  # type: ignore[arg-type]
    a = axis[0] % rank
    out = list(inputs[0])  # type: ignore[arg-type]
    sizes = [s[a] for s in inputs]  # type: ignore[index]
    out[a] = -1 if any(d < 0 for d in sizes) else sum(sizes)
    for i in range(rank):
        if i != a and out[i] < 0:
            out[i] = next((s[i] for s in inputs if s[i] >= 0), -1)  # type: ignore[index]
    return [tuple(out)]


@register_shape_function("Pack")
def _pack(op, shapes, values):
    first = shapes[0]
    if first is None:
        return None
    axis = attr_int(op, "axis") % (len(first) + 1)
    out = list(first)
    out.insert(axis, len(shapes))
    return [tuple(out)]


@register_shape_function("Unpack")
def _unpack(op, shapes, values):
    x = shapes[0]
    if x is None:
        return None
    axis = attr_int(op, "axis") % len(x)
    out = tuple(d for i, d in enumerate(x) if i != axis)
    return [out] * len(op.data_results)


@register_shape_function("Squeeze")
def _squeeze(op, shapes, values):
    x = shapes[0]
    if x is None:
        return None
    axes = attr_ints(op, "squeeze_dims") or []
    if not axes:
        if any(d < 0 for d in x):
            return None
        return [tuple(d for d in x if d != 1)]
    axes = {a % len(x) for a in axes}
    return [tuple(d for i, d in enumerate(x) if i not in axes)]


@register_shape_function("ExpandDims")
def _expand_dims(op, shapes, values):
    x, axis = shapes[0], _dims(values[1])
    if x is None or axis is None:
        return None
    out = list(x)
    out.insert(axis[0] % (len(x) + 1), 1)
    return [tuple(out)]


_REDUCTIONS = "Sum Mean Max Min Prod All Any EuclideanNorm".split()


@register_shape_function(*_REDUCTIONS)
def _reduce(op, shapes, values):
    x, axes = shapes[0], _dims(values[1])
    if x is None or axes is None:
        return None
    axes_set = {a % len(x) for a in axes} if x else set()
    if attr_int(op, "keep_dims"):
        return [tuple(1 if i in axes_set else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in axes_set)]


@register_shape_function("ArgMax", "ArgMin")
def _arg_reduce(op, shapes, values):
    x, axis = shapes[0], _dims(values[1])
    if x is None or axis is None:
        return None
    a = axis[0] % len(x)
    return [tuple(d for i, d in enumerate(x) if i != a)]


@register_shape_function("Shape")
def _shape(op, shapes, values):
    return [(len(shapes[0]),) if shapes[0] is not None else (-1,)]


@register_shape_function("ShapeN")
def _shape_n(op, shapes, values):
    return [(len(s),) if s is not None else (-1,) for s in shapes]


@register_shape_function("Size", "Rank")
def _scalar(op, shapes, values):
    return [()]


@register_shape_function("Fill")
def _fill(op, shapes, values):
    dims = _dims(values[0])
    if dims is None:
        return [(-1,) * shapes[0][0]] if _static(shapes[0]) else None
    return [tuple(dims)]


@register_shape_function("Range")
def _range(op, shapes, values):
    start, limit, delta = (values[i] for i in range(3))
    if start is None or limit is None or delta is None:
        return [(-1,)]
    return [(len(np.arange(start.item(), limit.item(), delta.item())),)]


@register_shape_function("Slice")
def _slice(op, shapes, values):
    x, begin, size = shapes[0], _dims(values[1]), _dims(values[2])
    if x is None or begin is None or size is None:
        return None
    out = []
    for b, s, d in zip(begin, size, x):
        out.append((d - b if d >= 0 else -1) if s == -1 else s)
    return [tuple(out)]


def _strided_slice_key(op, begin, end, strides, rank) -> tuple:
    begin_mask, end_mask = attr_int(op, "begin_mask"), attr_int(op, "end_mask")
    ellipsis, new_axis = attr_int(op, "ellipsis_mask"), attr_int(op, "new_axis_mask")
    shrink = attr_int(op, "shrink_axis_mask")
    key: list = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        bit = 1 << i
        if ellipsis & bit:
            key.append(Ellipsis)
        elif new_axis & bit:
            key.append(None)
        elif shrink & bit:
            key.append(b)
        else:
            key.append(slice(None if begin_mask & bit else b, None if end_mask & bit else e, s))
    return tuple(key)


@register_shape_function("StridedSlice")
def _strided_slice(op, shapes, values):
    x = shapes[0]
    begin, end, strides = _dims(values[1]), _dims(values[2]), _dims(values[3])
    if x is None or begin is None or end is None or strides is None:
        return None
    if any(d < 0 for d in x):
        return _strided_slice_dynamic(op, x, begin, end, strides)
    key = _strided_slice_key(op, begin, end, strides, len(x))
    return [_view(x)[key].shape]


def _strided_slice_dynamic(op, x, begin, end, strides):
    """Unknown dims stay unknown; numpy still computes the known ones (and the rank)."""
    probe = tuple(d if d >= 0 else 1_000_003 for d in x)
    key = _strided_slice_key(op, begin, end, strides, len(x))
    shape = list(_view(probe)[key].shape)
    out = [-1 if d in (1_000_003,) or d > 1_000_000 else d for d in shape]
    return [tuple(out)]


@register_shape_function("GatherV2")
def _gather(op, shapes, values):
    params, indices, axis = shapes[0], shapes[1], _dims(values[2])
    if params is None or indices is None or axis is None:
        return None
    a = axis[0] % len(params)
    batch = attr_int(op, "batch_dims")
    return [tuple(params[:a]) + tuple(indices[batch:]) + tuple(params[a + 1 :])]


@register_shape_function("Pad", "PadV2", "MirrorPad")
def _pad(op, shapes, values):
    x, pads = shapes[0], values[1]
    if x is None or pads is None:
        return None
    pads = np.asarray(pads).reshape(-1, 2)
    return [tuple(d + int(p[0]) + int(p[1]) if d >= 0 else -1 for d, p in zip(x, pads))]


@register_shape_function("Tile")
def _tile(op, shapes, values):
    x, multiples = shapes[0], _dims(values[1])
    if x is None or multiples is None:
        return None
    return [tuple(d * m if d >= 0 else -1 for d, m in zip(x, multiples))]


@register_shape_function("BroadcastTo")
def _broadcast_to(op, shapes, values):
    target = _dims(values[1])
    return None if target is None else [tuple(target)]


@register_shape_function("Einsum")
def _einsum(op, shapes, values):
    equation = attr_str(op, "equation").replace(" ", "")
    if "..." in equation or "->" not in equation or any(s is None for s in shapes):
        return None
    inputs, output = equation.split("->")
    sizes: dict[str, int] = {}
    for letters, shape in zip(inputs.split(","), shapes):
        for letter, d in zip(letters, shape):  # type: ignore[arg-type]
            if d >= 0 or letter not in sizes:
                sizes[letter] = d
    return [tuple(sizes.get(letter, -1) for letter in output)]


@register_shape_function("OneHot")
def _one_hot(op, shapes, values):
    indices, depth = shapes[0], _dims(values[1])
    if indices is None or depth is None:
        return None
    out = list(indices)
    axis = attr_int(op, "axis", -1)
    out.insert(len(out) if axis == -1 else axis, depth[0])
    return [tuple(out)]


# --------------------------------------------------------------------------- constant evaluation


@_value_function("Const")
def _const_value(op, values, shapes):
    return const_value(op.data_results[0], MAX_VALUE_ELEMENTS)


@_value_function("Identity", "Snapshot", "StopGradient")
def _identity_value(op, values, shapes):
    return values[0]


@_value_function("Shape")
def _shape_value(op, values, shapes):
    if not _static(shapes[0]):
        return None

    return np.array(shapes[0], dtype=numpy_dtype_of_ir_type(op.data_results[0].type.element_type))


@_value_function("Size")
def _size_value(op, values, shapes):
    return np.array(math.prod(shapes[0]), dtype=np.int32) if _static(shapes[0]) else None


@_value_function("Rank")
def _rank_value(op, values, shapes):
    return np.array(len(shapes[0]), dtype=np.int32) if shapes[0] is not None else None


@_value_function("Pack")
def _pack_value(op, values, shapes):
    if any(v is None for v in values):
        return None
    return np.stack(values, axis=attr_int(op, "axis"))


@_value_function("ConcatV2")
def _concat_value(op, values, shapes):
    if any(v is None for v in values):
        return None
    return np.concatenate(values[:-1], axis=int(values[-1]))


@_value_function("StridedSlice")
def _strided_slice_value(op, values, shapes):
    if any(v is None for v in values[:4]):
        return None
    key = _strided_slice_key(op, *(_dims(v) for v in values[1:4]), values[0].ndim)
    return np.asarray(values[0][key])


@_value_function("Cast")
def _cast_value(op, values, shapes):
    if values[0] is None:
        return None

    return values[0].astype(numpy_dtype_of_ir_type(op.data_results[0].type.element_type))


_NUMPY_BINARY = {
    "Add": np.add, "AddV2": np.add, "Sub": np.subtract, "Mul": np.multiply,
    "FloorDiv": np.floor_divide, "Maximum": np.maximum, "Minimum": np.minimum,
}


@_value_function(*_NUMPY_BINARY)
def _binary_value(op, values, shapes):
    if values[0] is None or values[1] is None or values[0].dtype.kind not in "iu":
        return None
    return _NUMPY_BINARY[op.tf_type](values[0], values[1]).astype(values[0].dtype)


@_value_function("Prod")
def _prod_value(op, values, shapes):
    if values[0] is None or values[1] is None:
        return None
    out = np.prod(values[0], axis=tuple(_dims(values[1])), keepdims=bool(attr_int(op, "keep_dims")))
    return np.asarray(out, dtype=values[0].dtype)


@_value_function("Reshape")
def _reshape_value(op, values, shapes):
    if values[0] is None or values[1] is None:
        return None
    return values[0].reshape(_dims(values[1]))


@_value_function("GatherV2")
def _gather_value(op, values, shapes):
    if any(v is None for v in values[:3]) or attr_int(op, "batch_dims"):
        return None
    return np.take(values[0], values[1], axis=int(values[2]))


@_value_function("Squeeze")
def _squeeze_value(op, values, shapes):
    if values[0] is None:
        return None
    axes = attr_ints(op, "squeeze_dims")
    return np.squeeze(values[0], axis=tuple(axes) if axes else None)


@_value_function("ExpandDims")
def _expand_dims_value(op, values, shapes):
    if values[0] is None or values[1] is None:
        return None
    return np.expand_dims(values[0], int(np.asarray(values[1]).reshape(-1)[0]))
