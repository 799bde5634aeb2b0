"""Types of the tf dialect: the control token, and dtypes MLIR's builtins lack."""

from __future__ import annotations

from xdsl.dialects.builtin import StringAttr
from xdsl.ir import ParametrizedAttribute, TypeAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer


@irdl_attr_definition
class ControlType(ParametrizedAttribute, TypeAttribute):
    """`!tf.control`: the value an op yields so others can depend on it having run.

    TensorFlow's control edges carry no data; as SSA values they stay visible to every pass
    (a pass that drops one is visibly wrong in the dump)."""

    name = "tf.control"


@irdl_attr_definition
class OpaqueDType(ParametrizedAttribute, TypeAttribute):
    """`!tf.dtype<"string">`: a TF dtype with no MLIR builtin equivalent.

    Strings, resources, variants, quantized types, narrow floats and TF1 `*_ref` dtypes."""

    name = "tf.dtype"

    dtype: StringAttr

    def __init__(self, dtype: str | StringAttr):
        super().__init__(StringAttr(dtype) if isinstance(dtype, str) else dtype)

    @classmethod
    def parse_parameters(cls, parser: AttrParser):
        with parser.in_angle_brackets():
            return (StringAttr(parser.parse_str_literal()),)

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_string_literal(self.dtype.data)
