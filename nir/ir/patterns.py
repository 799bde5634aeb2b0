"""Rewrite patterns on TensorFlow ops, driven by xDSL's pattern rewriter.

A pattern says which op types it looks at and what it does with one op; xDSL's
`PatternRewriteWalker` finds the ops, re-visits the ones a rewrite touched, and repeats until
nothing changes. What is particular to TF ops is handled here, once:

- every op has a control token (its last result) and may have control operands: a pattern
  that replaces an op by existing values (`forward`) only does so when no control edge would
  be lost; `replace` hands the control token's users to the new op;
- every op has a node name: `make_const` and `create` name the ops they make after the op they
  replace, and give them its device.

A pattern:

    class FoldDoubleNeg(TFRewritePattern):
        op_types = frozenset({"Neg"})

        def rewrite(self, op, rewriter):
            inner = op.data_operands[0].owner
            if isinstance(inner, TFNodeOp) and inner.tf_type == "Neg":
                forward(rewriter, op, [inner.data_operands[0]])

and a pass that applies it:

    @dataclass(frozen=True)
    class FoldDoubleNegPass(PatternPass):
        name = "fold-double-neg"

        def patterns(self):
            return [FoldDoubleNeg()]

(or `apply_patterns(module, [FoldDoubleNeg()])` inside any pass).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from typing import ClassVar

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
)
from xdsl.rewriter import InsertPoint

from nir.ir.shapes import tensor_type
from nir.ir.tf_attrs import TensorAttr
from nir.ir.tf_dialect import TFNodeOp, create_tf_op


class TFRewritePattern(RewritePattern):
    """A rewrite of TF ops: set `op_types` (None: every TF op) and implement `rewrite`.
    `rewrite` changes the IR only through `rewriter` (or the helpers of this module), so the
    walker knows what to look at again; it does nothing when the op does not match."""

    op_types: ClassVar[frozenset[str] | None] = None

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, TFNodeOp) and (self.op_types is None or op.tf_type in self.op_types):
            self.rewrite(op, rewriter)

    @abstractmethod
    def rewrite(self, op: TFNodeOp, rewriter: PatternRewriter) -> None: ...


def has_control_edges(op: TFNodeOp) -> bool:
    """Whether the op waits on others, or others wait on it, through control edges."""
    return bool(op.control_operands) or op.control.first_use is not None


def forward(rewriter: PatternRewriter, op: TFNodeOp, values: Sequence[SSAValue]) -> bool:
    """Replace the op's data results by `values` (same types) and erase it. Refused (False) when
    the op has control edges: they order something that would be lost."""
    if has_control_edges(op) or any(v.type != r.type for v, r in zip(values, op.data_results, strict=True)):
        return False
    rewriter.replace(op, [], [*values, None])
    return True


def replace(rewriter: PatternRewriter, op: TFNodeOp, new_ops: Sequence[TFNodeOp],
            values: Sequence[SSAValue] | None = None) -> None:
    """Insert `new_ops` (not yet in a block) before `op`, give op's data results' users `values` (default: the last
    new op's data results) and its control token's users the last new op's token; erase `op`."""
    last = new_ops[-1]
    data = list(values) if values is not None else list(last.data_results)
    rewriter.replace(op, new_ops, [*data, last.control])


def create(op: TFNodeOp, op_type: str, suffix: str, data_operands: Sequence[SSAValue],
           result_types: Sequence[Attribute], tf_attrs: dict[str, Attribute] | None = None) -> TFNodeOp:
    """A new op named `<op's name>/<suffix>` (or op's name when suffix is empty), on op's device."""
    name = f"{op.node_name}/{suffix}" if suffix else op.node_name
    return create_tf_op(op_type, name, data_operands, result_types, tf_attrs, device=op.device)


def constant(op: TFNodeOp, suffix: str, value: np.ndarray, element_type: Attribute) -> TFNodeOp:
    """A Const holding `value`, named after `op` (not inserted: give it to `replace`)."""
    value_type = tensor_type(element_type, value.shape)
    return create(op, "Const", suffix, [], [value_type],
                  {"dtype": element_type, "value": TensorAttr.from_numpy(value, value_type)})


def make_const(rewriter: PatternRewriter, op: TFNodeOp, suffix: str, value: np.ndarray,
               element_type: Attribute) -> TFNodeOp:
    """A Const holding `value`, inserted before `op` and named after it."""
    return rewriter.insert(constant(op, suffix, value, element_type), InsertPoint.before(op))


class _ByOpType(RewritePattern):
    """Hands each op only to the patterns that name its type (and those that take any op), in
    the order given: on a large graph most ops match no pattern, and asking each pattern in
    turn costs more than the rewrites."""

    def __init__(self, patterns: Sequence[RewritePattern]):
        def op_types(pattern):
            return getattr(pattern, "op_types", None)

        self.any_op = [p for p in patterns if op_types(p) is None]
        names = {t for p in patterns for t in (op_types(p) or ())}
        self.by_name = {f"tf.{t}": [p for p in patterns if op_types(p) is None or t in op_types(p)] for t in names}

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        for pattern in self.by_name.get(op.name, self.any_op):
            pattern.match_and_rewrite(op, rewriter)
            if rewriter.has_done_action:
                return


def _may_match(fn: func.FuncOp, patterns: Sequence[RewritePattern]) -> bool:
    """False when every pattern names its op types and the function has none of them: the
    walk would visit every op for nothing (legalize's rewrites match a few ops in 50,000)."""
    wanted: set[str] = set()
    for pattern in patterns:
        op_types = getattr(pattern, "op_types", None)
        if op_types is None:
            return True
        wanted |= op_types
    return any(isinstance(op, TFNodeOp) and op.tf_type in wanted for op in fn.walk())


def apply_patterns(functions: ModuleOp | Iterable[func.FuncOp], patterns: Sequence[RewritePattern],
                   remove_dead: bool = False) -> bool:
    """Apply `patterns` until none matches, in every function given (a module: all of them).
    With `remove_dead`, ops without side effects whose results nobody uses go too (xDSL's
    trivial dead-code test, which the tf dialect's traits make work on TF ops)."""
    if isinstance(functions, ModuleOp):
        functions = [op for op in functions.ops if isinstance(op, func.FuncOp)]
    if not remove_dead:
        functions = [fn for fn in functions if _may_match(fn, patterns)]
    walker = PatternRewriteWalker(
        GreedyRewritePatternApplier([_ByOpType(patterns)], dce_enabled=remove_dead), apply_recursively=True
    )
    changed = False
    for fn in functions:
        changed |= walker.rewrite_region(fn.body)
    return changed


class PatternPass(ModulePass):
    """A pass that applies its `patterns()` to every function until none matches. Subclasses
    are frozen dataclasses like any pass (their fields are the pass's options) and set
    `remove_dead` to also drop ops left without users and side effects."""

    remove_dead: ClassVar[bool] = False

    @abstractmethod
    def patterns(self) -> Sequence[RewritePattern]: ...

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        apply_patterns(op, self.patterns(), remove_dead=self.remove_dead)
