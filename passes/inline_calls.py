"""inline-calls: replace every function call left in the graph by the body of the function.

The frontend inlines calls with Grappler's function optimizer, which refuses some: Keras 3
wraps a few layers (ConvNeXt's depthwise convolutions, say) in functions marked `_noinline`
and `_XlaMustCompile`. A call hides its body from every later pass: shape inference cannot see
through it (ConvNeXt lost its batch dimension after the first block), and legalize can only
put the opaque call on CPU, which cuts the cluster in two. So nir inlines them itself.

A call is a `StatefulPartitionedCall`/`PartitionedCall` node, or a node whose op type is the
name of a library function. Its body is cloned in front of it, node names prefixed with the
call's name (`call/conv`), arguments bound to the call's data inputs and the call's results
to the body's. As TensorFlow's own inliner does, a call's control inputs reach every body op
that has no input from inside the body (through a NoOp `<call>/input_control_node`), and the
call's control token becomes a NoOp named like the call, waiting for the body's control
outputs and for the ops that produce its results. Calls inside inlined bodies are inlined in
turn. Functions no call or attribute refers to any more are removed.

A call that cannot be inlined (its function is missing, polymorphic, recursive, or takes other
arguments than the call passes) keeps a `nir.not_inlined` property saying why, which legalize
turns into the op's CPU reason and `nir explain` shows.

Last, every control-flow op gets bodies of its own (`give_each_op_its_own_bodies`): a function
holding a tf.cond, inlined at two calls, leaves two Ifs sharing their branch functions, which
shape inference cannot specialize to either If's operands.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Block, SSAValue
from xdsl.passes import ModulePass

from nir.ir.attr_names import NOT_INLINED
from nir.ir.control_flow import (
    CALL_OPS,
    control_returns,
    data_returns,
    give_each_op_its_own_bodies,
    private_functions,
    remove_unreferenced_functions,
)
from nir.ir.module import entry_function
from nir.ir.names import unique_name
from nir.ir.tf_attrs import FuncAttr, PlaceholderAttr
from nir.ir.tf_dialect import TFNodeOp, create_tf_op, name_values_after_node
from nir.passmanager.registry import register_pass

MAX_DEPTH = 32  # nested calls deeper than this are taken for recursion


def called_function(call: TFNodeOp, functions: dict[str, func.FuncOp]) -> str | None:
    """The name of the function `call` calls, or None if it is no call."""
    if call.tf_type in CALL_OPS:
        attr = call.attributes.get("f")
        return attr.function_name if isinstance(attr, FuncAttr) else None
    return call.tf_type if call.tf_type in functions else None


def _may_call(op: TFNodeOp, functions: dict[str, func.FuncOp]) -> bool:
    op_type = op.tf_type
    return op_type in CALL_OPS or op_type in functions


def _has_placeholder_attrs(fn: func.FuncOp) -> bool:
    return any(
        isinstance(value, PlaceholderAttr)
        for op in fn.walk()
        for value in op.attributes.values()
    )


def why_not_inlinable(call: TFNodeOp, callee: str, functions: dict[str, func.FuncOp], depth: int) -> str | None:
    fn = functions.get(callee)
    if fn is None:
        return f"function '{callee}' is not in the model's function library"
    if depth >= MAX_DEPTH:
        return f"calls nested more than {MAX_DEPTH} deep (recursive function '{callee}'?)"
    if _has_placeholder_attrs(fn):
        return f"function '{callee}' is polymorphic (its body has attributes its caller binds)"
    arg_types = [a.type for a in fn.args]
    if len(arg_types) != len(call.data_operands):
        return f"function '{callee}' takes {len(arg_types)} arguments, the call passes {len(call.data_operands)}"
    if any(getattr(a, "element_type", None) != getattr(v.type, "element_type", None)
           for a, v in zip(arg_types, call.data_operands)):
        return f"the call passes other dtypes than function '{callee}' takes"
    if len(data_returns(fn)) != len(call.data_results):
        return f"function '{callee}' returns {len(data_returns(fn))} values, the call has {len(call.data_results)}"
    return None


def inline_call(call: TFNodeOp, fn: func.FuncOp, taken: set[str]) -> list[TFNodeOp]:
    """Clone `fn`'s body in front of `call`, rewire the call's uses and erase it. Returns the
    cloned ops, so calls among them can be inlined in turn."""
    block = call.parent
    prefix = call.node_name
    mapping: dict[SSAValue, SSAValue] = dict(zip(fn.args, call.data_operands))
    gate = None
    if call.control_operands:
        gate = create_tf_op("NoOp", unique_name(f"{prefix}/input_control_node", taken), [], [],
                            control_operands=call.control_operands, device=call.device)
        block.insert_op_before(gate, call)
    cloned: list[TFNodeOp] = []
    body_ops = set(fn.body.block.ops)
    for op in fn.body.block.ops:
        if not isinstance(op, TFNodeOp):
            continue
        copy = op.clone(mapping)
        copy.node_name = unique_name(f"{prefix}/{op.node_name}", taken)
        name_values_after_node(copy)
        if not copy.device and call.device:
            copy.properties["device"] = StringAttr(call.device)
        copy.properties.pop(NOT_INLINED, None)
        if gate is not None and not any(isinstance(v.owner, TFNodeOp) and v.owner in body_ops
                                        for v in op.operands):
            copy.operands = [*copy.operands, gate.control]
        block.insert_op_before(copy, call)
        cloned.append(copy)
    results = [mapping.get(v, v) for v in data_returns(fn)]
    for old, new in zip(call.data_results, results):
        old.replace_all_uses_with(new)
    if call.control.uses:
        waits = [mapping.get(v, v) for v in control_returns(fn)]
        waits += [r.owner.control for r in results if isinstance(r.owner, TFNodeOp)]
        done = create_tf_op("NoOp", call.node_name, [], [], control_operands=list(dict.fromkeys(waits)),
                            device=call.device)
        block.insert_op_before(done, call)
        call.control.replace_all_uses_with(done.control)
    call.detach()
    call.erase()
    return cloned


def inline_calls_in(block: Block, functions: dict[str, func.FuncOp]) -> int:
    """Inline every call of `block`, depth first; returns how many were inlined."""
    pending = [(op, 0) for op in block.ops if isinstance(op, TFNodeOp) and _may_call(op, functions)]
    if not pending:
        return 0
    taken = {op.node_name for op in block.ops if isinstance(op, TFNodeOp)}
    inlined = 0
    while pending:
        op, depth = pending.pop()
        callee = called_function(op, functions)
        if callee is None:
            continue
        reason = why_not_inlinable(op, callee, functions, depth)
        if reason is not None:
            op.properties[NOT_INLINED] = StringAttr(reason)
            continue
        taken.discard(op.node_name)
        pending.extend((new, depth + 1) for new in inline_call(op, functions[callee], taken)
                       if _may_call(new, functions))
        inlined += 1
    return inlined


@register_pass
@dataclass(frozen=True)
class InlineCallsPass(ModulePass):
    """Inline every function call the frontend left, so no call hides a shape or cuts a cluster."""

    name = "tf-inline-calls"
    aliases = ("inline-calls",)  # the name until nir 0.1; dropped in 0.3

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        functions = private_functions(op)
        total = 0
        for fn in [entry_function(op), *functions.values()]:
            total += inline_calls_in(fn.body.block, functions)
        if total:
            remove_unreferenced_functions(op)
        give_each_op_its_own_bodies(op)
