"""What the IR can tell about a lookup table (`tf.lookup`, Keras' StringLookup, IntegerLookup
and TextVectorization): the shapes a lookup gives, and the values it can give.

TensorFlow's own shape function for `LookupTableFindV2` reads the shapes the table's creator
attached to its resource handle; a `HashTableV2` attaches none (a static table's keys and
values are scalars by construction), so a lookup's result comes out of TensorFlow unranked and
every shape after a StringLookup is unknown. The table op's type says what TensorFlow's handle
data would have said, and the functions here say it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from xdsl.ir import Operation, SSAValue

from nir.ir.op_facts import FORWARDING, op_types_with
from nir.ir.queries import const_value
from nir.ir.shapes import element_count
from nir.ir.tf_attrs import ShapeAttr
from nir.ir.tf_dialect import TFNodeOp

LOOKUP_OPS = frozenset({"LookupTableFind", "LookupTableFindV2"})
SIZE_OPS = frozenset({"LookupTableSize", "LookupTableSizeV2"})

# Ops that read a table without changing it; any other reader (an insert, a remove, a call
# that receives the handle) may change its values.
_READERS = LOOKUP_OPS | frozenset({"LookupTableSize", "LookupTableSizeV2", "LookupTableExport", "LookupTableExportV2"})
# Ops that fill a table from (table, keys, values) operands: TF2's initializers import, TF1's
# (`tf.compat.v1.tables_initializer`) initialize.
_FILLERS = frozenset({"LookupTableImport", "LookupTableImportV2", "InitializeTable", "InitializeTableV2"})

# Tables whose keys and values are scalars; the static ones are filled once, by their
# initializer. A mutable table's values can come from another signature of the same model, or
# an earlier call: what this graph writes into it is not all it can hold.
_STATIC_TABLES = frozenset({"HashTable", "HashTableV2"})
_SCALAR_TABLES = _STATIC_TABLES | frozenset({"MutableHashTable", "MutableHashTableV2"})
# Tables whose values have the shape of their `value_shape` attribute (scalar keys).
_TENSOR_TABLES = frozenset({"MutableHashTableOfTensors", "MutableHashTableOfTensorsV2"})


def table_op(handle: SSAValue) -> TFNodeOp | None:
    """The op that made the table `handle` refers to; None when the handle comes from outside
    the function."""
    owner = _source(handle).owner
    return owner if isinstance(owner, TFNodeOp) else None


def _source(value: SSAValue) -> SSAValue:
    """`value` before any forwarding op: function inlining leaves an Identity per call
    boundary, often with a control edge that orders it (and keeps canonicalize's hands off)."""
    forwarding = op_types_with(FORWARDING)
    while isinstance(value.owner, TFNodeOp) and value.owner.tf_type in forwarding and value.owner.data_operands:
        value = value.owner.data_operands[0]
    return value


def lookup_shape(find: TFNodeOp, keys: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """The shape of a lookup's result for keys of shape `keys`: the keys' shape followed by the
    values' (TensorFlow's rule), when the table's kind says what its values are."""
    table = table_op(find.data_operands[0])
    if table is None or keys is None:
        return None
    if table.tf_type in _SCALAR_TABLES:
        return keys
    if table.tf_type in _TENSOR_TABLES:
        value_shape = table.attributes.get("value_shape")
        if isinstance(value_shape, ShapeAttr) and value_shape.data is not None:
            return keys + tuple(value_shape.data)
    return None


def _readers_of(table: TFNodeOp) -> Iterator[Operation]:
    """Every op that receives the table's handle, through forwarding ops."""
    forwarding = op_types_with(FORWARDING)
    pending = [table.data_results[0]]
    while pending:
        for use in pending.pop().uses:
            reader = use.operation
            if isinstance(reader, TFNodeOp) and reader.tf_type in forwarding:
                pending.extend(reader.data_results)
            else:
                yield reader


def value_range(find: TFNodeOp) -> tuple[int, int] | None:
    """The least and greatest value a lookup can give, when they are known at compile time: the
    table is a static one filled only from constants (a Keras vocabulary), nothing else in the
    graph writes to it, and the default value is a constant. None otherwise."""
    table = table_op(find.data_operands[0])
    if table is None or table.tf_type not in _STATIC_TABLES:
        return None
    default = const_value(_source(find.data_operands[2]))
    if default is None:
        return None
    values = [np.asarray(default).reshape(-1)]
    for reader in _readers_of(table):
        if not isinstance(reader, TFNodeOp):
            return None
        if reader.tf_type in _FILLERS:
            filled = const_value(_source(reader.data_operands[2]))
            if filled is None:
                return None
            values.append(np.asarray(filled).reshape(-1))
        elif reader.tf_type not in _READERS:
            return None
    every = np.concatenate(values)
    if every.dtype.kind not in "iu" or every.size == 0:
        return None
    return int(every.min()), int(every.max())


def size_range(size: TFNodeOp) -> tuple[int, int] | None:
    """The least and greatest number of entries a table can hold when it is filled only from
    constants: between none (before its initialisation) and every key imported."""
    table = table_op(size.data_operands[0])
    if table is None or table.tf_type not in _STATIC_TABLES:
        return None
    imported = 0
    for reader in _readers_of(table):
        if not isinstance(reader, TFNodeOp):
            return None
        if reader.tf_type in _FILLERS:
            keys = reader.data_operands[1].type
            count = element_count(keys)
            if count is None:
                return None
            imported += count
        elif reader.tf_type not in _READERS:
            return None
    return 0, imported
