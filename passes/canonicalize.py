"""canonicalize: fold Identity chains and evaluate ops on small constants.

Frozen Keras and tf.function graphs are full of Identity nodes left by function inlining
(ResNet50 exported by Keras 3 has ~1,600). They cost nothing at run time but make every dump
and every cluster boundary noisier, so readers of the IR get them removed first.

The rewrites are patterns (`nir.ir.patterns`), applied until none matches, with xDSL's dead-code
removal on (the tf dialect's traits tell it which ops have no side effect):

- `FoldForwardingOp`: an op that forwards its input (Identity, Snapshot, StopGradient,
  PreventGradient: the `forwarding` fact) with no control edges is replaced by its input. Its
  node name disappears, which is harmless: signature outputs are found through the function's
  results, not by tensor name.
- `ForwardIdentityN`: an `IdentityN` forwards each input to the same-numbered output.
  TensorFlow puts one behind every custom-gradient op (Keras' swish/silu, some GELUs), so left
  in place it would cut the data path at every activation. Its readers inside the graph read
  its inputs instead; only its uses as the function's results stay, where it stands for the
  signature's outputs.
- `FoldConstantOp`: an op whose inputs are all small constants, and whose result shape
  arithmetic already knows (see `nir.ir.shape_functions`), becomes a Const.

Before them, one analysis over each function, which no local pattern can do: a control edge
from an op that neither has side effects nor (transitively) waits for one is dropped, as
Grappler's dependency optimizer does: it orders nothing observable. So is an edge into an op
that neither has side effects nor leads to one (a weight that a lookup table's initialisation
gates), unless its source would then run no more. Function inlining leaves such edges on every
weight, and they would keep weights out of clusters. An edge from inside a TF1 loop (v1
control flow) is kept: it puts its target in the loop's frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter

from nir.ir.attr_names import CONTROL_RET
from nir.ir.control_flow import graph_functions, refresh_function_type
from nir.ir.module import entry_function
from nir.ir.op_facts import FORWARDING, GRAPH_BOUNDARY, V1_LOOP_OPS, is_stateful, op_types_with
from nir.ir.patterns import TFRewritePattern, apply_patterns, constant, forward, has_control_edges, replace
from nir.ir.queries import const_value
from nir.ir.shape_functions import MAX_VALUE_ELEMENTS, VALUE_FUNCTIONS
from nir.ir.shapes import tf_shape
from nir.ir.tf_dialect import TFNodeOp
from nir.passmanager.registry import register_pass


class FoldForwardingOp(TFRewritePattern):
    """Identity(x) -> x, when nothing waits on it through a control edge."""

    op_types = op_types_with(FORWARDING) - op_types_with(GRAPH_BOUNDARY)

    def rewrite(self, op: TFNodeOp, rewriter: PatternRewriter) -> None:
        if len(op.operands) != 1:
            return
        # An op that carries a more precise shape than its input stays (forward refuses it).
        forward(rewriter, op, op.data_operands)


class ForwardIdentityN(TFRewritePattern):
    """Readers of an IdentityN's outputs, other than the function's return, read its inputs."""

    op_types = frozenset({"IdentityN"})

    def rewrite(self, op: TFNodeOp, rewriter: PatternRewriter) -> None:
        if op.control_operands:
            return
        for source, result in zip(op.data_operands, op.data_results):
            if source.type == result.type:
                rewriter.replace_uses_with_if(result, source, lambda use: not isinstance(use.operation, func.ReturnOp))


class FoldConstantOp(TFRewritePattern):
    """An op of small constants that shape arithmetic can evaluate becomes a Const of its value."""

    def __init__(self):
        # Value functions registered later (a plug-in's) count from the next instance on.
        self.op_types = frozenset(VALUE_FUNCTIONS) - {"Const"} - op_types_with(FORWARDING)

    def rewrite(self, op: TFNodeOp, rewriter: PatternRewriter) -> None:
        function = VALUE_FUNCTIONS[op.tf_type]
        if len(op.results) != 2:
            return
        values = [const_value(v, MAX_VALUE_ELEMENTS) for v in op.data_operands]
        if not values or any(v is None for v in values) or has_control_edges(op):
            return
        value = function(op, values, [tf_shape(v.type) for v in op.data_operands])
        if value is None:
            return
        replace(rewriter, op, [constant(op, "", value, op.data_results[0].type.element_type)])


CANONICALIZATION_PATTERNS = (FoldForwardingOp(), ForwardIdentityN())  # FoldConstantOp: optional


def drop_pure_control_returns(fn: func.FuncOp, orders_effects: dict) -> None:
    """A control-flow body's control returns that name side-effect-free ops order nothing:
    tf.function lists every variable read there, and the control use would keep those reads
    (which freezing turned into Identity ops on weights) out of the body's clusters.
    `orders_effects` is what drop_pure_control_edges found for the body's ops."""
    ret = fn.body.block.last_op
    if fn.res_attrs is None:
        return
    kept_values, kept_attrs = [], []
    for value, attrs in zip(ret.operands, fn.res_attrs.data):
        if CONTROL_RET in attrs.data and not orders_effects.get(value.owner, True):
            continue
        kept_values.append(value)
        kept_attrs.append(attrs)
    if len(kept_values) != len(ret.operands):
        ret.operands = kept_values
        fn.res_attrs = ArrayAttr(kept_attrs) if kept_attrs else None
        refresh_function_type(fn)


def drop_pure_control_edges(block) -> dict:
    """Drops the control edges that order nothing; returns, for each op, whether it has a side
    effect or waits (through data or control) for one.

    An edge orders nothing when its source neither has a side effect nor waits for one, or
    when its target neither has one nor leads (through data or control) to one: the target's
    value is the same whenever it runs, and only a side effect could tell. Function inlining
    puts an edge from the call's control inputs (a lookup table's initialisation) on every
    weight the call reads; kept, they would hold the weights out of clusters. But a session
    runs only what the function's results need: an op with a side effect that ran only because
    a dropped edge led to it would run no more, so the edges from what it reached that way are
    kept."""
    ops = [op for op in block.ops if isinstance(op, TFNodeOp)]
    leads_to_effect = _leads_to_effect(ops)
    orders_effects: dict = {}
    dropped: dict = {}
    for op in ops:
        for value in op.control_operands:
            source = value.owner
            if isinstance(source, TFNodeOp) and (
                not orders_effects.get(source, True) or (not leads_to_effect[op] and source.tf_type not in V1_LOOP_OPS)
            ):
                dropped.setdefault(op, set()).add(source)
        orders_effects[op] = _orders_effects_itself(op) or any(
            orders_effects.get(v.owner, False) for v in op.operands if v.owner not in dropped.get(op, ())
        )
    running = _needed_by_the_results(block)
    _set_control_operands(ops, dropped)
    while dropped:
        now_running = _needed_by_the_results(block)
        stopped = {op for op in running - now_running if isinstance(op, TFNodeOp)}
        leading = _leading_to_a_side_effect(stopped, dropped)
        if not leading:
            break
        restored = {target: sources - leading for target, sources in dropped.items()}
        if restored == dropped:  # nothing to give back found: keep every edge rather than lose an effect
            restored = {}
        _restore_control_operands(ops, dropped, restored)
        dropped = {target: sources for target, sources in restored.items() if sources}
    return _orders_effects(ops)


def _leading_to_a_side_effect(stopped: set, dropped: dict) -> set:
    """The ops of `stopped` that have a side effect or reach (through data, or control edges,
    dropped or not) one of `stopped` that has: the edges into them make the effect run. Found
    from the side effects down to their readers, without recursion (a gated subgraph can be a
    long chain)."""
    waiting_on: dict = {}
    for target, sources in dropped.items():
        for source in sources:
            waiting_on.setdefault(source, []).append(target)
    leading = {op for op in stopped if is_stateful(op.tf_type)}
    pending = list(leading)
    while pending:
        op = pending.pop()
        readers = [use.operation for result in op.results for use in result.uses] + waiting_on.get(op, [])
        for reader in readers:
            if reader in stopped and reader not in leading:
                leading.add(reader)
                pending.append(reader)
    return leading


def _set_control_operands(ops: list[TFNodeOp], dropped: dict) -> None:
    for op in ops:
        if op in dropped:
            op.operands = [*op.data_operands, *(v for v in op.control_operands if v.owner not in dropped[op])]


def _restore_control_operands(ops: list[TFNodeOp], dropped: dict, still_dropped: dict) -> None:
    for op, sources in dropped.items():
        back = sources - still_dropped.get(op, set())
        if back:
            op.operands = [*op.operands, *(source.control for source in back)]


def _needed_by_the_results(block) -> set:
    """The ops the block's results need, through data and control: what a session runs."""
    needed: set = set()
    pending = [block.last_op]
    while pending:
        op = pending.pop()
        for value in op.operands:
            owner = value.owner
            if isinstance(owner, Operation) and owner not in needed:
                needed.add(owner)
                pending.append(owner)
    return needed


def _orders_effects_itself(op: TFNodeOp) -> bool:
    """A side effect, or a TF1 loop's op: it and all that read it are in the loop's frame, and a
    control edge from one of them is what puts a constant in the frame too (TensorFlow refuses
    an op whose inputs come from different frames), so those edges order something."""
    return is_stateful(op.tf_type) or op.tf_type in V1_LOOP_OPS


def _orders_effects(ops: list[TFNodeOp]) -> dict:
    """Whether each op has a side effect or waits (through data or control) for one."""
    orders: dict = {}
    for op in ops:
        orders[op] = _orders_effects_itself(op) or any(orders.get(v.owner, False) for v in op.operands)
    return orders


def _leads_to_effect(ops: list[TFNodeOp]) -> dict:
    """Whether each op has a side effect, is in a TF1 loop's frame, or is read (through data or
    control) by one that is; a control return counts as an effect, the caller may wait on it."""
    leads: dict = {}
    for op in reversed(ops):
        leads[op] = _orders_effects_itself(op) or any(
            leads.get(use.operation, not isinstance(use.operation, func.ReturnOp) or result is op.control)
            for result in op.results for use in result.uses
        )
    return leads


@register_pass
@dataclass(frozen=True)
class CanonicalizePass(ModulePass):
    """Fold Identity chains and constant-fold small shape arithmetic, then drop dead ops."""

    name = "tf-canonicalize"
    aliases = ("canonicalize",)  # the name until nir 0.1; dropped in 0.3

    fold_constants: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        entry = entry_function(op)
        functions = graph_functions(op)
        for fn in functions:
            orders_effects = drop_pure_control_edges(fn.body.block)
            if fn is not entry:
                drop_pure_control_returns(fn, orders_effects)
        patterns = [*CANONICALIZATION_PATTERNS, *([FoldConstantOp()] if self.fold_constants else [])]
        apply_patterns(functions, patterns, remove_dead=True)
