"""nir's IR: the tf and neuron dialects on xDSL, dtype mapping, and the text form."""

from nir.ir.context import make_context
from nir.ir.neuron_dialect import ClusterOp, YieldOp
from nir.ir.patterns import PatternPass, TFRewritePattern, apply_patterns, forward, make_const, replace
from nir.ir.text import IRSyntaxError, parse_module, print_module
from nir.ir.tf_attrs import FuncAttr, ShapeAttr, TensorAttr, TensorPayload
from nir.ir.tf_dialect import CONTROL, TFNodeOp, create_tf_op, tf_op_class
from nir.ir.tf_types import ControlType, OpaqueDType

__all__ = [
    "CONTROL",
    "ClusterOp",
    "ControlType",
    "FuncAttr",
    "IRSyntaxError",
    "OpaqueDType",
    "PatternPass",
    "ShapeAttr",
    "TFNodeOp",
    "TFRewritePattern",
    "apply_patterns",
    "TensorAttr",
    "TensorPayload",
    "YieldOp",
    "create_tf_op",
    "forward",
    "make_const",
    "make_context",
    "parse_module",
    "print_module",
    "replace",
    "tf_op_class",
]
