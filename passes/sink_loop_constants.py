"""sink-loop-constants: give control-flow bodies their own copy of the constants they are passed.

Freezing turns a loop's weights into constants of the enclosing graph, and a While passes them
to its body as loop variables that every iteration hands back unchanged (an LSTM's kernel,
recurrent kernel and bias). Inside the body they are arguments, so a cluster there would take
its weights as NeuronOp inputs, copied to the device at every iteration, and constant-fold
could not see them. This pass replaces, inside the body (and the loop condition), each such
argument by a `Const` holding the same value: for a While, when the operand is a `Const` and
the body returns the argument itself at the same position; for an If/Case, when the operand is
a `Const`. The op keeps its operands, so the body's signature does not change.

The copies are named `<function>/<const node>`. Bodies used by more than one op are left
alone (the ops may pass different values).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import BlockArgument, SSAValue
from xdsl.passes import ModulePass

from nir.ir.control_flow import (
    CASE_OPS,
    IF_OPS,
    WHILE_OPS,
    body_names,
    data_returns,
    graph_functions,
    private_functions,
    reference_counts,
)
from nir.ir.tf_attrs import FuncAttr
from nir.ir.tf_dialect import TFNodeOp, create_tf_op
from nir.passmanager.registry import register_pass


def _constant(value: SSAValue) -> TFNodeOp | None:
    owner = value.owner
    if isinstance(owner, TFNodeOp) and owner.tf_type == "Const" and not owner.control_operands:
        return owner
    return None


def _loop_invariant(body: func.FuncOp, index: int) -> bool:
    returns = data_returns(body)
    return index < len(returns) and returns[index] is body.args[index]


def sink_into(fn: func.FuncOp, arg: BlockArgument, const: TFNodeOp) -> None:
    """Replace `arg`'s uses inside `fn` (but not its return) by a copy of `const`."""
    uses = [u for u in arg.uses if not isinstance(u.operation, func.ReturnOp)]
    if not uses:
        return
    copy = create_tf_op("Const", f"{fn.sym_name.data}/{const.node_name}", [], [const.data_results[0].type],
                        const.attributes, device=const.device)
    block = fn.body.block
    block.insert_op_before(copy, block.first_op)
    arg.replace_uses_with_if(copy.data_results[0], lambda use: not isinstance(use.operation, func.ReturnOp))


def sink_constants_of(op: TFNodeOp, functions: dict[str, func.FuncOp]) -> None:
    if op.tf_type in WHILE_OPS:
        body_attr, cond_attr = op.attributes.get("body"), op.attributes.get("cond")
        if not isinstance(body_attr, FuncAttr) or not isinstance(cond_attr, FuncAttr):
            return
        body, cond = functions.get(body_attr.function_name), functions.get(cond_attr.function_name)
        if body is None or cond is None:
            return
        for index, operand in enumerate(op.data_operands):
            const = _constant(operand)
            if const is None or not _loop_invariant(body, index) or index >= len(cond.args):
                continue
            sink_into(body, body.args[index], const)
            sink_into(cond, cond.args[index], const)
    elif op.tf_type in IF_OPS | CASE_OPS:
        for name in body_names(op):
            branch = functions.get(name)
            if branch is None:
                continue
            for index, operand in enumerate(op.data_operands[1:]):
                const = _constant(operand)
                if const is not None and index < len(branch.args):
                    sink_into(branch, branch.args[index], const)


@register_pass
@dataclass(frozen=True)
class SinkLoopConstantsPass(ModulePass):
    """Copy constants a loop or branch is passed (and a loop never changes) into its body."""

    name = "tf-sink-loop-constants"
    aliases = ("sink-loop-constants",)  # the name until nir 0.1; dropped in 0.3

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        bodies = graph_functions(op)
        if len(bodies) == 1:
            return  # no control flow: nothing to sink
        functions = private_functions(op)
        counts = reference_counts(op)
        for fn in bodies:
            for graph_op in list(fn.body.block.ops):
                if isinstance(graph_op, TFNodeOp) and all(counts[n] == 1 for n in body_names(graph_op)):
                    sink_constants_of(graph_op, functions)
