"""Reading a TensorFlow node's attributes, with the caller's default for one the node lacks.

Shared by the shape functions and the small IR queries they use (string splits, lookups), which
cannot import the shape functions without a cycle.
"""

from __future__ import annotations

from xdsl.dialects.builtin import IntegerAttr, StringAttr

from nir.ir.tf_attrs import ListAttr
from nir.ir.tf_dialect import TFNodeOp


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
