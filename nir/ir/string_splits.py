"""What the IR can tell about the sparse results of string splitting (`tf.strings.split`, the
tokenizer of Keras' TextVectorization): how many rows they have.

`StringSplitV2` gives a SparseTensor (indices, values, dense_shape) whose dense shape is
`[number of strings, longest split]`. The second is known only when the strings are; the
first is the input's length, which shape inference knows. A ragged tensor built from it
(`RaggedTensor.from_value_rowids(..., nrows=dense_shape[0])`) has that many rows, and so does
the padded tensor made of it: the batch of a text model's token ids.
"""

from __future__ import annotations

from xdsl.ir import SSAValue

from nir.ir.node_attrs import attr_int
from nir.ir.queries import const_value
from nir.ir.shapes import tf_shape
from nir.ir.tf_dialect import TFNodeOp

_SPLITS = frozenset({"StringSplit", "StringSplitV2"})
_DENSE_SHAPE = 2  # the split's third result


def leading_dense_size(value: SSAValue) -> int:
    """The value of `value` when it is the first element of a string split's dense shape
    (`dense_shape[0]`, through a Cast): the split input's length; -1 when unknown."""
    owner = value.owner
    while isinstance(owner, TFNodeOp) and owner.tf_type == "Cast":
        value = owner.data_operands[0]
        owner = value.owner
    if not (isinstance(owner, TFNodeOp) and owner.tf_type == "StridedSlice" and _takes_element_zero(owner)):
        return -1
    vector = owner.data_operands[0]
    split = vector.owner
    if not (isinstance(split, TFNodeOp) and split.tf_type in _SPLITS and vector is split.data_results[_DENSE_SHAPE]):
        return -1
    strings = tf_shape(split.data_operands[0].type)
    return strings[0] if strings is not None and len(strings) == 1 and strings[0] >= 0 else -1


def _takes_element_zero(op: TFNodeOp) -> bool:
    """Whether a StridedSlice is `x[0]` of a vector: begin 0, stride 1, the axis shrunk."""
    begin, _, strides = (const_value(v) for v in op.data_operands[1:4])
    masks = {name: attr_int(op, name) for name in ("shrink_axis_mask", "begin_mask", "ellipsis_mask", "new_axis_mask")}
    return (begin is not None and strides is not None and begin.reshape(-1).tolist() == [0]
            and strides.reshape(-1).tolist() == [1]
            and masks == {"shrink_axis_mask": 1, "begin_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0})
