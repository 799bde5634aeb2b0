"""cluster{minimum-segment-size=2}: group the ops legalize placed on the target into clusters.

Each cluster becomes a `neuron.cluster` op whose region holds its ops, with the tensors that
cross its boundary explicit (operands in, yielded results out). neuron-cc compiles one cluster
into one NeuronOp.

How clusters are found (linear time, deterministic, cycle-free by construction): every op gets
a level, the number of CPU ops on the longest path to it that are themselves downstream of a
target op. Target ops joined by a data edge and sharing a level form one cluster. A path that
leaves a cluster through a CPU op raises the level of everything after it, so it can never come
back into the same cluster: contracting a cluster never closes a cycle. CPU ops that no target
op reaches (constant preprocessing, say) do not raise levels, so they do not split clusters.

Constants read by a cluster and by anything else are copied into the cluster (named
`<const>/<cluster>`), so weights travel inside NeuronOps rather than as their inputs.

The entry function and every control-flow body it runs (While/If/Case functions) are clustered
alike: a loop stays a CPU op, and the NeuronOps in its body run at each iteration. A group of
ops that reads only constants is never a cluster (it would be a NeuronOp without inputs), nor
is one that reads only constants and the shapes of its inputs (shape arithmetic, which dynamic
batch keeps computed: the host does it for less than a NeuronOp call costs), and a loop's
condition stays on CPU, where its answer is needed.

Then, as the original tensorflow-neuron does, nir drops clusters that would hand a Const out,
lets no int64/double tensor cross a cluster boundary, and keeps only clusters with at least
`minimum-segment-size` ops (Identity, Snapshot, StopGradient and NoOp do not count; Const does,
as in the original, except in loop and branch bodies, where a loop counter and its constant
would otherwise make a cluster). Ops of dropped clusters get a CPU reason, for `nir explain`.

A cluster whose constants add up to more than `max-cluster-bytes` (default 1 GiB) is cut, in
block order, into clusters under the limit: a NeuronOp carries its weights in its embedded
GraphDef and its NEFF, and a protobuf message cannot pass 2 GiB. Cutting a cluster's ops in a
topological order keeps every piece cycle-free, and constants read by several pieces are copied
into each. An op whose own constants pass the limit stays on CPU.

Clusters are named `neuron_op_<hash>`, the hash taken over the names and dtypes of their
boundary tensors, so the same module always gives the same names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Block, Operation, OpResult, Region, SSAValue
from xdsl.passes import ModulePass

from nir.ir.neuron_dialect import ClusterOp, YieldOp
from nir.ir.shapes import element_type, is_static

DEFAULT_MAX_CLUSTER_BYTES = 1 << 30  # the weights twice (GraphDef and NEFF) stay under 2 GiB
from nir.ir.attr_names import ON_TARGET
from nir.ir.control_flow import graph_functions, loop_conditions
from nir.ir.module import entry_function
from nir.ir.op_facts import METADATA, is_loop_back_edge, op_types_with
from nir.ir.placement import CpuReason
from nir.ir.queries import is_on_target, mark_on_target, set_cpu_reason
from nir.ir.tf_dialect import Free, TFNodeOp, create_tf_op
from nir.ir.tf_types import ControlType, OpaqueDType
from nir.passmanager.registry import register_pass
from nir.target import placement_rules

_METADATA_OPS = op_types_with(METADATA)


class _UnionFind:
    def __init__(self, size: int):
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller index wins, so results do not depend on visiting order.
            self.parent[max(ra, rb)] = min(ra, rb)


def _producer_index(value: SSAValue, index: dict[Operation, int]) -> int | None:
    if isinstance(value, OpResult):
        return index.get(value.op)
    return None


def group_candidates(ops: Sequence[Operation], candidate: Sequence[bool]) -> list[list[int]]:
    """Indices of `ops` (in block order) grouped into cycle-free clusters."""
    index = {op: i for i, op in enumerate(ops)}
    level = [0] * len(ops)
    downstream_of_target = [False] * len(ops)
    for i, op in enumerate(ops):
        lvl, reached = 0, False
        for value in op.operands:
            j = _producer_index(value, index)
            if j is None or j >= i:  # arguments, or a TF1 loop back edge
                continue
            bump = 1 if (not candidate[j] and downstream_of_target[j]) else 0
            lvl = max(lvl, level[j] + bump)
            reached = reached or candidate[j] or downstream_of_target[j]
        level[i], downstream_of_target[i] = lvl, reached
    sets = _UnionFind(len(ops))
    for i, op in enumerate(ops):
        if not candidate[i]:
            continue
        for value in op.operands:
            j = _producer_index(value, index)
            if j is not None and j < i and candidate[j] and level[j] == level[i]:
                sets.union(i, j)
    _attach_private_constants(ops, candidate, index, sets)
    groups: dict[int, list[int]] = {}
    for i in range(len(ops)):
        if candidate[i]:
            groups.setdefault(sets.find(i), []).append(i)
    return list(groups.values())


def _attach_private_constants(ops, candidate, index, sets: _UnionFind) -> None:
    """A constant read only by one cluster joins it, whatever its level: having no inputs, it
    cannot close a cycle."""
    for i, op in enumerate(ops):
        if not candidate[i] or op.operands or getattr(op, "tf_type", "") != "Const":
            continue
        users = {index.get(use.operation) for r in op.results for use in r.uses}
        if None in users or not users or not all(candidate[u] for u in users):
            continue
        roots = {sets.find(u) for u in users}
        if len(roots) == 1:
            sets.union(i, roots.pop())


def _outside_users(op: Operation, members: set[Operation]) -> bool:
    return any(use.operation not in members for r in op.results for use in r.uses)


def _control_edge_across(op: Operation, members: set[Operation]) -> str | None:
    """Why `op` cannot be in its cluster because of a control edge, if one crosses the cluster's
    boundary. A NeuronOp passes tensors only: a wait on an op outside, or an outside op's wait
    on this one, has nothing to hold it."""
    if not isinstance(op, TFNodeOp):
        return None
    for value in op.control_operands:
        if value.owner not in members:
            return f"waits on {_node_of(value)} through a control edge from outside its cluster"
    for use in op.control.uses:
        if use.operation not in members:
            return f"{_node_of(use.operation)} waits on it through a control edge from outside its cluster"
    return None


def _node_of(thing: SSAValue | Operation) -> str:
    owner = thing.owner if isinstance(thing, SSAValue) else thing
    if isinstance(owner, TFNodeOp):
        return f"'{owner.node_name}'"
    if isinstance(owner, func.ReturnOp):
        return "the function's return (a control return)"
    return "an input" if not isinstance(owner, Operation) else f"'{owner.name}'"


def _boundary_violations(groups: list[list[int]], ops: Sequence[Operation], forbidden: frozenset) -> dict[int, str]:
    """Ops to take out of their cluster, with the reason."""
    evict: dict[int, str] = {}
    for group in groups:
        members = {ops[i] for i in group}
        for i in group:
            op = ops[i]
            if isinstance(op, TFNodeOp) and op.tf_type == "Const" and _outside_users(op, members):
                evict[i] = "Const also read outside its cluster (copied into each cluster that reads it)"
                continue
            crossing = _control_edge_across(op, members)
            if crossing:
                evict[i] = crossing
                continue
            for value in op.operands:
                if value.owner not in members and element_type(value.type) in forbidden:
                    evict[i] = f"{element_type(value.type)} tensor entering its cluster"
            for result in getattr(op, "data_results", op.results):
                if element_type(result.type) in forbidden and any(
                    use.operation not in members for use in result.uses
                ):
                    evict[i] = f"{element_type(result.type)} tensor leaving its cluster"
    return evict


CONSTANT_ONLY_REASON = (
    "computes from constants alone (a result too big for constant-fold): no inputs to run on the accelerator"
)
SHAPES_ONLY_REASON = (
    "computes from constants alone and the shapes of its inputs (shape arithmetic left by dynamic batch): "
    "no inputs to run on the accelerator"
)


def has_runtime_input(group: Sequence[int], ops: Sequence[Operation]) -> bool:
    """Whether some tensor other than a constant enters the group. A group without one would
    be a NeuronOp without inputs: a constant computed on the device at every inference."""
    return any(True for _ in _runtime_inputs(group, ops))


def reads_input_values(group: Sequence[int], ops: Sequence[Operation]) -> bool:
    """Whether an op of the group reads the values of a tensor from outside it, not only its
    shape. Under dynamic batch the shapes of batch-carrying tensors stay computed (a Fill of
    zeros as big as the batch: an RNN's first state); a group that reads only shapes is shape
    arithmetic, cheaper on the host than a NeuronOp call, as a constant-only group is."""
    return any(not (isinstance(reader, TFNodeOp) and reader.tf_type in _METADATA_OPS)
               for reader in _runtime_inputs(group, ops))


def _runtime_inputs(group: Sequence[int], ops: Sequence[Operation]) -> Iterator[Operation]:
    """The group's op for each tensor, not a copyable constant, that enters it from outside."""
    members = {ops[i] for i in group}
    for i in group:
        for value in ops[i].operands:
            if not isinstance(value.type, ControlType) and value.owner not in members and not _is_copyable_const(value):
                yield ops[i]


def effective_size(group: Sequence[int], ops: Sequence[Operation], count_constants: bool = True) -> int:
    """The ops minimum-segment-size counts: as the original, every op but the forwarding ones
    (Identity, Snapshot, StopGradient, NoOp), so a lone convolution with its filter is a
    segment of 2. In a loop or branch body (`count_constants` False) constants do not count,
    so a lone add with its constant operand, a loop counter, stays on CPU."""
    return sum(1 for i in group if isinstance(ops[i], TFNodeOp) and not ops[i].has_trait(Free)
               and (count_constants or ops[i].tf_type != "Const"))


def constant_bytes(const: TFNodeOp) -> int:
    """Payload bytes of a Const op (its callers ask only of copyable constants)."""
    return const.attributes["value"].num_bytes


def split_by_bytes(group: list[int], ops: Sequence[Operation], limit: int) -> list[list[int]]:
    """`group` cut into runs (in block order) whose constants stay under `limit` bytes.
    Copyable constants are left out of the runs: each run that reads one gets its own copy."""

    def weights(i: int) -> dict[Operation, int]:
        return {v.owner: constant_bytes(v.owner) for v in ops[i].operands if _is_copyable_const(v)}

    read: dict[Operation, int] = {}
    for i in group:
        read.update(weights(i))
    if sum(read.values()) <= limit:
        return [group]
    pieces: list[list[int]] = []
    piece: list[int] = []
    held: set[Operation] = set()
    held_bytes = 0
    for i in group:
        op = ops[i]
        if getattr(op, "tf_type", "") == "Const" and _is_copyable_const(op.results[0]):
            continue  # copied into every piece that reads it
        reads = weights(i)
        own = sum(reads.values())
        if own > limit or (piece and held_bytes + sum(b for o, b in reads.items() if o not in held) > limit):
            # A new piece starts here; an op left out for its own weights also ends the piece
            # before it, since a path through a CPU op must not come back into the same piece.
            if piece:
                pieces.append(piece)
            piece, held, held_bytes = [], set(), 0
        if own > limit:
            set_cpu_reason(op, f"its constants ({own / 2**20:.0f} MB) alone exceed max-cluster-bytes={limit}")
            continue
        piece.append(i)
        held_bytes += sum(b for o, b in reads.items() if o not in held)
        held.update(reads)
    if piece:
        pieces.append(piece)
    return pieces


def tensor_name(value: SSAValue) -> str:
    if isinstance(value, OpResult) and isinstance(value.op, TFNodeOp):
        return f"{value.op.node_name}:{value.index}"
    return f"arg{getattr(value, 'index', 0)}:0"


def cluster_name(inputs: Sequence[SSAValue], outputs: Sequence[SSAValue], scope: str = "") -> str:
    """`neuron_op_<hash>`; `scope` (the function a body cluster is in) keeps clusters of
    different functions apart when their tensors have the same names."""
    digest = hashlib.sha256()
    if scope:
        digest.update(f"function|{scope};".encode())
    for prefix, values in (("in", inputs), ("out", outputs)):
        for value in values:
            digest.update(f"{prefix}|{tensor_name(value)}|{element_type(value.type)};".encode())
    return "neuron_op_" + digest.hexdigest()[:16]


def _is_copyable_const(value: SSAValue) -> bool:
    """Constants feeding a cluster from outside are copied in: weights stay inside NeuronOps."""
    owner = value.owner
    return (
        isinstance(owner, TFNodeOp)
        and owner.tf_type == "Const"
        and not owner.control_operands
        and not isinstance(element_type(value.type), OpaqueDType)
        and is_static(value.type)
    )


def _copy_consts_into(body: Block, consts: list[SSAValue], members: set[Operation], suffix: str) -> None:
    for value in consts:
        original = value.owner
        copy = create_tf_op(
            "Const", f"{original.node_name}/{suffix}", [], [value.type], original.attributes, device=original.device
        )
        mark_on_target(copy, original.properties.get(ON_TARGET, StringAttr("inferentia")).data)
        body.add_op(copy)
        value.replace_uses_with_if(copy.data_results[0], lambda use: use.operation in members)


def build_cluster(block: Block, members: list[Operation], scope: str = "") -> ClusterOp:
    """Move `members` (in block order) into a new neuron.cluster placed at the last member."""
    member_set = set(members)
    inputs: list[SSAValue] = []
    consts: list[SSAValue] = []
    seen: set[SSAValue] = set()
    for op in members:
        for value in op.operands:
            if value not in seen and not (isinstance(value, OpResult) and value.op in member_set):
                seen.add(value)
                (consts if _is_copyable_const(value) else inputs).append(value)
    outputs = [
        r for op in members for r in op.results if any(u.operation not in member_set for u in r.uses)
    ]
    body = Block(arg_types=[v.type for v in inputs])
    name = cluster_name(inputs, outputs, scope)
    _copy_consts_into(body, consts, member_set, name)
    cluster = ClusterOp(name, inputs, [v.type for v in outputs], Region(body))
    block.insert_op_after(cluster, members[-1])
    for outer, result in zip(outputs, cluster.outputs):
        outer.replace_uses_with_if(result, lambda use: use.operation not in member_set)
        result.name_hint = outer.name_hint
    for outer, arg in zip(inputs, body.args):
        outer.replace_uses_with_if(arg, lambda use: use.operation in member_set)
        arg.name_hint = outer.name_hint
    for op in members:
        op.detach()
        body.add_op(op)
    body.add_op(YieldOp(outputs))
    return cluster


def dissolve(cluster: ClusterOp) -> None:
    """Put the cluster's ops back in its block where the cluster was."""
    block = cluster.parent_block()
    assert block is not None
    body = cluster.block
    for arg, outer in zip(body.args, cluster.inputs):
        arg.replace_all_uses_with(outer)
    yielded = body.last_op
    assert isinstance(yielded, YieldOp)
    for result, value in zip(cluster.outputs, yielded.values):
        result.replace_all_uses_with(value)
    yielded.detach()
    yielded.erase()
    for op in list(body.ops):
        op.detach()
        block.insert_op_before(op, cluster)
    cluster.detach()
    cluster.erase()


def _keep_condition_on_cpu(fn: func.FuncOp) -> None:
    """A loop condition computes the one boolean the host needs to decide whether to go on:
    sending it to the device would add a round trip per iteration and save nothing."""
    for op in fn.body.block.ops:
        if isinstance(op, TFNodeOp) and is_on_target(op):
            set_cpu_reason(op, "in a loop condition (the host needs its result at every iteration)")


def topologically_sort(block: Block) -> None:
    """Reorder `block` so every op follows its operands' producers, keeping order otherwise."""
    ops = list(block.ops)
    terminator = ops.pop() if ops and isinstance(ops[-1], func.ReturnOp) else None
    position = {op: i for i, op in enumerate(ops)}
    placed: set[Operation] = set()
    order: list[Operation] = []
    for root in ops:
        if root in placed:
            continue
        stack = [(root, iter(root.operands))]
        on_stack = {root}
        while stack:
            op, operands = stack[-1]
            advanced = False
            for value in operands:
                producer = value.op if isinstance(value, OpResult) else None
                if producer in position and producer not in placed and producer not in on_stack:
                    back_edge = is_loop_back_edge(getattr(op, "tf_type", ""), getattr(producer, "tf_type", ""))
                    if position[producer] > position[op] and back_edge:
                        continue  # TF1 loop back edge
                    stack.append((producer, iter(producer.operands)))
                    on_stack.add(producer)
                    advanced = True
                    break
            if not advanced:
                stack.pop()
                on_stack.discard(op)
                placed.add(op)
                order.append(op)
    for op in ops:
        op.detach()
    block.add_ops(order)
    if terminator is not None:
        terminator.detach()
        block.add_op(terminator)


@register_pass
@dataclass(frozen=True)
class ClusterPass(ModulePass):
    """Group target ops into cycle-free neuron.cluster ops (see the module docstring)."""

    name = "tf-cluster"
    aliases = ("cluster",)  # the name until nir 0.1; dropped in 0.3

    minimum_segment_size: int = 2
    max_cluster_bytes: int = DEFAULT_MAX_CLUSTER_BYTES

    def _pieces_under_the_byte_limit(self, groups, ops):
        """(piece, whether max-cluster-bytes cut its group) for every group's pieces."""
        for group in groups:
            pieces = split_by_bytes(group, ops, self.max_cluster_bytes)
            cut = pieces != [group]
            for piece in pieces:
                yield piece, cut

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        entry = entry_function(op)
        conditions = loop_conditions(op)
        for fn in graph_functions(op):
            if fn.sym_name.data in conditions:
                _keep_condition_on_cpu(fn)
                continue
            self.cluster_block(fn.body.block, "" if fn is entry else fn.sym_name.data)

    def cluster_block(self, block: Block, scope: str) -> None:
        ops = [o for o in block.ops if not isinstance(o, func.ReturnOp)]
        candidate = [isinstance(o, TFNodeOp) and is_on_target(o) for o in ops]
        if not any(candidate):
            return
        forbidden = placement_rules(ops[candidate.index(True)].properties[ON_TARGET].data).boundary_forbidden
        while True:
            groups = group_candidates(ops, candidate)
            evict = _boundary_violations(groups, ops, forbidden)
            if not evict:
                break
            # A constant read on CPU too goes first and alone: as a candidate it made its CPU
            # readers look downstream of the accelerator, which split its other readers'
            # groups; the other violations are judged on the groups without it.
            shared = {i: r for i, r in evict.items() if CpuReason.of(r) is CpuReason.SHARED_CONSTANT}
            evict = shared or evict
            for i, reason in evict.items():
                candidate[i] = False
                set_cpu_reason(ops[i], reason)
        kept = []
        for group, cut in self._pieces_under_the_byte_limit(groups, ops):
            size = effective_size(group, ops, count_constants=not scope)
            if size < self.minimum_segment_size:
                reason = f"in a cluster of {size} op(s), below minimum_segment_size={self.minimum_segment_size}"
                if cut:  # the cause the user can change is the byte limit, not the segment size
                    reason += (f" (cut to that size by max-cluster-bytes={self.max_cluster_bytes}: its weights and "
                               "its neighbours' pass the limit together)")
                for i in group:
                    set_cpu_reason(ops[i], reason)
            elif not has_runtime_input(group, ops):
                for i in group:
                    set_cpu_reason(ops[i], CONSTANT_ONLY_REASON)
            elif not reads_input_values(group, ops):
                for i in group:
                    set_cpu_reason(ops[i], SHAPES_ONLY_REASON)
            else:
                kept.append(group)
        for group in sorted(kept, key=lambda g: g[0]):
            build_cluster(block, [ops[i] for i in group], scope)
        if kept:
            topologically_sort(block)
