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
from typing import NoReturn

import numpy as np

from nir.ir.dtypes import numpy_dtype_of_ir_type
from nir.ir.lookup_tables import LOOKUP_OPS, lookup_shape
from nir.ir.node_attrs import attr_int, attr_ints, attr_str
from nir.ir.queries import const_value
from nir.ir.string_splits import leading_dense_size
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


def _dims(value: np.ndarray | None) -> list[int] | None:
    return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]


def _view(shape: Sequence[int]) -> np.ndarray:
    """A zero-memory array of `shape`, to let numpy's indexing rules compute result shapes."""
    return np.broadcast_to(np.zeros((), dtype=np.bool_), tuple(shape))


def _static(shape: Shape) -> bool:
    return shape is not None and all(d >= 0 for d in shape)


# --------------------------------------------------------------------------- contradictions
#
# TensorFlow's importer runs each op's C++ shape function and refuses the graph when one fails
# (a rank an op cannot take, dimensions that must be equal and are not, an axis out of range,
# a constant that cannot describe a shape). The functions below refuse the same things, in the
# same cases: where TensorFlow cannot decide (an unknown rank, a value not known before run
# time), they do not either.


def _fail(op: TFNodeOp, message: str) -> NoReturn:
    raise ShapeMismatchError(f"{op.tf_type} '{op.node_name}': {message}")


def shape_text(shape: Shape, separator: str = ",") -> str:
    """`[2,?,4]` (TensorFlow's spelling in its errors), or "unranked"."""
    return "unranked" if shape is None else "[" + separator.join("?" if d < 0 else str(d) for d in shape) + "]"


def _with_rank(op: TFNodeOp, what: str, shape: Shape, rank: int) -> None:
    if shape is not None and len(shape) != rank:
        _fail(op, f"{what} must be rank {rank} but is rank {len(shape)} ({shape_text(shape)})")


def _with_rank_at_least(op: TFNodeOp, what: str, shape: Shape, rank: int) -> None:
    if shape is not None and len(shape) < rank:
        _fail(op, f"{what} must be at least rank {rank} but is rank {len(shape)} ({shape_text(shape)})")


def _with_rank_at_most(op: TFNodeOp, what: str, shape: Shape, rank: int) -> None:
    if shape is not None and len(shape) > rank:
        _fail(op, f"{what} must be at most rank {rank} but is rank {len(shape)} ({shape_text(shape)})")


def _merge(op: TFNodeOp, what: str, a: Shape, b: Shape) -> Shape:
    """The shape two shapes that must be equal both describe (unknown dims filled in)."""
    if a is None:
        return b
    if b is None:
        return a
    if len(a) != len(b):
        _fail(op, f"{what} must have equal rank ({shape_text(a)} vs {shape_text(b)})")
    out = []
    for x, y in zip(a, b):
        if x >= 0 and y >= 0 and x != y:
            _fail(op, f"{what} must have equal shapes ({shape_text(a)} vs {shape_text(b)})")
        out.append(x if x >= 0 else y)
    return tuple(out)


def _merge_dim(op: TFNodeOp, what: str, a: int, b: int) -> int:
    _same_dim(op, what, a, b)
    return a if a >= 0 else b


def _axis(op: TFNodeOp, what: str, axis: int, rank: int | None) -> int | None:
    """`axis` in [0, rank) from one in [-rank, rank); None while the rank is unknown."""
    if rank is None:
        return None
    if not -rank <= axis < rank:
        _fail(op, f"{what} {axis} is out of the range [{-rank}, {rank}) of a rank-{rank} input")
    return axis % rank


def _scalar(op: TFNodeOp, what: str, shape: Shape, value: np.ndarray | None) -> int | None:
    _with_rank(op, what, shape, 0)
    dims = _dims(value)
    return dims[0] if dims else None


def _num_elements(shape: Shape) -> int | None:
    return math.prod(shape) if _static(shape) else None


# --------------------------------------------------------------------------- shape functions

_UNARY = (
    "Identity Snapshot StopGradient PreventGradient CheckNumbers CheckNumerics Relu Relu6 Elu Selu "
    "LeakyRelu Sigmoid Tanh Softplus Softsign Exp Expm1 Log Log1p Sqrt Rsqrt Square Neg "
    "Abs Sign Floor Ceil Round Rint Reciprocal Inv Sin Cos Tan Asin Acos Atan Sinh Cosh Erf Erfc "
    "Cast IsNan IsInf IsFinite LogicalNot OnesLike ZerosLike Gelu ClipByValue Invert Roll"
).split()


@register_shape_function(*_UNARY)
def _same_as_first(op, shapes, values):
    return [shapes[0]]


@register_shape_function("Softmax", "LogSoftmax")
def _softmax(op, shapes, values):
    _with_rank_at_least(op, "logits", shapes[0], 1)
    return [shapes[0]]


@register_shape_function("LRN")
def _lrn(op, shapes, values):
    _with_rank(op, "input", shapes[0], 4)
    return [shapes[0]]


@register_shape_function("Cumsum", "Cumprod")
def _cumulative(op, shapes, values):
    axis = _scalar(op, "axis", shapes[1], values[1])
    if axis is not None:
        _axis(op, "axis", axis, None if shapes[0] is None else len(shapes[0]))
    return [shapes[0]]


@register_shape_function("ReverseV2")
def _reverse(op, shapes, values):
    _with_rank(op, "axis", shapes[1], 1)
    rank = None if shapes[0] is None else len(shapes[0])
    for axis in _dims(values[1]) or ():
        _axis(op, "axis", axis, rank)
    return [shapes[0]]


@register_shape_function("BiasAdd", "BiasAddV1")
def _bias_add(op, shapes, values):
    x, bias = shapes[0], shapes[1]
    _with_rank(op, "bias", bias, 1)
    nchw = attr_str(op, "data_format", "NHWC") == "NCHW" and op.tf_type == "BiasAdd"
    _with_rank_at_least(op, "value", x, 3 if nchw else 2)
    if x is None or bias is None:
        return [x]
    channel = len(x) - 3 if nchw else len(x) - 1
    out = list(x)
    out[channel] = _merge_dim(op, "bias length and the value's channel dimension", x[channel], bias[0])
    return [tuple(out)]


_BINARY = (
    "Add AddV2 Sub Mul Div RealDiv DivNoNan FloorDiv FloorMod TruncateDiv TruncateMod Maximum "
    "Minimum Pow SquaredDifference Equal NotEqual Less LessEqual Greater GreaterEqual LogicalAnd "
    "LogicalOr Atan2 Xdivy Xlogy MulNoNan BitwiseAnd BitwiseOr BitwiseXor"
).split()


def broadcast(*shapes: Shape) -> Shape:
    """numpy's broadcast of shapes with unknown dims (-1); ShapeMismatchError if they do not."""
    if any(s is None for s in shapes):
        return None
    rank = max(len(s) for s in shapes)  # type: ignore[arg-type]
    out = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] if len(s) - rank + i >= 0 else 1 for s in shapes]  # type: ignore[arg-type]
        known = {d for d in dims if d != 1 and d >= 0}
        if len(known) > 1:
            raise ShapeMismatchError(f"shapes {', '.join(map(shape_text, shapes))} do not broadcast")
        if known:
            out.append(known.pop())
        elif any(d < 0 for d in dims):
            out.append(-1)
        else:
            out.append(1)
    return tuple(out)


def _broadcast(op: TFNodeOp, *shapes: Shape) -> Shape:
    try:
        return broadcast(*shapes)
    except ShapeMismatchError as err:
        _fail(op, str(err))


@register_shape_function(*_BINARY)
def _broadcast_binary(op, shapes, values):
    return [_broadcast(op, shapes[0], shapes[1])]


@register_shape_function("Select")
def _select(op, shapes, values):
    condition = shapes[0]
    out = _merge(op, "the two branches", shapes[1], shapes[2])
    if condition is None or out is None or len(condition) == 0:
        return [out]
    if len(condition) == 1 and len(out) > 1:
        _same_dim(op, "a vector condition's length and the branches' first dimension", condition[0], out[0])
        return [out]
    return [_merge(op, "condition and branches", condition, out)]


@register_shape_function("SelectV2")
def _select_v2(op, shapes, values):
    return [_broadcast(op, *shapes[:3])]


@register_shape_function("AddN")
def _add_n(op, shapes, values):
    out = shapes[0]
    for shape in shapes[1:]:
        out = _merge(op, "inputs", out, shape)
    return [out]


@register_shape_function("IdentityN")
def _identity_n(op, shapes, values):
    return list(shapes)


@register_shape_function("Const")
def _const(op, shapes, values):
    return [tuple(op.attributes["value"].tensor_type.get_shape())]


@register_shape_function("Placeholder", "PlaceholderWithDefault")
def _placeholder(op, shapes, values):
    attr = op.attributes.get("shape")
    declared = getattr(attr, "data", None)
    if op.tf_type == "PlaceholderWithDefault" and declared is not None and shapes[0] is not None:
        if len(declared) != len(shapes[0]) or any(d >= 0 and i >= 0 and d != i for d, i in zip(declared, shapes[0])):
            _fail(op, f"the default value's shape {shape_text(shapes[0])} is not {shape_text(declared)}")
    return [declared]


@register_shape_function("EnsureShape")
def _ensure_shape(op, shapes, values):
    attr = op.attributes.get("shape")
    declared = getattr(attr, "data", None)
    if declared is None or shapes[0] is None:
        return [declared if declared is not None else shapes[0]]
    return [_merge(op, "the input and the shape it is ensured to have", shapes[0], tuple(declared))]


@register_shape_function("MatMul")
def _matmul(op, shapes, values):
    a, b = shapes[0], shapes[1]
    _with_rank(op, "a", a, 2)
    _with_rank(op, "b", b, 2)
    if a is None or b is None:
        return None
    m, k = (a[1], a[0]) if attr_int(op, "transpose_a") else (a[0], a[1])
    k2, n = (b[1], b[0]) if attr_int(op, "transpose_b") else (b[0], b[1])
    _same_dim(op, "inner dimensions of the two operands differ", k, k2)
    return [(m, n)]


@register_shape_function("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def _batch_matmul(op, shapes, values):
    a, b = shapes[0], shapes[1]
    minimum = 3 if op.tf_type == "BatchMatMul" else 2
    _with_rank_at_least(op, "x", a, minimum)
    _with_rank_at_least(op, "y", b, minimum)
    if a is None or b is None:
        return None
    m, k = (a[-1], a[-2]) if attr_int(op, "adj_x") else (a[-2], a[-1])
    k2, n = (b[-1], b[-2]) if attr_int(op, "adj_y") else (b[-2], b[-1])
    _same_dim(op, "inner dimensions of the two operands differ", k, k2)
    if op.tf_type == "BatchMatMul":
        batch = _merge(op, "batch dimensions", a[:-2], b[:-2])
    else:
        batch = _broadcast(op, a[:-2], b[:-2])
    return [(*batch, m, n)]  # type: ignore[misc]


def _spatial_out(op, size: int, window: int, stride: int, dilation: int, padding: str, pads=(0, 0)) -> int:
    """One output dimension of a sliding window, as TensorFlow's GetWindowedOutputSize."""
    if stride <= 0:
        _fail(op, f"stride must be > 0, but got {stride}")
    if dilation < 1:
        _fail(op, f"dilation rate must be >= 1, but got {dilation}")
    if size < 0 or window < 0:
        return -1
    effective = (window - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    padded = size + pads[0] + pads[1] if padding == "EXPLICIT" else size
    if padded < effective:
        _fail(op, f"negative dimension size caused by subtracting a window of {effective} from {padded}")
    return (padded - effective + stride) // stride


def _layout(op) -> tuple[int, int]:
    """(first spatial axis, channel axis) for NHWC or NCHW."""
    return (2, 1) if attr_str(op, "data_format", "NHWC").startswith("NC") else (1, 3)


def _four_values(op, name: str, default: list[int] | None = None) -> list[int]:
    """A 4-value window attribute: strides, ksize, dilations."""
    given = attr_ints(op, name)
    if given is None and default is not None:
        return default
    if given is None or len(given) != 4:
        _fail(op, f"the {name} attribute must contain 4 values, not {given}")
    return given


def _window_attrs(op) -> tuple[list[int], list[int], str, list[int]]:
    """A convolution's strides, dilations and padding. TensorFlow builds a graph whose strides
    or dilations move along the batch or depth (its kernels refuse them when run); its MLIR
    verifier wants all of Conv2D's positive."""
    strides = _four_values(op, "strides")
    dilations = _four_values(op, "dilations", [1, 1, 1, 1])
    if op.tf_type == "Conv2D" and min(strides + dilations) < 1:
        _fail(op, f"requires positive strides and dilations, not {strides} and {dilations}")
    padding = attr_str(op, "padding")  # required by the OpDef: the verifier refuses a node without it
    explicit = attr_ints(op, "explicit_paddings") or []
    if padding == "EXPLICIT":
        if len(explicit) != 8:
            _fail(op, f"explicit_paddings must hold 8 values with padding EXPLICIT, not {len(explicit)}")
        if any(p < 0 for p in explicit):
            _fail(op, f"explicit_paddings {explicit} must be non-negative")
    elif explicit:
        _fail(op, f"explicit_paddings is only for padding EXPLICIT, not {padding}")
    return strides, dilations, padding, explicit or [0] * 8


@register_shape_function("Conv2D", "DepthwiseConv2dNative")
def _conv2d(op, shapes, values):
    x, w = shapes[0], shapes[1]
    _with_rank(op, "input", x, 4)
    _with_rank(op, "filter", w, 4)
    strides, dilations, padding, explicit = _window_attrs(op)
    if x is None or w is None:
        return None
    spatial, channel = _layout(op)
    if op.tf_type == "DepthwiseConv2dNative":
        _same_dim(op, "input depth differs from the filter's in-depth", x[channel], w[2])
    elif x[channel] > 0 and w[2] > 0 and x[channel] % w[2]:
        _fail(op, f"input depth {x[channel]} is not a multiple of the filter's in-depth {w[2]}")
    out = list(x)
    for i in range(2):
        axis = spatial + i
        out[axis] = _spatial_out(op, x[axis], w[i], strides[axis], dilations[axis], padding,
                                 explicit[2 * axis : 2 * axis + 2])
    if op.tf_type == "Conv2D":
        out[channel] = w[3]
    else:
        out[channel] = x[channel] * w[3] if x[channel] >= 0 and w[3] >= 0 else -1
    return [tuple(out)]


@register_shape_function("MaxPool", "AvgPool")
def _pool(op, shapes, values):
    """TensorFlow's shape functions leave the batch alone whatever the window says (the kernel
    refuses it when run); MaxPool's windows the depth like a spatial axis, AvgPool's keeps it."""
    x = shapes[0]
    _with_rank(op, "input", x, 4)
    ksize = _four_values(op, "ksize")
    strides = _four_values(op, "strides")
    padding = attr_str(op, "padding")
    if x is None:
        return None
    spatial, channel = _layout(op)
    windowed = (spatial, spatial + 1, channel) if op.tf_type == "MaxPool" else (spatial, spatial + 1)
    out = list(x)
    for axis in windowed:
        out[axis] = _spatial_out(op, x[axis], ksize[axis], strides[axis], 1, padding)
    return [tuple(out)]


_BATCH_NORM_RANKS = {"FusedBatchNorm": (4,), "FusedBatchNormV2": (4,), "FusedBatchNormV3": (4, 5)}


@register_shape_function("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def _fused_batch_norm(op, shapes, values):
    x = shapes[0]
    ranks = _BATCH_NORM_RANKS[op.tf_type]
    if x is not None and len(x) not in ranks:
        _fail(op, f"x must be rank {' or '.join(map(str, ranks))} but is rank {len(x)} ({shape_text(x)})")
    channel_axis = 1 if attr_str(op, "data_format", "NHWC").startswith("NC") else -1
    c = x[channel_axis] if x is not None else -1
    training = attr_int(op, "is_training", 1)
    factor = op.attributes.get("exponential_avg_factor")
    averaging = factor is not None and getattr(factor, "value", None) is not None and factor.value.data != 1.0
    checked = (1, 2) if training and not averaging else (1, 2, 3, 4)
    names = ("scale", "offset", "mean", "variance")
    for index in checked:
        _with_rank(op, names[index - 1], shapes[index], 1)
        if shapes[index] is not None:
            c = _merge_dim(op, f"{names[index - 1]} length and the channel dimension", c, shapes[index][0])
    y = None
    if x is not None:
        y = list(x)
        y[channel_axis] = c
        y = tuple(y)
    outputs: list[Shape] = [y] + [(c,)] * 4
    return outputs + [None] * (len(op.data_results) - len(outputs))


@register_shape_function("Reshape")
def _reshape(op, shapes, values):
    _with_rank(op, "shape", shapes[1], 1)
    target = _dims(values[1])
    if target is None:
        if shapes[1] is not None and shapes[1][0] >= 0:
            return [(-1,) * shapes[1][0]]
        return None
    if any(d < -1 for d in target):
        _fail(op, f"size {min(target)} in the target shape {target} must be non-negative")
    if target.count(-1) > 1:
        _fail(op, f"the target shape {target} has more than one unknown (-1) dimension")
    total = _num_elements(shapes[0])
    known = math.prod(d for d in target if d != -1)
    if -1 in target:
        if total is not None:
            if known == 0:
                if total != 0:
                    _fail(op, f"cannot infer the -1 of {target} for {total} elements")
                target[target.index(-1)] = 0 if total == 0 else -1
            elif total % known:
                _fail(op, f"cannot reshape a tensor of {total} elements to {target}: {known} does not divide it")
            else:
                target[target.index(-1)] = total // known
    elif total is not None and total != known:
        _fail(op, f"cannot reshape a tensor of {total} elements ({shape_text(shapes[0])}) to {target} ({known} elements)")
    return [tuple(target)]


@register_shape_function("Transpose")
def _transpose(op, shapes, values):
    x = shapes[0]
    _with_rank(op, "perm", shapes[1], 1)
    if x is not None and shapes[1] is not None:
        _same_dim(op, "perm length and input rank", shapes[1][0], len(x))
    perm = _dims(values[1])
    if perm is None or x is None:
        return None
    for p in perm:
        if not -len(x) < p < len(x):
            _fail(op, f"perm dim {p} is out of range of input rank {len(x)}")
    return [tuple(x[p] for p in perm)]


@register_shape_function("ConcatV2")
def _concat(op, shapes, values):
    inputs = shapes[:-1]
    axis = _scalar(op, "axis", shapes[-1], values[-1])
    ranked = [s for s in inputs if s is not None]
    if not ranked:
        return None
    rank = len(ranked[0])
    for shape in ranked:
        if len(shape) != rank:
            _fail(op, f"inputs must have equal rank ({shape_text(ranked[0])} vs {shape_text(shape)})")
    if axis is None:
        return [(-1,) * rank]
    a = _axis(op, "concatenation axis", axis, rank)
    out = []
    for i in range(rank):
        if i == a:
            sizes = [s[i] for s in inputs] if len(ranked) == len(inputs) else [-1]  # type: ignore[index]
            out.append(-1 if any(d < 0 for d in sizes) else sum(sizes))
        else:
            dim = -1
            for shape in ranked:
                dim = _merge_dim(op, f"dimension {i} of the inputs", dim, shape[i])
            out.append(dim)
    return [tuple(out)]


@register_shape_function("Pack")
def _pack(op, shapes, values):
    first = None
    for shape in shapes:
        first = _merge(op, "inputs", first, shape)
    if first is None:
        return None
    axis = attr_int(op, "axis")
    if not -(len(first) + 1) <= axis < len(first) + 1:
        _fail(op, f"axis {axis} is out of the range [{-len(first) - 1}, {len(first) + 1})")
    out = list(first)
    out.insert(axis % (len(first) + 1), len(shapes))
    return [tuple(out)]


@register_shape_function("Unpack")
def _unpack(op, shapes, values):
    x = shapes[0]
    if x is None:
        return None
    axis = _axis(op, "axis", attr_int(op, "axis"), len(x))
    _same_dim(op, "num and the unpacked dimension", attr_int(op, "num", -1), x[axis])
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
    chosen = {_axis(op, "squeeze dim", a, len(x)) for a in axes}
    for axis in chosen:
        if x[axis] >= 0 and x[axis] != 1:
            _fail(op, f"cannot squeeze dim[{axis}], expected a dimension of 1, got {x[axis]}")
    return [tuple(d for i, d in enumerate(x) if i not in chosen)]


@register_shape_function("ExpandDims")
def _expand_dims(op, shapes, values):
    x = shapes[0]
    axis = _dims(values[1])
    if axis is None:  # TensorFlow checks 'dim' only once its value is known
        return None
    if len(axis) != 1:
        _fail(op, f"'dim' must hold a single value, not {axis}")
    if x is None:
        return None
    if not -len(x) - 1 <= axis[0] <= len(x):
        _fail(op, f"dim {axis[0]} is not in the interval [{-len(x) - 1}, {len(x)}]")
    out = list(x)
    out.insert(axis[0] % (len(x) + 1), 1)
    return [tuple(out)]


_REDUCTIONS = "Sum Mean Max Min Prod All Any EuclideanNorm".split()


@register_shape_function(*_REDUCTIONS)
def _reduce(op, shapes, values):
    x = shapes[0]
    _with_rank_at_most(op, "reduction indices", shapes[1], 1)
    axes = _dims(values[1])
    if x is None or axes is None:
        return None
    chosen = {_axis(op, "reduction dimension", a, len(x)) for a in axes}
    if attr_int(op, "keep_dims"):
        return [tuple(1 if i in chosen else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in chosen)]


@register_shape_function("ArgMax", "ArgMin")
def _arg_reduce(op, shapes, values):
    x = shapes[0]
    _with_rank(op, "dimension", shapes[1], 0)
    axis = _dims(values[1])
    if x is None or axis is None:
        return None
    a = _axis(op, "dimension", axis[0], len(x))
    return [tuple(d for i, d in enumerate(x) if i != a)]


@register_shape_function("Shape")
def _shape(op, shapes, values):
    return [(len(shapes[0]),) if shapes[0] is not None else (-1,)]


@register_shape_function("ShapeN")
def _shape_n(op, shapes, values):
    return [(len(s),) if s is not None else (-1,) for s in shapes]


@register_shape_function("Size", "Rank")
def _scalar_result(op, shapes, values):
    return [()]


@register_shape_function("Fill")
def _fill(op, shapes, values):
    _with_rank(op, "dims", shapes[0], 1)
    _with_rank(op, "value", shapes[1], 0)
    dims = _dims(values[0])
    if dims is None:
        return [(-1,) * shapes[0][0]] if _static(shapes[0]) else None
    if any(d < 0 for d in dims):
        _fail(op, f"dims {dims} must be non-negative")
    return [tuple(dims)]


@register_shape_function("Range")
def _range(op, shapes, values):
    for what, shape in zip(("start", "limit", "delta"), shapes):
        _with_rank(op, what, shape, 0)
    start, limit, delta = (values[i] for i in range(3))
    if start is None or limit is None or delta is None:
        return [(-1,)]
    start, limit, delta = start.item(), limit.item(), delta.item()
    if delta == 0:
        _fail(op, "requires delta != 0")
    if (delta > 0 and start > limit) or (delta < 0 and start < limit):
        _fail(op, f"requires start {'<=' if delta > 0 else '>='} limit when delta {'>' if delta > 0 else '<'} 0: "
                  f"{start}/{limit}")
    return [(math.ceil(abs((limit - start) / delta)),)]


@register_shape_function("Slice")
def _slice(op, shapes, values):
    x = shapes[0]
    _with_rank(op, "begin", shapes[1], 1)
    _with_rank(op, "size", shapes[2], 1)
    if shapes[1] is not None and shapes[2] is not None:
        _same_dim(op, "begin and size lengths", shapes[1][0], shapes[2][0])
    if x is not None and shapes[1] is not None:
        _same_dim(op, "begin length and input rank", shapes[1][0], len(x))
    begin, size = _dims(values[1]), _dims(values[2])
    if x is None or begin is None or size is None:
        return None
    out = []
    for b, s, d in zip(begin, size, x):
        if b < 0 or s < -1 or (d >= 0 and (b > d or (s >= 0 and b + s > d))):
            _fail(op, f"requires 0 <= begin <= begin + size <= dimension, not begin {begin}, size {size} of {shape_text(x)}")
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
    specs = shapes[1:4]
    for what, shape in zip(("begin", "end", "strides"), specs):
        _with_rank(op, what, shape, 1)
    lengths = [s[0] for s in specs if s is not None]
    for length in lengths[1:]:
        _same_dim(op, "begin, end and strides lengths", lengths[0], length)
    begin, end, strides = _dims(values[1]), _dims(values[2]), _dims(values[3])
    if strides is not None and 0 in strides:
        _fail(op, f"strides {strides} must be non-zero")
    shrink = attr_int(op, "shrink_axis_mask")
    if strides is not None and any(shrink & (1 << i) and s < 0 for i, s in enumerate(strides)):
        _fail(op, f"a negative stride where shrink_axis_mask {shrink} takes one index: strides are {strides}")
    if x is None or begin is None or end is None or strides is None:
        return None
    probe = tuple(d if d >= 0 else _UNKNOWN_PROBE for d in x)
    key = _strided_slice_key(op, begin, end, strides, len(x))
    try:
        shape = _view(probe)[key].shape
    except IndexError as err:
        _fail(op, f"the slice {begin}:{end}:{strides} does not fit {shape_text(x)} ({err})")
    # A dim computed from an unknown one is unknown; the probe makes any such dim huge.
    return [tuple(-1 if d > _UNKNOWN_PROBE // 2 else d for d in shape)]


_UNKNOWN_PROBE = 1_000_003


@register_shape_function(*LOOKUP_OPS)
def _lookup(op, shapes, values):
    # TensorFlow reads the table's handle data, which a static HashTableV2 leaves empty.
    shape = lookup_shape(op, shapes[1])
    return None if shape is None else [shape]


@register_shape_function("RaggedTensorToTensor")
def _ragged_to_tensor(op, shapes, values):
    """The padded tensor of a ragged one (TextVectorization's `output_sequence_length`): the
    `shape` input's dims where they are set, and the number of rows from the first row
    partition where it is not. TensorFlow's own function reads only `shape`, so the batch of
    every padded token sequence would stay unknown."""
    target = _dims(values[0])
    kinds = op.attributes.get("row_partition_types")
    if target is None or not isinstance(kinds, ListAttr) or not kinds.items.data:
        return None
    dims = list(target)
    if dims and dims[0] < 0:
        dims[0] = _row_count(op, kinds.items.data[0].data, shapes[3], values[3])
    values_shape = shapes[1]
    ragged_rank = len(kinds.items.data) - (kinds.items.data[0].data == "FIRST_DIM_SIZE")
    if values_shape is not None and len(dims) == ragged_rank + len(values_shape):
        for axis in range(ragged_rank + 1, len(dims)):
            if dims[axis] < 0:
                dims[axis] = values_shape[axis - ragged_rank]
    return [tuple(dims)]


def _row_count(op, kind: str, shape: Shape, value: np.ndarray | None) -> int:
    if kind == "ROW_SPLITS" and shape is not None and len(shape) == 1 and shape[0] > 0:
        return shape[0] - 1
    if kind == "FIRST_DIM_SIZE":
        if value is not None:
            return int(np.asarray(value).reshape(-1)[0])
        return leading_dense_size(op.data_operands[3])
    return -1


@register_shape_function("GatherV2")
def _gather(op, shapes, values):
    params, indices = shapes[0], shapes[1]
    _with_rank(op, "axis", shapes[2], 0)
    axis = _dims(values[2])
    if params is None or indices is None or axis is None:
        return None
    a = _axis(op, "axis", axis[0], len(params))
    batch = attr_int(op, "batch_dims")
    if batch < 0:
        batch += len(indices)
    if not 0 <= batch <= a or batch > len(indices):
        _fail(op, f"batch_dims {attr_int(op, 'batch_dims')} must be in [0, axis {a}] and at most the indices' rank")
    # TensorFlow builds the graph even when the batch dims differ; its kernel refuses them.
    return [tuple(params[:a]) + tuple(indices[batch:]) + tuple(params[a + 1 :])]


@register_shape_function("Pad", "PadV2", "MirrorPad")
def _pad(op, shapes, values):
    x, paddings = shapes[0], shapes[1]
    _with_rank(op, "paddings", paddings, 2)
    if paddings is not None:
        _same_dim(op, "paddings' second dimension must be 2", paddings[1], 2)
        if x is not None:
            _same_dim(op, "paddings' rows and input rank", paddings[0], len(x))
    if op.tf_type == "PadV2":
        _with_rank(op, "constant_values", shapes[2], 0)
    if x is None or values[1] is None:
        return None
    pads = np.asarray(values[1]).reshape(-1, 2)
    if (pads < 0).any():
        _fail(op, f"paddings {pads.tolist()} must be non-negative")
    if op.tf_type == "MirrorPad":
        offset = 0 if attr_str(op, "mode") == "SYMMETRIC" else 1
        for d, (before, after) in zip(x, pads):
            if d >= 0 and max(before, after) > d - offset:
                _fail(op, f"paddings {pads.tolist()} must be no greater than the dimension size {'' if offset == 0 else 'minus 1 '}"
                          f"of {shape_text(x)}")
    return [tuple(d + int(p[0]) + int(p[1]) if d >= 0 else -1 for d, p in zip(x, pads))]


@register_shape_function("Tile")
def _tile(op, shapes, values):
    x = shapes[0]
    _with_rank(op, "multiples", shapes[1], 1)
    if x is not None and shapes[1] is not None:
        _same_dim(op, "multiples length and input rank", shapes[1][0], len(x))
    multiples = _dims(values[1])
    if multiples is not None and any(m < 0 for m in multiples):
        _fail(op, f"multiples {multiples} must be non-negative")
    if x is None or multiples is None:
        return None
    return [tuple(d * m if d >= 0 else -1 for d, m in zip(x, multiples))]


@register_shape_function("BroadcastTo")
def _broadcast_to(op, shapes, values):
    x = shapes[0]
    _with_rank(op, "shape", shapes[1], 1)
    if x is not None and shapes[1] is not None and shapes[1][0] >= 0 and len(x) > shapes[1][0]:
        _fail(op, f"input {shape_text(x)} has a higher rank than the target shape's {shapes[1][0]}")
    target = _dims(values[1])
    if target is None:
        return None
    if x is not None:
        for d, t in zip(reversed(x), reversed(target)):
            if d >= 0 and t >= 0 and d != 1 and d != t:
                _fail(op, f"input {shape_text(x)} does not broadcast to {target}")
    return [tuple(target)]


@register_shape_function("Einsum")
def _einsum(op, shapes, values):
    equation = attr_str(op, "equation").replace(" ", "")
    if "..." in equation or "->" not in equation:
        return None
    inputs, output = equation.split("->")
    for label in output:
        if not label.isalpha() or label not in inputs:
            _fail(op, f"the output label '{label}' of '{equation}' is not a label of its inputs")
    if any(s is None for s in shapes):
        return None
    sizes: dict[str, int] = {}
    for letters, shape in zip(inputs.split(","), shapes):
        if len(letters) != len(shape):  # type: ignore[arg-type]
            _fail(op, f"'{letters}' of '{equation}' names {len(letters)} dimensions of a rank-{len(shape)} input")
        for letter, d in zip(letters, shape):  # type: ignore[arg-type]
            sizes[letter] = _merge_dim(op, f"dimension '{letter}' of '{equation}'", sizes.get(letter, -1), d)
    return [tuple(sizes.get(letter, -1) for letter in output)]


@register_shape_function("OneHot")
def _one_hot(op, shapes, values):
    indices = shapes[0]
    depth = _scalar(op, "depth", shapes[1], values[1])
    _with_rank(op, "on_value", shapes[2], 0)
    _with_rank(op, "off_value", shapes[3], 0)
    axis = attr_int(op, "axis", -1)
    if axis < -1 or (indices is not None and axis > len(indices)):
        _fail(op, f"axis {axis} must be -1 or within the output's rank")
    if depth is not None and depth < 0:
        _fail(op, f"depth {depth} must be non-negative")
    if indices is None:
        return None
    out = list(indices)
    out.insert(len(out) if axis == -1 else axis, -1 if depth is None else depth)
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


@_value_function("Range")
def _range_value(op, values, shapes):
    if any(v is None for v in values[:3]):
        return None
    start, limit, delta = (np.asarray(v).item() for v in values[:3])
    if delta == 0 or math.ceil(abs((limit - start) / delta)) > MAX_VALUE_ELEMENTS:
        return None
    return np.arange(start, limit, delta).astype(numpy_dtype_of_ir_type(op.data_results[0].type.element_type))


@_value_function("Fill")
def _fill_value(op, values, shapes):
    dims = _dims(values[0])
    if dims is None or values[1] is None or any(d < 0 for d in dims) or math.prod(dims) > MAX_VALUE_ELEMENTS:
        return None
    return np.full(dims, np.asarray(values[1]).reshape(()), dtype=np.asarray(values[1]).dtype)


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
    if op.tf_type == "FloorDiv" and not np.all(values[1]):
        return None  # TensorFlow fails at run time ("Integer division by zero"): no value to know
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
