"""tf-unroll-loops{max-unrolled-ops=20000 max-trip-count=4096 dynamic-batch=false}: turn a While
whose trip count is known at compile time into straight-line code.

Why: a loop's body is a graph of its own, so its cluster runs once per iteration, with a
host/device round trip each time, and the loop's counters, condition and TensorList
plumbing stay on CPU between them. A Keras RNN over a sequence length the signature fixes,
a `tf.while_loop` over a constant range, a `tf.scan`/`map_fn` over a static dimension: all
run a number of times the compiler can know, and once unrolled the whole recurrence is one
graph that clustering can put in one NeuronOp.

How the trip count is found: the loop variables that start as small values the graph computes
from constants and static shapes alone, and whose next value the body computes from such
variables (and static shapes) alone, with ops that have no side effect, are the loop's
counters. When the condition reads counters and static shapes only (`i < tf.shape(x)[1]`),
TensorFlow runs the condition and the counters' updates (its own kernels, so the count is
exact), iteration by iteration, until the condition is false. Each unrolled iteration gets its
counters as constants, so what indexes by them (a `TensorListGetItem` at the time step) sees a
constant index.

A loop is left as it is, with a `nir.not_unrolled` property saying why (`nir explain` shows
it), when its condition reads a value known only at run time, its body has side effects
(unrolled, their order across iterations would not be kept), it runs more than
`max-trip-count` times, or unrolled it would hold more than `max-unrolled-ops` ops. Unrolled
loops are listed, with their trip counts, in the module's `nir.unrolled_loops` attribute.

Where loops were unrolled, the control edges that order nothing are dropped (canonicalize's
analysis) and tf-lower-tensor-lists' rewrite turns the TensorList reads, now at constant
indices, into tensor ops (here rather than as a pipeline step of its own: a graph
without loops costs nothing, the pass returns at once).

Run right after shape inference (the bodies' ops then have their shapes) and before
prove-batch-axes, constant-fold and the rest: they see straight-line code, so the batch axes of
what follows a loop are proved as any other's, and an RNN's first step, which reads only its zero
initial state and the weights, is folded. With `dynamic-batch`, a count that reads shapes that
change with the batch is found again at two other batch sizes, and a loop whose count changes
(a loop over the samples) is not unrolled.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.ir import BlockArgument, SSAValue
from xdsl.passes import ModulePass
from xdsl.transforms.dead_code_elimination import is_trivially_dead

from nir.ir.attr_names import INPUT_KEY, NOT_UNROLLED, UNROLLED_LOOPS
from nir.ir.control_flow import (
    CONTROL_FLOW_OPS,
    WHILE_OPS,
    control_returns,
    data_returns,
    graph_functions,
    private_functions,
    remove_unreferenced_functions,
)
from nir.ir.dtypes import numpy_dtype_of_ir_type
from nir.ir.names import unique_name
from nir.ir.op_facts import is_stateful
from nir.ir.queries import carries_batch, const_value
from nir.ir.shapes import element_type, is_static, tensor_type, tf_shape
from nir.ir.tf_attrs import FuncAttr, TensorAttr
from nir.ir.tf_dialect import MetadataOnly, TFNodeOp, create_tf_op, name_values_after_node
from nir.ir.tf_types import OpaqueDType
from nir.passmanager.registry import register_pass
from passes.canonicalize import drop_pure_control_edges
from passes.constant_fold import (
    NEVER_FOLDED,
    OTHER_BATCHES,
    FoldPlan,
    evaluate,
    metadata_values,
    shapes_at_batch,
    why_tensorflow_refused,
)
from passes.lower_tensor_lists import lower_tensor_lists
from passes.shape_inference import infer_shapes

logger = logging.getLogger("nir")

MAX_COUNTER_ELEMENTS = 16  # a loop variable bigger than this is data, not a counter


@dataclass
class LoopPlan:
    """What unrolling a loop needs: how often it runs and its counters' values before each
    iteration and after the last (`trips + 1` entries per counter)."""

    trips: int
    counters: dict[int, list[np.ndarray]]

    def same_as(self, other: LoopPlan) -> bool:
        return self.trips == other.trips and all(
            np.array_equal(a, b) for i, values in self.counters.items() for a, b in zip(values, other.counters[i]))


def _numeric(value: SSAValue) -> bool:
    try:
        return not isinstance(element_type(value.type), OpaqueDType)
    except TypeError:
        return False


def why_not_evaluable(op: TFNodeOp) -> str | None:
    """Why the simulation cannot run `op` at compile time (None if it can)."""
    if op.tf_type in CONTROL_FLOW_OPS or any(isinstance(v, FuncAttr) for v in op.attributes.values()):
        return f"{op.tf_type} '{op.node_name}' runs a function"
    if is_stateful(op.tf_type):
        return f"{op.tf_type} '{op.node_name}' has side effects"
    if not all(_numeric(v) for v in [*op.data_operands, *op.data_results]):
        return f"{op.tf_type} '{op.node_name}' works on non-numeric tensors"
    return None


@dataclass
class _Slice:
    """The ops of a function that compute some of its values, the arguments they read, and the
    shape ops among them whose inputs' shapes are static: their values are fed, so a bound like
    `tf.shape(x)[1]` of a tensor the loop carries is known without the tensor."""

    ops: list[TFNodeOp]
    args: set[int]
    refusal: str | None
    shapes: list[TFNodeOp]


def is_static_shape_op(op: TFNodeOp) -> bool:
    return op.has_trait(MetadataOnly) and bool(op.data_operands) and all(is_static(v.type) for v in op.data_operands)


def backward_slice(fn: func.FuncOp, values: list[SSAValue]) -> _Slice:
    seen: set[TFNodeOp] = set()
    args: set[int] = set()
    refusal = None
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, BlockArgument):
            args.add(value.index)
            continue
        op = value.owner
        if not isinstance(op, TFNodeOp) or op in seen:
            continue
        seen.add(op)
        if is_static_shape_op(op):
            continue  # fed: what it reads is not needed
        refusal = refusal or why_not_evaluable(op)
        # Data inputs only: a control input orders an op, it does not change its value (and the
        # body has no side effects to order, or it is not unrolled).
        stack.extend(op.data_operands)
    ordered = [op for op in fn.body.block.ops if op in seen]
    return _Slice(ordered, args, refusal, [op for op in ordered if is_static_shape_op(op)])


def _small_static(value: SSAValue) -> bool:
    return _numeric(value) and is_static(value.type) and math.prod(tf_shape(value.type)) <= MAX_COUNTER_ELEMENTS


def initial_values(op: TFNodeOp, dynamic_batch: bool) -> dict[int, np.ndarray]:
    """The loop's small operands whose value the graph computes from constants and static
    shapes alone (a Keras RNN's bound is `Max` of a constant, a `tf.while_loop`'s may be
    `tf.shape(x)[1]`), by operand index. With `dynamic_batch`, a shape that changes with the
    batch is no constant."""
    wanted = {i: v for i, v in enumerate(op.data_operands) if _small_static(v)}
    plan = FoldPlan([], set(), {})
    computable: dict[SSAValue, bool] = {}
    following_batch: list[TFNodeOp] = []  # Shape ops of tensors that carry the batch (dynamic batch)

    def is_computable(value: SSAValue) -> bool:
        if value in computable:
            return computable[value]
        computable[value] = False  # the memo, set first: each value is looked at once
        owner = value.owner
        answer = False
        if isinstance(owner, TFNodeOp):
            if owner.tf_type == "Const":
                answer = const_value(value) is not None
                if answer:
                    plan.known[value] = const_value(value)
            elif owner.has_trait(MetadataOnly):
                values = metadata_values(owner, dynamic_batch)
                if values is not None:
                    plan.known.update(zip(owner.data_results, values))
                    answer = True
                elif dynamic_batch and shapes_at_batch(owner, 1) is not None:
                    following_batch.append(owner)
                    answer = True
            elif why_not_evaluable(owner) is None and owner.tf_type not in NEVER_FOLDED and \
                    all(is_static(r.type) for r in owner.data_results):
                answer = all(is_computable(v) for v in owner.data_operands)
            if answer:
                plan.constant.add(owner)
                if owner.tf_type != "Const" and not owner.has_trait(MetadataOnly):
                    plan.folded.append(owner)
        computable[value] = answer
        return answer

    known = {i: v for i, v in wanted.items() if is_computable(v)}
    if not known:
        return {}
    # With dynamic batch, what reads a shape that follows the batch is run at two other batch
    # sizes (constant-fold's sentinels): a value that is the same at both does not depend on it
    # (a sequence length, `tf.shape(x)[1]`); one that differs is no constant.
    runs = []
    for batch in OTHER_BATCHES if following_batch else (None,):
        for shape_op in following_batch:
            plan.known.update(zip(shape_op.data_results, shapes_at_batch(shape_op, batch)))
        try:
            runs.append(evaluate(plan, list(known.values())))
        except Exception as err:  # TensorFlow refused: the bounds are not known here
            logger.info("unroll-loops: the bounds of While '%s' could not be computed (%s)", op.node_name,
                        why_tensorflow_refused(err))
            return {}
    return {i: runs[0][v] for i, v in known.items() if all(np.array_equal(run[v], runs[0][v]) for run in runs)}


def loop_counters(op: TFNodeOp, body: func.FuncOp, initial: dict[int, np.ndarray]) -> set[int]:
    """Loop variables that start as values known at compile time and that the body updates
    from such variables alone: their values at every iteration follow at compile time."""
    returns = data_returns(body)
    counters = {i for i in initial if i < len(returns)}
    slices = {i: backward_slice(body, [returns[i]]) for i in counters}
    while True:
        dropped = {i for i in counters if slices[i].refusal or not slices[i].args <= counters}
        if not dropped:
            return counters
        counters -= dropped


class _Simulation:
    """The loop's condition and counter updates as one TensorFlow graph, run per iteration."""

    def __init__(self, cond: func.FuncOp, cond_slice: _Slice, body: func.FuncOp, counters: list[int]):
        import tensorflow as tf
        from tensorflow.core.framework import graph_pb2

        # Imported here, as TensorFlow is: only a pass that runs TensorFlow needs the exporter.
        from frontends.tensorflow.exporter import drop_dangling_colocation, node_def_of

        graph_def = graph_pb2.GraphDef()
        self.feeds: dict[int, str] = {}
        for i in counters:
            node = graph_def.node.add(name=f"counter_{i}", op="Placeholder")
            dtype = numpy_dtype_of_ir_type(element_type(body.args[i].type))
            node.attr["dtype"].type = tf.as_dtype(dtype).as_datatype_enum
            self.feeds[i] = f"counter_{i}:0"
        self.shape_feeds: dict[str, tuple[TFNodeOp, int]] = {}  # fed name -> (shape op, result index)
        self.condition = self._add(graph_def, "cond", cond, cond_slice.ops, node_def_of)[data_returns(cond)[0]]
        returns = data_returns(body)
        body_slice = backward_slice(body, [returns[i] for i in counters])
        names = self._add(graph_def, "body", body, body_slice.ops, node_def_of)
        self.updates = {i: names[returns[i]] for i in counters}
        drop_dangling_colocation(graph_def)
        self._graph = tf.Graph()
        with self._graph.as_default():
            tf.graph_util.import_graph_def(graph_def, name="")
        self._session = tf.compat.v1.Session(graph=self._graph)

    def _add(self, graph_def, scope: str, fn: func.FuncOp, ops: list[TFNodeOp], node_def_of) -> dict[SSAValue, str]:
        """Add `ops` under `scope` (a shape op as a Placeholder per result, fed); returns the
        graph's name of each value they (and `fn`) have."""
        import tensorflow as tf

        names: dict[SSAValue, str] = {arg: f"counter_{arg.index}:0" for arg in fn.args}
        for op in ops:
            for port, result in enumerate(op.data_results):
                names[result] = f"{scope}/{op.node_name}:{port}"
        for op in ops:
            if is_static_shape_op(op):
                for port, result in enumerate(op.data_results):
                    node = graph_def.node.add(name=f"{scope}/{op.node_name}/fed_{port}", op="Placeholder")
                    dtype = numpy_dtype_of_ir_type(element_type(result.type))
                    node.attr["dtype"].type = tf.as_dtype(dtype).as_datatype_enum
                    names[result] = f"{node.name}:0"
                    self.shape_feeds[names[result]] = (op, port)
                continue
            node = node_def_of(op, [names[v] for v in op.data_operands])
            node.name = f"{scope}/{op.node_name}"
            node.ClearField("device")
            graph_def.node.append(node)
        return names

    def run(self, fetches: list[str], values: dict[int, np.ndarray], shapes: dict[str, np.ndarray]) -> list[np.ndarray]:
        feed = {self.feeds[i]: v for i, v in values.items() if i in self.feeds}
        feed.update(shapes)
        return [np.asarray(v) for v in self._session.run(fetches, feed)]

    def shape_values(self, batch: int | None) -> dict[str, np.ndarray] | None:
        """The fed shapes, with the batch at `batch` where a tensor carries it (None: as they
        are); None when a shape follows the batch in a way that cannot be fed so."""
        fed = {}
        for name, (op, port) in self.shape_feeds.items():
            follows = batch is not None and any(carries_batch(v) for v in op.data_operands)
            values = shapes_at_batch(op, batch) if follows else metadata_values(op, False)
            if values is None:
                return None
            fed[name] = values[port]
        return fed

    @property
    def reads_shapes_that_follow_the_batch(self) -> bool:
        return any(carries_batch(v) for op, _ in self.shape_feeds.values() for v in op.data_operands)

    def close(self) -> None:
        self._session.close()


def plan_loop(op: TFNodeOp, body: func.FuncOp, cond: func.FuncOp, max_trips: int,
              dynamic_batch: bool) -> LoopPlan | str:
    """The loop's trip count and counter values, or why they are not known at compile time."""
    initial = initial_values(op, dynamic_batch)
    counters = loop_counters(op, body, initial)
    cond_returns = data_returns(cond)
    if len(cond_returns) != 1:
        return f"its condition returns {len(cond_returns)} values"
    cond_slice = backward_slice(cond, cond_returns)
    if cond_slice.refusal:
        return f"its condition runs {cond_slice.refusal}"
    unknown = sorted(cond_slice.args - counters)
    if unknown:
        names = ", ".join(f"'{_arg_name(cond, i)}'" for i in unknown)
        return f"its condition reads {names}, which the loop computes from run-time values"
    order = sorted(counters)
    simulation = _Simulation(cond, cond_slice, body, order)
    try:
        plan = simulate(simulation, {i: initial[i] for i in order}, max_trips, None)
        if isinstance(plan, str) or not (dynamic_batch and simulation.reads_shapes_that_follow_the_batch):
            return plan
        # With dynamic batch, a loop that reads shapes that follow the batch is run again at two
        # other batch sizes (constant-fold's sentinels): its count is known only if it is the same.
        for batch in OTHER_BATCHES:
            other = simulate(simulation, {i: initial[i] for i in order}, plan.trips, batch)
            if isinstance(other, str) or not plan.same_as(other):
                return "its trip count changes with the batch size (dynamic batch)"
        return plan
    finally:
        simulation.close()


def simulate(simulation: _Simulation, values: dict[int, np.ndarray], max_trips: int,
             batch: int | None) -> LoopPlan | str:
    """Run the condition and the counters' updates until the condition is false."""
    shapes = simulation.shape_values(batch)
    if shapes is None:
        return "its condition or counters read the size of a tensor that follows the batch"
    order = sorted(values)
    history = {i: [values[i]] for i in order}
    try:
        trips = 0
        while True:
            (keep_going,) = simulation.run([simulation.condition], values, shapes)
            if keep_going.shape != ():
                return f"its condition gives a tensor of shape {list(keep_going.shape)}, not a scalar"
            if not keep_going:
                break
            if trips == max_trips:
                return f"it runs more than max-trip-count={max_trips} times"
            updated = simulation.run([simulation.updates[i] for i in order], values, shapes)
            values = dict(zip(order, updated))
            for i in order:
                history[i].append(values[i])
            trips += 1
    except Exception as err:  # TensorFlow refused the counters' arithmetic: leave the loop alone
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"TensorFlow could not run its counters at compile time ({first_line})"
    return LoopPlan(trips, history)


def _arg_name(fn: func.FuncOp, index: int) -> str:
    attrs = fn.arg_attrs.data[index] if fn.arg_attrs is not None else None
    if isinstance(attrs, DictionaryAttr) and isinstance(attrs.data.get(INPUT_KEY), StringAttr):
        return attrs.data[INPUT_KEY].data
    return f"arg{index}"


def body_size(body: func.FuncOp) -> int:
    """Ops an iteration adds to the graph (constants are made once for all iterations)."""
    return sum(1 for op in body.body.block.ops if isinstance(op, TFNodeOp) and op.tf_type != "Const")


def _constant(name: str, value: np.ndarray, like: SSAValue, device: str) -> TFNodeOp:
    dtype = element_type(like.type)
    value_type = tensor_type(dtype, value.shape)
    array = value.astype(numpy_dtype_of_ir_type(dtype), copy=False)
    return create_tf_op("Const", name, [], [value_type],
                        {"dtype": dtype, "value": TensorAttr.from_numpy(array, value_type)}, device=device)


class _Unroller:
    """Clones a loop's body once per iteration in front of the loop, then removes the loop."""

    def __init__(self, op: TFNodeOp, body: func.FuncOp, plan: LoopPlan, taken: set[str]):
        self.op, self.body, self.plan, self.taken = op, body, plan, taken
        self.block = op.parent
        self.cloned: list[TFNodeOp] = []
        self.gated: set[TFNodeOp] = set()  # clones that wait on the loop's control inputs

    def insert(self, new: TFNodeOp) -> TFNodeOp:
        if not new.device and self.op.device:
            new.properties["device"] = StringAttr(self.op.device)
        self.block.insert_op_before(new, self.op)
        self.cloned.append(new)
        return new

    def counter_constant(self, index: int, iteration: int) -> SSAValue:
        name = unique_name(f"{self.op.node_name}/iteration_{iteration}/{_arg_name(self.body, index)}", self.taken)
        value = self.plan.counters[index][iteration]
        return self.insert(_constant(name, value, self.body.args[index], self.op.device)).data_results[0]

    def hoist_constants(self, gate: TFNodeOp | None) -> dict[SSAValue, SSAValue]:
        """The body's constants, made once: every iteration reads the same weights."""
        mapping: dict[SSAValue, SSAValue] = {}
        for body_op in self.body.body.block.ops:
            if isinstance(body_op, TFNodeOp) and body_op.tf_type == "Const" and not body_op.operands:
                copy = body_op.clone()
                copy.node_name = unique_name(f"{self.op.node_name}/{body_op.node_name}", self.taken)
                name_values_after_node(copy)
                if gate is not None:
                    copy.operands = [gate.control]
                    self.gated.add(copy)
                self.insert(copy)
                mapping[body_op.data_results[0]] = copy.data_results[0]
                mapping[body_op.control] = copy.control
        return mapping

    def gate(self) -> TFNodeOp | None:
        """What the loop's control inputs become: a NoOp that every copied op waits on, directly
        or through what it reads, as TensorFlow's inliner gives a call's control inputs to the
        body ops that read nothing else of the body."""
        if not self.op.control_operands:
            return None
        gate = create_tf_op("NoOp", unique_name(f"{self.op.node_name}/input_control_node", self.taken), [], [],
                            control_operands=self.op.control_operands)
        return self.insert(gate)

    def iteration(self, k: int, current: list[SSAValue], hoisted: dict[SSAValue, SSAValue],
                  gate: TFNodeOp | None) -> tuple[list[SSAValue], list[SSAValue]]:
        mapping = dict(hoisted)
        mapping.update(zip(self.body.args, current))
        for index in self.plan.counters:
            mapping[self.body.args[index]] = self.counter_constant(index, k)
        for body_op in self.body.body.block.ops:
            if not isinstance(body_op, TFNodeOp) or body_op.data_results and body_op.data_results[0] in hoisted:
                continue
            copy = body_op.clone(mapping)
            copy.node_name = unique_name(f"{self.op.node_name}/iteration_{k}/{body_op.node_name}", self.taken)
            name_values_after_node(copy)
            if gate is not None and not any(v.owner in self.gated for v in copy.operands):
                copy.operands = [*copy.operands, gate.control]
            if gate is not None:
                self.gated.add(copy)
            self.insert(copy)
        returns = [mapping.get(v, v) for v in data_returns(self.body)]
        waits = [mapping.get(v, v) for v in control_returns(self.body)]
        return returns, waits

    def run(self) -> None:
        gate = self.gate()
        hoisted = self.hoist_constants(gate)
        current = list(self.op.data_operands)
        waits: list[SSAValue] = []
        for k in range(self.plan.trips):
            current, waits = self.iteration(k, current, hoisted, gate)
        for index in self.plan.counters:
            if self.op.data_results[index].uses:
                current[index] = self.counter_constant(index, self.plan.trips)
        self.replace_loop(current, waits)
        self.remove_dead_clones()

    def replace_loop(self, finals: list[SSAValue], waits: list[SSAValue]) -> None:
        for old, new in zip(self.op.data_results, finals):
            old.replace_all_uses_with(new)
        if self.op.control.uses:
            # What waited on the loop waited on its side effects; the body has none (a body with
            # side effects is not unrolled), so what is left to wait on is what the loop waited on
            # and what the body declares as its control outputs.
            waits = list(self.op.control_operands) + waits
            done = create_tf_op("NoOp", self.op.node_name, [], [], control_operands=list(dict.fromkeys(waits)),
                                device=self.op.device)
            self.block.insert_op_before(done, self.op)
            self.op.control.replace_all_uses_with(done.control)
        self.taken.discard(self.op.node_name)
        self.op.detach()
        self.op.erase()

    def remove_dead_clones(self) -> None:
        """The counters' own arithmetic, and constants no iteration read, are dead once every
        iteration reads its counters as constants."""
        for clone in reversed(self.cloned):
            if is_trivially_dead(clone):
                self.block.erase_op(clone)


def _loop_functions(op: TFNodeOp, functions: dict[str, func.FuncOp]) -> tuple[func.FuncOp, func.FuncOp] | str:
    body_attr, cond_attr = op.attributes.get("body"), op.attributes.get("cond")
    if not isinstance(body_attr, FuncAttr) or not isinstance(cond_attr, FuncAttr):
        return "its body or condition is not a function"
    body, cond = functions.get(body_attr.function_name), functions.get(cond_attr.function_name)
    if body is None or cond is None:
        return "its body or condition is not in the model's function library"
    if len(body.args) != len(op.data_operands) or len(cond.args) != len(op.data_operands):
        return "its body or condition takes other arguments than the loop passes"
    if len(data_returns(body)) != len(op.data_operands):
        return "its body returns other values than the loop takes"
    return body, cond


def why_not_unrollable(body: func.FuncOp) -> str | None:
    for op in body.body.block.ops:
        if isinstance(op, TFNodeOp) and is_stateful(op.tf_type):
            return (f"its body has {op.tf_type} '{op.node_name}', which has side effects: unrolled, their "
                    "order across iterations would not be kept")
    return None


@register_pass
@dataclass(frozen=True)
class UnrollLoopsPass(ModulePass):
    """Replace each While whose trip count is known at compile time by that many copies of its
    body, when the copies fit the size limit."""

    name = "tf-unroll-loops"

    max_unrolled_ops: int = 20000
    max_trip_count: int = 4096
    dynamic_batch: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if len(graph_functions(op)) == 1:
            return  # no control flow: nothing to unroll
        unrolled: dict[str, IntegerAttr] = {}
        changed: list[func.FuncOp] = []
        refused: set[TFNodeOp] = set()
        pending = graph_functions(op)
        while pending:
            fn = pending.pop(0)
            if fn not in graph_functions(op):
                continue  # the body of a loop unrolled meanwhile: its loops are in the caller now
            functions = private_functions(op)
            taken = {o.node_name for o in fn.body.block.ops if isinstance(o, TFNodeOp)}
            loops = [o for o in fn.body.block.ops
                     if isinstance(o, TFNodeOp) and o.tf_type in WHILE_OPS and o not in refused]
            for loop in loops:
                name = loop_name(fn, loop)
                trips = self.unroll(loop, functions, taken)
                if trips is None:
                    refused.add(loop)
                    continue
                unrolled[name] = IntegerAttr(trips, i64)
                changed.append(fn)
                pending.append(fn)  # the loops nested in its body are in this block now
                break
        if unrolled:
            previous = op.attributes.get(UNROLLED_LOOPS)
            merged = {**(previous.data if isinstance(previous, DictionaryAttr) else {}), **unrolled}
            op.attributes[UNROLLED_LOOPS] = DictionaryAttr(merged)
            remove_unreferenced_functions(op)
            logger.info("unroll-loops: unrolled %s", ", ".join(f"'{k}' ({v.value.data} trips)" for k, v in unrolled.items()))
            self.clean_up(op, changed)

    def clean_up(self, module: ModuleOp, changed: list[func.FuncOp]) -> None:
        # The clones carry the types the body was specialized to, widened to hold at every
        # iteration; in straight-line code each can be exact.
        infer_shapes(module)
        changed = [fn for fn in dict.fromkeys(changed) if fn in graph_functions(module)]
        for fn in changed:
            # Function inlining leaves control edges on the list plumbing that order nothing;
            # canonicalize would drop them later, but a list read through them is not lowered.
            drop_pure_control_edges(fn.body.block)
        if lower_tensor_lists(changed):
            infer_shapes(module)

    def unroll(self, loop: TFNodeOp, functions: dict[str, func.FuncOp], taken: set[str]) -> int | None:
        """Unroll `loop` and return its trip count, or record why not and return None."""
        if self.max_unrolled_ops == 0:
            return self.refuse(loop, "max-unrolled-ops=0 turns unrolling off")
        found = _loop_functions(loop, functions)
        if isinstance(found, str):
            return self.refuse(loop, found)
        body, cond = found
        reason = why_not_unrollable(body)
        if reason:
            return self.refuse(loop, reason)
        plan = plan_loop(loop, body, cond, self.max_trip_count, self.dynamic_batch)
        if isinstance(plan, str):
            return self.refuse(loop, plan)
        size = body_size(body) * plan.trips
        if size > self.max_unrolled_ops:
            return self.refuse(loop, f"unrolled, its {plan.trips} iterations would hold {size} ops, more than "
                                     f"max-unrolled-ops={self.max_unrolled_ops}")
        _Unroller(loop, body, plan, taken).run()
        return plan.trips

    @staticmethod
    def refuse(loop: TFNodeOp, reason: str) -> None:
        loop.properties[NOT_UNROLLED] = StringAttr(reason)
        logger.info("unroll-loops: While '%s' stays a loop: %s", loop.node_name, reason)
        return None


def loop_name(fn: func.FuncOp, loop: TFNodeOp) -> str:
    return loop.node_name if fn.sym_visibility is None else f"{fn.sym_name.data}/{loop.node_name}"
