"""Tensor types with TensorFlow's shape conventions (-1 unknown dim, None unknown rank)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from xdsl.dialects.builtin import DYNAMIC_INDEX, TensorType, UnrankedTensorType
from xdsl.ir import Attribute
from xdsl.rewriter import Rewriter

TFShape = tuple[int, ...] | None


def tensor_type(element_type: Attribute, dims: Sequence[int] | None) -> Attribute:
    """`tensor<1x?x3xf32>` from TF dims [1, -1, 3]; `tensor<*xf32>` when dims is None."""
    return _tensor_type(element_type, None if dims is None else tuple(dims))


@functools.lru_cache(maxsize=65536)
def _tensor_type(element_type: Attribute, dims: tuple[int, ...] | None) -> Attribute:
    # Attributes are immutable and building one runs its verifier: graphs reuse a few
    # hundred distinct types, so they are built once.
    if dims is None:
        return UnrankedTensorType(element_type)
    return TensorType(element_type, [DYNAMIC_INDEX if d < 0 else d for d in dims])


def tf_shape(ir_type: Attribute) -> TFShape:
    """TF dims of a tensor type: -1 for unknown dims, None for unknown rank."""
    if isinstance(ir_type, TensorType):
        return tuple(-1 if d == DYNAMIC_INDEX else d for d in ir_type.get_shape())
    return None


def element_type(ir_type: Attribute) -> Attribute:
    if isinstance(ir_type, (TensorType, UnrankedTensorType)):
        return ir_type.element_type
    raise TypeError(f"{ir_type} is not a tensor type")


def is_static(ir_type: Attribute) -> bool:
    shape = tf_shape(ir_type)
    return shape is not None and all(d >= 0 for d in shape)


def element_count(ir_type: Attribute) -> int | None:
    """How many elements a tensor of this type holds; None unless its shape is static."""
    return math.prod(tf_shape(ir_type)) if is_static(ir_type) else None


def retype(value, new_type: Attribute):
    """Give an SSA value a new type (xDSL values are immutable: this swaps in a new value
    with the same uses and name)."""

    if value.type == new_type:
        return value
    hint = value.name_hint
    new_value = Rewriter.replace_value_with_new_type(value, new_type)
    new_value.name_hint = hint
    return new_value


def describe_type(ir_type) -> str:
    """A value's type as nir's reports print it: `1x224x224x3:f32`, `?x8:i32`, `scalar:f32`."""
    shape = tf_shape(ir_type)
    element = getattr(ir_type, "element_type", ir_type)
    dims = "?" if shape is None else "x".join("?" if d < 0 else str(d) for d in shape) or "scalar"
    return f"{dims}:{element}"
