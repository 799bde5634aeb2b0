"""The least and greatest value an integer tensor can hold, where the IR proves them.

Followed: ops that move or choose values (a range is the union of their operands'), sums,
differences, minima and maxima (interval arithmetic, given up where the type could overflow),
and the ops whose results are bounded by what they are: constants, lookups into tables filled
from constants and their sizes (`nir.ir.lookup_tables`), string hashes into `num_buckets`
buckets, and casts from narrower types. Those are the ids a text model's tokenizer, vocabulary
and out-of-vocabulary buckets give (Keras' StringLookup, Hashing, `tf.lookup.StaticVocabularyTable`).
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import IntegerType
from xdsl.ir import SSAValue

from nir.ir.dtypes import numpy_dtype_of_ir_type
from nir.ir.lookup_tables import LOOKUP_OPS, SIZE_OPS, size_range, value_range
from nir.ir.op_facts import FORWARDING, op_types_with
from nir.ir.queries import const_value
from nir.ir.shapes import element_type
from nir.ir.tf_dialect import TFNodeOp

Range = tuple[int, int]

# Ops whose results hold only values of these operands (by index; None: every data operand).
_MOVES_OPERANDS: dict[str, tuple[int, ...] | None] = {
    **dict.fromkeys(
        ["Reshape", "ExpandDims", "Squeeze", "Transpose", "StridedSlice", "Slice", "Tile", "BroadcastTo",
         "ReverseV2", "GatherV2", "Gather", "GatherNd"], (0,)),
    "Select": (1, 2),
    "SelectV2": (1, 2),
    "RaggedTensorToTensor": (1, 2),  # the values, and the padding
    "Pack": None,
    "ConcatV2": None,  # its last operand is the axis: excluded below
    "Fill": (1,),
}

MAX_CONSTANT_ELEMENTS = 1 << 20  # a vocabulary's ids; never scan a weight
_HASHES = frozenset({"StringToHashBucket", "StringToHashBucketFast", "StringToHashBucketStrong"})
MAX_DEPTH = 100  # ops followed from a value; ids come a few ops from their table or hash


def integer_range(value: SSAValue) -> Range | None:
    """(least, greatest) value of the integer tensor `value`, or None when the IR does not say."""
    return _Ranges().of(value)


def fits(bounds: Range | None, ir_type) -> bool:
    """Whether every value in `bounds` is representable in the integer type `ir_type`."""
    if bounds is None:
        return False
    info = np.iinfo(numpy_dtype_of_ir_type(ir_type))
    return info.min <= bounds[0] and bounds[1] <= info.max


class _Ranges:
    def __init__(self):
        self.known: dict[SSAValue, Range | None] = {}
        self.depth = 0

    def of(self, value: SSAValue) -> Range | None:
        if value not in self.known:
            if self.depth >= MAX_DEPTH:
                return None
            self.known[value] = None  # a cycle (a loop's value) proves nothing
            self.depth += 1
            try:
                self.known[value] = self._compute(value)
            finally:
                self.depth -= 1
        return self.known[value]

    def _compute(self, value: SSAValue) -> Range | None:
        op = value.owner
        if not isinstance(op, TFNodeOp) or not isinstance(element_type(value.type), IntegerType):
            return None
        if op.tf_type == "Const":
            constant = const_value(value, MAX_CONSTANT_ELEMENTS)
            if constant is None or constant.size == 0 or constant.dtype.kind not in "iub":
                return None
            return int(constant.min()), int(constant.max())
        if op.tf_type in LOOKUP_OPS:
            return value_range(op)
        if op.tf_type in SIZE_OPS:
            return size_range(op)
        if op.tf_type in _HASHES:
            buckets = op.attributes.get("num_buckets")
            count = getattr(getattr(buckets, "value", None), "data", 0)
            return (0, count - 1) if count > 0 else None
        if op.tf_type in ("Add", "AddV2", "Sub", "Minimum", "Maximum"):
            return self._arithmetic(op)
        if op.tf_type == "Cast":
            return self._cast(op)
        if op.tf_type in op_types_with(FORWARDING):
            return self.of(op.data_operands[0]) if op.data_operands else None
        if op.tf_type in _MOVES_OPERANDS:
            return self._union(op)
        return None

    def _cast(self, op: TFNodeOp) -> Range | None:
        source = op.data_operands[0]
        source_type = element_type(source.type)
        if not isinstance(source_type, IntegerType):
            return None
        bounds = self.of(source)
        if bounds is None and source_type.width.data < 64:
            info = np.iinfo(numpy_dtype_of_ir_type(source_type)) if source_type.width.data > 1 else None
            bounds = (int(info.min), int(info.max)) if info is not None else (0, 1)
        return bounds if fits(bounds, element_type(op.data_results[0].type)) else None

    def _arithmetic(self, op: TFNodeOp) -> Range | None:
        a, b = (self.of(v) for v in op.data_operands[:2])
        if a is None or b is None:
            return None
        bounds = {
            "Add": (a[0] + b[0], a[1] + b[1]), "AddV2": (a[0] + b[0], a[1] + b[1]),
            "Sub": (a[0] - b[1], a[1] - b[0]),
            "Minimum": (min(a[0], b[0]), min(a[1], b[1])), "Maximum": (max(a[0], b[0]), max(a[1], b[1])),
        }[op.tf_type]
        # Python's integers do not wrap; TensorFlow's would, past the result type's bounds.
        return bounds if fits(bounds, element_type(op.data_results[0].type)) else None

    def _union(self, op: TFNodeOp) -> Range | None:
        indices = _MOVES_OPERANDS[op.tf_type]
        operands = list(op.data_operands)
        if op.tf_type == "ConcatV2":
            operands = operands[:-1]
        chosen = operands if indices is None else [operands[i] for i in indices if i < len(operands)]
        bounds = [self.of(v) for v in chosen]
        if not bounds or any(b is None for b in bounds):
            return None
        return min(b[0] for b in bounds), max(b[1] for b in bounds)
