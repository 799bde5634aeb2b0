"""dce: remove ops whose results nothing needs.

An op is dead when none of its data results or its control token is used and it has no side
effect. That is xDSL's own test (`is_trivially_dead`), which works on TF ops through the tf
dialect's traits: an op type TensorFlow's OpDef calls stateful (variables, queues, prints,
random ops), or that nobody knows, has no `NoMemoryEffect` trait and is always kept; a cluster
has the effects of the ops it holds. Only the graph functions (the entry function and the
control-flow bodies it runs) are cleaned: ops inside other library functions are their
callers' business.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.transforms.dead_code_elimination import is_trivially_dead

from nir.ir.control_flow import graph_functions
from nir.passmanager.registry import register_pass


def remove_dead_ops(fn: func.FuncOp) -> None:
    """Erase the function's dead ops, last first: an op whose only users were dead is dead by
    the time the sweep reaches it, so a whole chain goes in one sweep (xDSL's `region_dce`
    computes liveness of every op to the same end, 100 times slower on a 50k-op graph)."""
    block = fn.body.block
    op = block.last_op
    while op is not None:
        previous = op.prev_op
        if is_trivially_dead(op):
            block.erase_op(op)
        op = previous


@register_pass
@dataclass(frozen=True)
class DeadCodeEliminationPass(ModulePass):
    """Remove side-effect-free ops (and clusters) whose results are not used."""

    name = "tf-dce"
    aliases = ("dce",)  # the name until nir 0.1; dropped in 0.3

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in graph_functions(op):
            remove_dead_ops(fn)
