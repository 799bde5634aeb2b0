"""legalize{target=inferentia}: decide, for every op, whether the target can run it -- and why not.

Each op of the entry function and of the control-flow bodies it runs ends up with exactly one
of two marks (properties, so they never reach a GraphDef): `nir.target = "inferentia"`, or
`nir.cpu_reason = "<why>"`. The reasons are
what `nir explain` reports, so a user never has to guess why an op stayed on CPU:

- `listed in no_fuse_ops` -- the user asked for it;
- `function call not inlined: <why>` -- inline-calls could not inline it;
- `loop not unrolled: <why>` -- a While unroll-loops left a loop (its body's ops are placed
  on their own, and run at every iteration);
- `graph input or output stand-in` -- Placeholder, IdentityN;
- `X is never placed on <target>` -- the target's rules exclude the op type (NeuronOp: compiled
  before), which force-fuse-ops cannot override;
- `op type X not supported by <target>`;
- `dtype string/resource/variant`;
- `shape not fully static` -- some input or output dimension unknown after shape inference;
- `control edge` -- the op has control inputs or others wait on it.

Before deciding, ops the target lacks are rewritten into exact equivalents it has, by the
patterns of `passes.rewrites` (Einsum, embedding lookups, ...); a rewrite that does not apply says why,
and that goes into the op's reason. `force-fuse-ops` places the named ops on the target even
when their op type is not in the target's table (a newer compiler may take it); every other
rule still holds for them, and their reason says that forcing could not override it.
`neuron-cc` names the compiler whose `list-operators` gives the table (default: on PATH).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass

from nir.ir.attr_names import NOT_INLINED, NOT_UNROLLED, REWRITE_DECLINED
from nir.ir.control_flow import graph_functions
from nir.ir.patterns import apply_patterns
from nir.ir.placement import CpuReason
from nir.ir.queries import graph_ops, mark_on_target, set_cpu_reason
from nir.ir.shapes import element_type, is_static
from nir.ir.tf_dialect import GraphBoundary, TFNodeOp
from nir.ir.tf_types import OpaqueDType
from nir.passmanager.registry import register_pass
from nir.target import PlacementRules, Target, get_target, placement_rules
from passes.rewrites import legalization_patterns

logger = logging.getLogger("nir")


def _has_bad_dtype(op: TFNodeOp, unsupported: frozenset[str]) -> str | None:
    for value in [*op.data_operands, *op.data_results]:
        dtype = element_type(value.type)
        if isinstance(dtype, OpaqueDType) and dtype.dtype.data.split("_ref")[0] in unsupported:
            return dtype.dtype.data
    return None


def cpu_reason_for(op: TFNodeOp, target: Target, no_fuse: frozenset[str], rules: PlacementRules) -> str | None:
    if op.node_name in no_fuse:
        return CpuReason.NO_FUSE_OPS.marker
    if (why := op.properties.get(NOT_INLINED)) is not None:
        return f"function call not inlined: {why.data}"
    if (why := op.properties.get(NOT_UNROLLED)) is not None:
        return f"loop not unrolled: {why.data}"
    if op.has_trait(GraphBoundary):
        return CpuReason.IO_STAND_IN.marker
    if op.tf_type in rules.never_on_target:
        return f"{op.tf_type} is never placed on {target.name}"
    if (bad := _has_bad_dtype(op, rules.unsupported_dtypes)) is not None:
        return f"dtype {bad}"
    if op.tf_type not in target.supported_ops:
        declined = op.properties.get(REWRITE_DECLINED)
        why = f" ({declined.data}, so it was not rewritten)" if isinstance(declined, StringAttr) else ""
        return f"op type {op.tf_type} not supported by {target.name}{why}"
    if not all(is_static(v.type) for v in [*op.data_operands, *op.data_results]):
        return CpuReason.DYNAMIC_SHAPE.marker
    if op.control_operands or op.control.uses:
        return CpuReason.CONTROL_EDGE.marker
    return None


def forced_reason(reason: str) -> str | None:
    """What is left of `reason` for an op named in force-fuse-ops: forcing vouches that the
    compiler takes the op type; it cannot make the other rules false (no_fuse_ops, graph
    stand-ins, dtypes, static shapes, control edges all hold whatever the op table says)."""
    if CpuReason.of(reason) is CpuReason.UNSUPPORTED_OP:
        return None
    return f"{reason} (force_fuse_ops cannot override this)"


@register_pass
@dataclass(frozen=True)
class LegalizePass(ModulePass):
    """Mark each op as placed on the target or on CPU with the reason; rewrite ops the target lacks."""

    name = "tf-legalize"
    aliases = ("legalize",)  # the name until nir 0.1; dropped in 0.3

    target: str = "inferentia"
    no_fuse_ops: tuple[str, ...] = ()
    force_fuse_ops: tuple[str, ...] = ()
    supported_op_types: tuple[str, ...] = ()
    neuron_cc: str = ""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = get_target(self.target, self.neuron_cc or None)
        if self.supported_op_types:
            target = replace(target, supported_ops=frozenset(self.supported_op_types), source="supported_op_types")
        # Which table placed the ops is the first question when an op stays on CPU that the
        # compiler on the user's machine supports (or the other way round).
        logger.info("tf-legalize: %d op types may go to %s, by %s", len(target.supported_ops), target.name, target.source)
        no_fuse, force = frozenset(self.no_fuse_ops), frozenset(self.force_fuse_ops)
        functions = graph_functions(op)
        rules = placement_rules(target.name)
        apply_patterns(functions, legalization_patterns(target.supported_ops))
        for fn in functions:
            for graph_op in graph_ops(fn):
                reason = cpu_reason_for(graph_op, target, no_fuse, rules)
                if reason is not None and graph_op.node_name in force:
                    reason = forced_reason(reason)
                if reason is None:
                    mark_on_target(graph_op, target.name)
                else:
                    set_cpu_reason(graph_op, reason)
