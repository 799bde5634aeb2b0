"""The partition of a module at the level a person reads: one box per cluster, one box per run
of CPU ops that stayed there for the same kind of reason, the graph inputs and outputs, and
the tensors between them. `nir explain --svg` draws it (see `nir.partition_svg`).

A run of CPU ops is a connected set of CPU ops with the same reason category whose contraction
keeps the picture acyclic. That is guaranteed by levels: an op's level is the highest level of
its producers, plus one across a change of box kind; ops joined by an edge, of the same kind and
at the same level, share a box. A path that leaves a box and comes back would have to change
kind twice and so could not return to the box's level.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, BlockArgument, Operation, SSAValue

from nir.ir.attr_names import ARG_NODE, INPUT_KEY, OUTPUT_KEY
from nir.ir.control_flow import CONTROL_FLOW_OPS, body_names, graph_functions
from nir.ir.module import entry_function
from nir.ir.neuron_dialect import ClusterOp
from nir.ir.placement import CpuReason
from nir.ir.queries import cpu_reason, stated_cpu_reason
from nir.ir.shapes import describe_type
from nir.ir.tf_dialect import TFNodeOp

CLUSTER_COLOUR = "#7fc8a9"
IO_COLOUR = "#ffffff"


@dataclass(frozen=True)
class ReasonCategory:
    key: str
    title: str
    colour: str


# The legend's colour of each kind of CPU reason (nir.ir.placement says which kind a reason is).
_COLOURS = {
    CpuReason.NO_FUSE_OPS: "#c9a0dc", CpuReason.NOT_INLINED: "#e06666", CpuReason.NOT_UNROLLED: "#cc4125",
    CpuReason.IO_STAND_IN: "#d9d9d9",
    CpuReason.NEVER_ON_TARGET: "#f4cccc", CpuReason.UNSUPPORTED_OP: "#f4a6a6", CpuReason.DTYPE: "#f6b26b",
    CpuReason.BOUNDARY_DTYPE_IN: "#f9cb9c", CpuReason.BOUNDARY_DTYPE_OUT: "#f9cb9c",
    CpuReason.DYNAMIC_SHAPE: "#ffe599", CpuReason.CONTROL_EDGE: "#a4c2f4", CpuReason.LOOP_CONDITION: "#b4a7d6",
    CpuReason.SMALL_CLUSTER: "#d9ead3", CpuReason.CONSTANT_ONLY: "#eeeeee", CpuReason.SHARED_CONSTANT: "#f3f3f3",
    CpuReason.NOT_PLACED: "#cccccc", CpuReason.OTHER: "#b7b7b7",
}
CATEGORIES = {kind.key: ReasonCategory(kind.key, kind.title, _COLOURS[kind]) for kind in CpuReason}
OTHER = CATEGORIES[CpuReason.OTHER.key]


def reason_category(reason: str | None) -> ReasonCategory:
    return CATEGORIES[CpuReason.of(reason).key]


@dataclass
class Box:
    id: str
    kind: str  # "input", "output", "cluster" or "cpu"
    title: str
    lines: list[str]
    colour: str
    category: str = ""  # reason category key, for CPU boxes
    details: list[str] = field(default_factory=list)  # hover text
    ops: int = 0


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    tensor: int  # the value's index in its panel; the same tensor to two boxes is two edges
    label: str  # the tensor's shape, on edges that touch a cluster
    boundary: bool
    control: bool = False


@dataclass
class Panel:
    """The boxes of one function: the entry function, or a loop/branch body with clusters."""

    name: str
    title: str
    boxes: list[Box]
    edges: list[Edge]


def partition_graph(module: ModuleOp) -> list[Panel]:
    """The entry function's panel, then one per control-flow body that holds a cluster."""
    entry = entry_function(module)
    functions = graph_functions(module)
    runners = _body_runners(functions)
    panels = []
    for fn in functions:
        if fn is not entry and not any(isinstance(op, ClusterOp) for op in fn.body.block.ops):
            continue
        title = fn.sym_name.data if fn is entry else f"loop/branch body {fn.sym_name.data}{runners.get(fn.sym_name.data, '')}"
        panels.append(_panel(fn, title, prefix=f"p{len(panels)}"))
    return panels


def _body_runners(functions: list[func.FuncOp]) -> dict[str, str]:
    """body function name -> ", run by While 'node'": which op of which graph runs it."""
    runners = {}
    for fn in functions:
        for op in fn.body.block.ops:
            if isinstance(op, TFNodeOp) and op.tf_type in CONTROL_FLOW_OPS:
                for name in body_names(op):
                    runners.setdefault(name, f", run by {op.tf_type} '{op.node_name}'")
    return runners


def _panel(fn: func.FuncOp, title: str, prefix: str) -> Panel:
    block = fn.body.block
    builder = _PanelBuilder(prefix)
    builder.add_inputs(fn)
    groups = _group_ops(block)
    for group in groups:
        builder.add_group(group)
    for op in block.ops:
        if isinstance(op, (TFNodeOp, ClusterOp)):
            builder.add_edges_into(op)
        elif isinstance(op, func.ReturnOp):
            builder.add_outputs(fn, op)
    return Panel(fn.sym_name.data, title, builder.boxes, builder.edges)


def _drawn(op: Operation) -> bool:
    """Constants on CPU are weights, not work: drawn only where they feed a cluster."""
    if isinstance(op, ClusterOp):
        return True
    if not isinstance(op, TFNodeOp):
        return False
    if op.tf_type != "Const":
        return True
    return any(isinstance(use.operation, ClusterOp) for result in op.results for use in result.uses)


def _kind(op: Operation) -> tuple:
    if isinstance(op, ClusterOp):
        return ("cluster", id(op))
    return ("cpu", reason_category(cpu_reason(op)).key)


def _group_ops(block: Block) -> list[list[Operation]]:
    ops = [op for op in block.ops if _drawn(op)]
    index = {op: i for i, op in enumerate(ops)}
    kinds = [_kind(op) for op in ops]
    levels = [0] * len(ops)
    parent = list(range(len(ops)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, op in enumerate(ops):
        producers = [index[v.owner] for v in op.operands if v.owner in index]
        for p in producers:
            levels[i] = max(levels[i], levels[p] + (kinds[p] != kinds[i]))
        for p in producers:
            if kinds[p] == kinds[i] and levels[p] == levels[i] and kinds[i][0] == "cpu":
                parent[find(p)] = find(i)
    groups: dict[int, list[Operation]] = {}
    for i, op in enumerate(ops):
        groups.setdefault(find(i), []).append(op)
    return sorted(groups.values(), key=lambda g: index[g[0]])


class _PanelBuilder:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self.boxes: list[Box] = []
        self.edges: list[Edge] = []
        self.box_of: dict[object, str] = {}  # op or block argument -> box id
        self.tensor_ids: dict[SSAValue, int] = {}
        self.seen: set[tuple[int, str]] = set()

    def new_id(self) -> str:
        return f"{self.prefix}b{len(self.boxes)}"

    def add_inputs(self, fn: func.FuncOp) -> None:
        for i, arg in enumerate(fn.body.block.args):
            name = _arg_name(fn, i)
            box = Box(self.new_id(), "input", f"input {name}", [describe_type(arg.type)], IO_COLOUR)
            self.boxes.append(box)
            self.box_of[arg] = box.id

    def add_group(self, group: list[Operation]) -> None:
        if isinstance(group[0], ClusterOp):
            box = _cluster_box(self.new_id(), group[0])
        else:
            box = _cpu_box(self.new_id(), group)
        self.boxes.append(box)
        for op in group:
            self.box_of[op] = box.id

    def add_edges_into(self, op: Operation) -> None:
        target = self.box_of.get(op)
        if target is None:
            return
        for value in op.operands:
            control = isinstance(op, TFNodeOp) and value in op.control_operands
            self._edge(value, target, control)

    def add_outputs(self, fn: func.FuncOp, ret: func.ReturnOp) -> None:
        for i, value in enumerate(ret.operands):
            box = Box(self.new_id(), "output", f"output {_result_name(fn, i)}", [describe_type(value.type)], IO_COLOUR)
            self.boxes.append(box)
            self._edge(value, box.id, control=False)

    def _edge(self, value: SSAValue, target: str, control: bool) -> None:
        owner = value if isinstance(value, BlockArgument) else value.owner
        source = self.box_of.get(owner)
        if source is None or source == target:
            return
        tensor = self.tensor_ids.setdefault(value, len(self.tensor_ids))
        if (tensor, target) in self.seen:
            return
        self.seen.add((tensor, target))
        kinds = {self._box(source).kind, self._box(target).kind}
        boundary = "cluster" in kinds and not control
        label = describe_type(value.type) if boundary else ""
        self.edges.append(Edge(source, target, tensor, label, boundary, control))

    def _box(self, box_id: str) -> Box:
        return self.boxes[int(box_id[len(self.prefix) + 1:])]


def _cluster_box(box_id: str, cluster: ClusterOp) -> Box:
    inner = [o for o in cluster.block.ops if isinstance(o, TFNodeOp)]
    types = Counter(o.tf_type for o in inner if o.tf_type != "Const")
    main = ", ".join(f"{t}×{n}" for t, n in types.most_common(3))
    return Box(
        box_id, "cluster", cluster.cluster_name.data, [f"{len(inner)} ops on Neuron", main], CLUSTER_COLOUR,
        details=[f"{t}: {n}" for t, n in types.most_common()], ops=len(inner),
    )


def _cpu_box(box_id: str, group: list[Operation]) -> Box:
    reasons = Counter(stated_cpu_reason(op) for op in group)
    category = reason_category(reasons.most_common(1)[0][0])
    types = Counter(op.tf_type for op in group)
    if len(group) == 1:
        lines = [f"{group[0].tf_type}: {group[0].node_name.rpartition('/')[2]}"]
    else:
        lines = [f"{len(group)} ops: " + ", ".join(f"{t}×{n}" for t, n in types.most_common(3))]
    details = [f"{r} ({n})" for r, n in reasons.most_common()]
    details += [op.node_name for op in group[:20]] + ([f"... and {len(group) - 20} more"] if len(group) > 20 else [])
    return Box(box_id, "cpu", f"CPU: {category.title}", lines, category.colour, category.key, details, len(group))


def _arg_name(fn: func.FuncOp, i: int) -> str:
    return _attr_text(fn.arg_attrs, i, (INPUT_KEY, ARG_NODE)) or f"#{i}"


def _result_name(fn: func.FuncOp, i: int) -> str:
    return _attr_text(fn.res_attrs, i, (OUTPUT_KEY,)) or f"#{i}"


def _attr_text(attrs, i: int, keys: tuple[str, ...]) -> str | None:
    if attrs is None or i >= len(attrs.data):
        return None
    entries = attrs.data[i].data
    for key in keys:
        value = entries.get(key)
        if value is not None and hasattr(value, "data"):
            return value.data
    return None
