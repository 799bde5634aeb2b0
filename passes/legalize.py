"""legalize{target=inferentia}: decide, for every op, whether the target can run it -- and why not.

Each op of the entry function ends up with exactly one of two marks (properties, so they never
reach a GraphDef): `nir.target = "inferentia"`, or `nir.cpu_reason = "<why>"`. The reasons are
what `nir explain` reports, so a user never has to guess why an op stayed on CPU:

- `listed in no_fuse_ops` -- the user asked for it;
- `function call not inlined: <why>` -- inline-calls could not inline it;
- `graph input or output stand-in` -- Placeholder, IdentityN;
- `op type X not supported by <target>`;
- `dtype string/resource/variant`;
- `shape not fully static` -- some input or output dimension unknown after shape inference;
- `control edge` -- the op has control inputs or others wait on it.

Before deciding, ops the target lacks are rewritten into exact equivalents it has (see
`REWRITES`). `force-fuse-ops` places the named ops on the target regardless of the rules above
(except the dtype rule, which neuron-cc cannot honour).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Attribute
from xdsl.passes import ModulePass

from backends.inferentia.target import NEVER_ON_TARGET, UNSUPPORTED_DTYPES, Target, get_target
from nir.ir.shapes import element_type, is_static
from nir.ir.tf_dialect import TFNodeOp, create_tf_op, replace_tf_op
from nir.ir.tf_types import OpaqueDType
from nir.passmanager.registry import register_pass
from passes.inline_calls import NOT_INLINED
from passes._util import entry_function, graph_ops, mark_on_target, set_cpu_reason

Rewrite = Callable[[TFNodeOp], bool]


def _replace(op: TFNodeOp, new_type: str, attrs: dict[str, Attribute] | None = None) -> TFNodeOp:
    """Same node, other op type: same name, operands, results and (unless given) attrs."""
    new = create_tf_op(
        new_type, op.node_name, op.data_operands, [r.type for r in op.data_results],
        op.attributes if attrs is None else attrs, op.control_operands, op.device,
    )
    new.properties.update({k: v for k, v in op.properties.items() if k not in new.properties})
    return replace_tf_op(op, new)


def _rename_op(new_type: str) -> Rewrite:
    def rewrite(op: TFNodeOp) -> bool:
        _replace(op, new_type)
        return True

    return rewrite


def _fused_batch_norm_v3(op: TFNodeOp) -> bool:
    """Inference-mode FusedBatchNormV3 is FusedBatchNorm when the extra 6th output is unused."""
    training = op.attributes.get("is_training")
    if training is not None and getattr(training, "value", None) and training.value.data:
        return False
    if op.data_results[5].uses:
        return False
    attrs = {k: v for k, v in op.attributes.items() if k != "U"}
    new = create_tf_op("FusedBatchNorm", op.node_name, op.data_operands,
                       [r.type for r in op.data_results[:5]], attrs, op.control_operands, op.device)
    replace_tf_op(op, new, kept_results=range(5))
    return True


def _same_shapes(op: TFNodeOp) -> bool:
    shapes = [o.type for o in op.data_operands]
    return all(is_static(s) for s in shapes) and len({str(s.get_shape()) for s in shapes}) == 1


def _batch_matmul_v2(op: TFNodeOp) -> bool:
    a, b = op.data_operands
    if not (is_static(a.type) and is_static(b.type)) or a.type.get_shape()[:-2] != b.type.get_shape()[:-2]:
        return False
    _replace(op, "BatchMatMul", {k: v for k, v in op.attributes.items() if k != "grad_x" and k != "grad_y"})
    return True


def _select_v2(op: TFNodeOp) -> bool:
    if not _same_shapes(op):
        return False
    _replace(op, "Select")
    return True


def _erfc(op: TFNodeOp) -> bool:
    """Erfc(x) = 1 - Erf(x), exactly as Keras 3 lowers it when Erfc is missing."""
    import numpy as np

    from nir.ir.dtypes import numpy_dtype_of_ir_type
    from nir.ir.shapes import tensor_type
    from nir.ir.tf_attrs import TensorAttr

    (x,) = op.data_operands
    dtype = element_type(x.type)
    scalar = tensor_type(dtype, ())
    one = create_tf_op("Const", op.node_name + "/one", [], [scalar], {
        "dtype": dtype,
        "value": TensorAttr.from_numpy(np.ones((), numpy_dtype_of_ir_type(dtype)), scalar),
    })
    erf = create_tf_op("Erf", op.node_name + "/erf", [x], [x.type], {"T": dtype})
    block = op.parent
    block.insert_ops_before([one, erf], op)
    sub = _replace(op, "Sub")
    sub.operands = [one.data_results[0], erf.data_results[0], *sub.control_operands]
    return True


# op type -> (replacement op type, rewrite). A rewrite runs only when the target lacks the
# op and has the replacement, and returns False when it does not apply exactly.
REWRITES: dict[str, tuple[str, Rewrite]] = {
    "StopGradient": ("Identity", _rename_op("Identity")),
    "AddV2": ("Add", _rename_op("Add")),
    "FusedBatchNormV3": ("FusedBatchNorm", _fused_batch_norm_v3),
    "BatchMatMulV2": ("BatchMatMul", _batch_matmul_v2),
    "SelectV2": ("Select", _select_v2),
    "Erfc": ("Erf", _erfc),
}


def _has_bad_dtype(op: TFNodeOp) -> str | None:
    for value in [*op.data_operands, *op.data_results]:
        dtype = element_type(value.type)
        if isinstance(dtype, OpaqueDType) and dtype.dtype.data.split("_ref")[0] in UNSUPPORTED_DTYPES:
            return dtype.dtype.data
    return None


def cpu_reason_for(op: TFNodeOp, target: Target, no_fuse: frozenset[str]) -> str | None:
    if op.node_name in no_fuse:
        return "listed in no_fuse_ops"
    if (why := op.properties.get(NOT_INLINED)) is not None:
        return f"function call not inlined: {why.data}"
    if op.tf_type in NEVER_ON_TARGET:
        return "graph input or output stand-in"
    if (bad := _has_bad_dtype(op)) is not None:
        return f"dtype {bad}"
    if op.tf_type not in target.supported_ops:
        return f"op type {op.tf_type} not supported by {target.name}"
    if not all(is_static(v.type) for v in [*op.data_operands, *op.data_results]):
        return "shape not fully static"
    if op.control_operands or op.control.uses:
        return "control edge"
    return None


@register_pass
@dataclass(frozen=True)
class LegalizePass(ModulePass):
    """Mark each op as placed on the target or on CPU with the reason; rewrite ops the target lacks."""

    name = "legalize"

    target: str = "inferentia"
    no_fuse_ops: tuple[str, ...] = ()
    force_fuse_ops: tuple[str, ...] = ()
    supported_op_types: tuple[str, ...] = ()

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = get_target(self.target)
        if self.supported_op_types:
            target = Target(target.name, frozenset(self.supported_op_types), "supported_op_types")
        fn = entry_function(op)
        for graph_op in list(graph_ops(fn)):
            rewrite = REWRITES.get(graph_op.tf_type)
            if rewrite and graph_op.tf_type not in target.supported_ops and rewrite[0] in target.supported_ops:
                rewrite[1](graph_op)
        no_fuse, force = frozenset(self.no_fuse_ops), frozenset(self.force_fuse_ops)
        for graph_op in graph_ops(fn):
            reason = cpu_reason_for(graph_op, target, no_fuse)
            if reason is not None and graph_op.node_name in force and not reason.startswith("dtype"):
                reason = None
            if reason is None:
                mark_on_target(graph_op, target.name)
            else:
                set_cpu_reason(graph_op, reason)
