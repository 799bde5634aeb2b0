"""TensorFlow dtype <-> NIR type mapping.

Every TensorFlow DataType has exactly one IR type and back, so that a GraphDef survives the
trip through NIR unchanged. Numeric types use MLIR's builtin types (what every MLIR tool
understands); the rest (strings, resources, variants, quantized and narrow float types, and
reference dtypes of TF1 variables) are `!tf.*` types of the tf dialect.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import (
    BFloat16Type,
    ComplexType,
    Float16Type,
    Float32Type,
    Float64Type,
    IntegerType,
    Signedness,
    i1,
)
from xdsl.ir import Attribute

from nir.errors import NirInputError
from nir.ir.tf_types import OpaqueDType

_DT = None


def _dt():
    global _DT
    if _DT is None:
        from tensorflow.core.framework import types_pb2

        _DT = types_pb2
    return _DT


def _builtin_table() -> dict[str, Attribute]:
    return {
        "DT_FLOAT": Float32Type(),
        "DT_DOUBLE": Float64Type(),
        "DT_HALF": Float16Type(),
        "DT_BFLOAT16": BFloat16Type(),
        "DT_BOOL": i1,
        "DT_INT8": IntegerType(8),
        "DT_INT16": IntegerType(16),
        "DT_INT32": IntegerType(32),
        "DT_INT64": IntegerType(64),
        "DT_UINT8": IntegerType(8, Signedness.UNSIGNED),
        "DT_UINT16": IntegerType(16, Signedness.UNSIGNED),
        "DT_UINT32": IntegerType(32, Signedness.UNSIGNED),
        "DT_UINT64": IntegerType(64, Signedness.UNSIGNED),
        "DT_COMPLEX64": ComplexType(Float32Type()),
        "DT_COMPLEX128": ComplexType(Float64Type()),
    }


_TO_IR: dict[int, Attribute] = {}
_FROM_IR: dict[Attribute, int] = {}


def _build_tables() -> None:
    for enum_name, value in _dt().DataType.items():
        if enum_name == "DT_INVALID":
            continue
        ir_type = ir_type_of_dtype_name(enum_name)
        _TO_IR[value] = ir_type
        _FROM_IR[ir_type] = value


def ir_type_of_dtype(dtype: int) -> Attribute:
    """IR element type of a TF DataType enum value (reference dtypes included)."""
    if not _TO_IR:
        _build_tables()
    try:
        return _TO_IR[dtype]
    except KeyError:
        raise NirInputError(f"unknown TensorFlow dtype enum value {dtype} (DT_INVALID or newer than this TensorFlow)") from None


def is_ref_type(ir_type: Attribute) -> bool:
    """A TF1 reference dtype (`float_ref`: a variable read in place)."""
    return isinstance(ir_type, OpaqueDType) and ir_type.dtype.data.endswith("_ref")


def dtype_of_ir_type(ir_type: Attribute) -> int:
    """TF DataType enum value of an IR element type."""
    if not _TO_IR:
        _build_tables()
    try:
        return _FROM_IR[ir_type]
    except KeyError:
        raise ValueError(f"IR type {ir_type} has no TensorFlow dtype") from None


def ir_type_of_dtype_name(enum_name: str) -> Attribute:
    """IR element type of a DataType enum name ("DT_FLOAT"), without TensorFlow."""
    if not _BUILTIN_BY_NAME:
        _BUILTIN_BY_NAME.update(_builtin_table())
    builtin = _BUILTIN_BY_NAME.get(enum_name)
    return builtin if builtin is not None else OpaqueDType(enum_name[3:].lower())


_BUILTIN_BY_NAME: dict[str, Attribute] = {}


def dtype_name(dtype: int) -> str:
    """'float32', 'int64', ... as numpy and neuron-cc spell them."""
    import tensorflow as tf

    return tf.dtypes.as_dtype(dtype).name


_NUMPY_NAMES = {
    "DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_HALF": "float16", "DT_BFLOAT16": "bfloat16",
    "DT_BOOL": "bool", "DT_INT8": "int8", "DT_INT16": "int16", "DT_INT32": "int32", "DT_INT64": "int64",
    "DT_UINT8": "uint8", "DT_UINT16": "uint16", "DT_UINT32": "uint32", "DT_UINT64": "uint64",
    "DT_COMPLEX64": "complex64", "DT_COMPLEX128": "complex128",
}
_NUMPY_OF_BUILTIN: dict[Attribute, str] = {}


def numpy_dtype_of_ir_type(ir_type: Attribute):
    """numpy dtype of an IR element type (bfloat16 through ml_dtypes, as TensorFlow does).

    The builtin (numeric) types are mapped without TensorFlow, so parsing IR text with constant
    literals (`nir opt`) never pays TensorFlow's start-up; only the `!tf.*` types ask it."""
    if not _NUMPY_OF_BUILTIN:
        _NUMPY_OF_BUILTIN.update({t: _NUMPY_NAMES[k] for k, t in _builtin_table().items()})
    name = _NUMPY_OF_BUILTIN.get(ir_type)
    if name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    if name is not None:
        return np.dtype(name).type
    import tensorflow as tf

    return tf.dtypes.as_dtype(dtype_of_ir_type(ir_type)).as_numpy_dtype
