"""dce: remove ops whose results nothing needs.

An op is dead when none of its data results or its control token is used and it has no side
effect: TensorFlow's OpDef says whether an op type is stateful, and stateful ops (variables,
queues, prints, random ops) are always kept, as are ops inside library functions (their
callers decide). Dead ops are removed in reverse order, so whole dead chains go in one pass;
clusters left with no results, and constants nobody reads, go too.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass

from nir.ir.neuron_dialect import ClusterOp
from nir.ir.op_facts import is_stateful
from nir.ir.tf_dialect import TFNodeOp
from nir.passmanager.registry import register_pass
from passes.control_flow import graph_functions


def is_dead(op: Operation) -> bool:
    if any(result.uses for result in op.results):
        return False
    if isinstance(op, TFNodeOp):
        return not is_stateful(op.tf_type)
    if isinstance(op, ClusterOp):
        return not any(
            isinstance(inner, TFNodeOp) and is_stateful(inner.tf_type) for inner in op.block.ops
        )
    return False


def remove_dead_ops(block) -> int:
    removed = 0
    for op in reversed(list(block.ops)):
        if is_dead(op):
            op.detach()
            op.erase()
            removed += 1
    return removed


@register_pass
@dataclass(frozen=True)
class DeadCodeEliminationPass(ModulePass):
    """Remove side-effect-free ops (and clusters) whose results are not used."""

    name = "dce"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in graph_functions(op):
            remove_dead_ops(fn.body.block)
