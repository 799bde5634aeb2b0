"""nir's IR: the tf and neuron dialects on xDSL, dtype mapping, and the text form; and what a
pass author needs to read and change it (make a TF op or a constant next to another, replace
or forward an op, read and record placement, walk a model's functions)."""

from nir.ir import attr_names
from nir.ir.context import make_context
from nir.ir.control_flow import graph_functions
from nir.ir.module import entry_function
from nir.ir.neuron_dialect import ClusterOp, YieldOp
from nir.ir.patterns import (
    PatternPass,
    TFRewritePattern,
    apply_patterns,
    constant,
    forward,
    make_const,
    replace,
)
from nir.ir.patterns import create as create_like
from nir.ir.placement import CpuReason
from nir.ir.queries import carries_batch, cpu_reason, is_on_target, set_cpu_reason
from nir.ir.text import IRSyntaxError, parse_module, print_module
from nir.ir.tf_attrs import FuncAttr, ShapeAttr, TensorAttr, TensorPayload
from nir.ir.tf_dialect import CONTROL, TFNodeOp, create_tf_op, replace_tf_op, tf_op_class
from nir.ir.tf_types import ControlType, OpaqueDType

__all__ = [
    "CONTROL",
    "CpuReason",
    "attr_names",
    "carries_batch",
    "constant",
    "cpu_reason",
    "create_like",
    "entry_function",
    "graph_functions",
    "is_on_target",
    "replace_tf_op",
    "set_cpu_reason",
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
