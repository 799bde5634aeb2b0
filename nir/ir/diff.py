"""What changed between two modules, op by op: `nir diff A.mlir B.mlir`.

A text diff of two dumps lines up ops by position and shows a changed op as a deleted and an
added line of 500 characters; passes move, add and remove ops, so that is hard to read. Here
TF ops are matched by node name (unique within a function, and kept by every pass that does
not replace the op), and each change is said in a word: the op type, an operand (named by the
node that makes it), a result type, an attribute, a property such as the placement.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Attribute, Block, Operation, SSAValue

from nir.ir.tf_dialect import NODE_NAME, TFNodeOp


@dataclass(frozen=True)
class OpChange:
    """One op's difference: `kind` is "-" (only in the first module), "+" (only in the second)
    or "~" (in both, changed as `details` say)."""

    kind: str
    function: str
    node: str
    op_type: str
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"@{self.function}: " if self.function else ""
        text = f"{self.kind} {where}{self.node} ({self.op_type})"
        return text + ("".join(f"\n    {d}" for d in self.details) if self.details else "")


def diff_modules(a: ModuleOp, b: ModuleOp) -> list[OpChange]:
    """The ops of `a` and `b` that differ, matched by function and node name, in `b`'s order
    (removed ops in `a`'s order, first)."""
    ops_a, ops_b = _tf_ops(a), _tf_ops(b)
    changes = [OpChange("-", fn, node, op.tf_type) for (fn, node), op in ops_a.items() if (fn, node) not in ops_b]
    for key, op in ops_b.items():
        old = ops_a.get(key)
        if old is None:
            changes.append(OpChange("+", key[0], key[1], op.tf_type))
            continue
        details = tuple(_op_differences(old, op))
        if details:
            changes.append(OpChange("~", key[0], key[1], op.tf_type, details))
    return changes


def _tf_ops(module: ModuleOp) -> dict[tuple[str, str], TFNodeOp]:
    ops = {}
    for fn in module.ops:
        name = fn.sym_name.data if isinstance(fn, func.FuncOp) else ""
        for op in fn.walk():
            if isinstance(op, TFNodeOp):
                ops.setdefault((name, op.node_name), op)
    return ops


def _op_differences(a: TFNodeOp, b: TFNodeOp) -> Iterator[str]:
    if a.tf_type != b.tf_type:
        yield f"op type {a.tf_type} -> {b.tf_type}"
    sources_a, sources_b = [_source(v) for v in a.operands], [_source(v) for v in b.operands]
    if sources_a != sources_b:
        yield f"operands {', '.join(sources_a)} -> {', '.join(sources_b)}"
    for index, (x, y) in enumerate(zip(a.data_results, b.data_results)):
        if x.type != y.type:
            yield f"result {index} {x.type} -> {y.type}"
    if len(a.data_results) != len(b.data_results):
        yield f"{len(a.data_results)} results -> {len(b.data_results)}"
    yield from _dict_differences("attribute", a.attributes, b.attributes)
    yield from _dict_differences("property", {k: v for k, v in a.properties.items() if k != NODE_NAME},
                                 {k: v for k, v in b.properties.items() if k != NODE_NAME})
    if _region_of(a) != _region_of(b):
        yield f"moved {_region_of(a)} -> {_region_of(b)}"


def _dict_differences(what: str, a: dict[str, Attribute], b: dict[str, Attribute]) -> Iterator[str]:
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if x != y:
            yield f"{what} {key}: {_short(x)} -> {_short(y)}"


def _short(attr: Attribute | None, limit: int = 120) -> str:
    if attr is None:
        return "(none)"
    text = str(attr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _source(value: SSAValue) -> str:
    """The operand as its maker's node name (`conv`, `split:1`, `^relu` for a control token), or
    the argument it is."""
    owner = value.owner
    if isinstance(owner, TFNodeOp):
        if value is owner.control:
            return "^" + owner.node_name
        index = owner.data_results.index(value)
        return owner.node_name + (f":{index}" if index else "")
    if isinstance(owner, Block):
        return f"arg{value.index}"
    return f"{owner.name}#{value.index}"


def _region_of(op: Operation) -> str:
    """Where an op sits: its function, or the cluster holding it."""
    parent = op.parent_op()
    if parent is None or isinstance(parent, func.FuncOp):
        return "top level"
    label = getattr(parent, "cluster_name", None)
    return f"{parent.name} {getattr(label, 'data', '')}".strip()
