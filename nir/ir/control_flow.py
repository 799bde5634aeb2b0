"""Functional control flow (While, If, Case and their stateless forms) as the IR holds it: the
queries every layer above uses (passes, the API, the backends).

The bodies of these ops are private functions of the module. They hold real work (an LSTM's
cell math runs in its While body), so the passes that partition a graph treat them as graphs
of their own: `graph_functions` lists the entry function and every body reachable from it.

Shape inference reaches into bodies through `specialize_while` and `specialize_branches`:
a body's arguments get the shapes of the values the op passes in, and for a loop, shapes that
change between iterations are widened until the body maps its argument types onto themselves
(a fixpoint, reached in at most one widening per dimension). A function used by more than one
op is not specialized: the ops may pass different shapes. `give_each_op_its_own_bodies` (run
by inline-calls) gives every control-flow op bodies of its own first, so that this holds only
for functions something else refers to as well.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence

from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, FunctionType, ModuleOp, StringAttr
from xdsl.ir import Attribute, SSAValue

from nir.ir.attr_names import CONTROL_RET
from nir.ir.module import entry_function
from nir.ir.names import unique_name
from nir.ir.shapes import element_type, retype, tensor_type, tf_shape
from nir.ir.tf_attrs import FuncAttr, ListAttr
from nir.ir.tf_dialect import TFNodeOp

WHILE_OPS = frozenset({"While", "StatelessWhile"})
IF_OPS = frozenset({"If", "StatelessIf"})
CASE_OPS = frozenset({"Case", "StatelessCase"})
CONTROL_FLOW_OPS = WHILE_OPS | IF_OPS | CASE_OPS
CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
MAX_WIDENINGS = 8

Shape = tuple[int, ...] | None
# Infers shapes in a body given which arguments carry the batch and the element shapes of the
# TensorLists among them; returns the element shapes of the lists the body returns.
InferFunction = Callable[[func.FuncOp, Sequence[bool], Sequence[Shape]], list[Shape]]


def body_names(op: TFNodeOp) -> list[str]:
    """The functions a control-flow op runs (body and cond, branches), in attribute order."""
    names = []
    for key in sorted(op.attributes):
        value = op.attributes[key]
        if isinstance(value, FuncAttr):
            names.append(value.function_name)
        elif isinstance(value, ListAttr):
            names.extend(v.function_name for v in value.items.data if isinstance(v, FuncAttr))
    return names


def private_functions(module: ModuleOp) -> dict[str, func.FuncOp]:
    entry = entry_function(module)
    return {f.sym_name.data: f for f in module.ops if isinstance(f, func.FuncOp) and f is not entry}


def graph_functions(module: ModuleOp) -> list[func.FuncOp]:
    """The entry function, then every control-flow body reachable from it (each once)."""
    functions = private_functions(module)
    order = [entry_function(module)]
    seen = {order[0].sym_name.data}
    index = 0
    while index < len(order):
        for op in order[index].body.block.ops:
            if isinstance(op, TFNodeOp) and op.tf_type in CONTROL_FLOW_OPS:
                for name in body_names(op):
                    if name in functions and name not in seen:
                        seen.add(name)
                        order.append(functions[name])
        index += 1
    return order


def loop_conditions(module: ModuleOp) -> set[str]:
    """Names of the functions While ops use as their condition."""
    names = set()
    for op in module.walk():
        if isinstance(op, TFNodeOp) and op.tf_type in WHILE_OPS:
            cond = op.attributes.get("cond")
            if isinstance(cond, FuncAttr):
                names.add(cond.function_name)
    return names


def _named_functions(value: Attribute) -> Iterator[str]:
    """Functions an attribute names, at any depth (a `#tf.func` inside a list, a dict, or the
    attributes of another `#tf.func`)."""
    if isinstance(value, FuncAttr):
        yield value.function_name
        yield from _named_functions(value.attrs)
    elif isinstance(value, ListAttr):
        for item in value.items.data:
            yield from _named_functions(item)
    elif isinstance(value, ArrayAttr):
        for item in value.data:
            yield from _named_functions(item)
    elif isinstance(value, DictionaryAttr):
        for item in value.data.values():
            yield from _named_functions(item)


def reference_counts(module: ModuleOp) -> Counter:
    """How many ops refer to each private function: through an attribute, or by having the
    function's name as their op type (a direct call)."""
    names = set(private_functions(module))
    counts: Counter = Counter()
    for op in module.walk():
        if not isinstance(op, TFNodeOp):
            continue
        if op.tf_type in names:
            counts[op.tf_type] += 1
        for value in op.attributes.values():
            counts.update(_named_functions(value))
    return counts


def give_each_op_its_own_bodies(module: ModuleOp) -> int:
    """Clone each control-flow body that a second op (or a second attribute) runs, and point
    that op at the clone; returns how many clones were made.

    A function holding a tf.cond, called twice and inlined twice (by Grappler, or by
    inline-calls), leaves two Ifs running the same branch functions, and a function two ops run
    cannot be specialized to either's operands: everything after them lost its shapes. The
    first op in walk order keeps the original; bodies inside a clone are cloned in turn when
    another op runs them too."""
    functions = private_functions(module)
    taken = set(functions) | {entry_function(module).sym_name.data}
    claimed: set[str] = set()
    clones = 0
    pending = [entry_function(module), *functions.values()]
    while pending:
        fn = pending.pop(0)
        for op in fn.body.walk():
            if not isinstance(op, TFNodeOp) or op.tf_type not in CONTROL_FLOW_OPS:
                continue
            for key in sorted(op.attributes):
                new_value, made = _with_own_bodies(op.attributes[key], functions, claimed, taken, module)
                if made:
                    op.attributes[key] = new_value
                    clones += len(made)
                    pending.extend(made)
    return clones


def _with_own_bodies(value: Attribute, functions: dict[str, func.FuncOp], claimed: set[str], taken: set[str],
                     module: ModuleOp) -> tuple[Attribute, list[func.FuncOp]]:
    """`value` (a func attribute, or a list of them: Case's branches) naming a clone of each
    function it names that another op claimed already, and the clones made."""
    if isinstance(value, ListAttr):
        made: list[func.FuncOp] = []
        items = []
        for item in value.items.data:
            new_item, new_clones = _with_own_bodies(item, functions, claimed, taken, module)
            items.append(new_item)
            made += new_clones
        return (ListAttr(items), made) if made else (value, [])
    if not isinstance(value, FuncAttr) or value.function_name not in functions:
        return value, []
    name = value.function_name
    if name not in claimed:
        claimed.add(name)
        return value, []
    original = functions[name]
    clone = original.clone()
    clone.sym_name = StringAttr(unique_name(name, taken))
    module.body.block.insert_op_after(clone, original)
    functions[clone.sym_name.data] = clone
    claimed.add(clone.sym_name.data)
    return FuncAttr(clone.sym_name.data, value.attrs), [clone]


def remove_unreferenced_functions(module: ModuleOp) -> None:
    """Functions nothing refers to any more go (repeatedly: a removed function may have been
    the last to call another)."""
    while True:
        counts = reference_counts(module)
        unused = [fn for name, fn in private_functions(module).items() if not counts[name]]
        if not unused:
            return
        for fn in unused:
            fn.detach()
            fn.erase()


def _control_return_flags(fn: func.FuncOp) -> list[bool]:
    ret = fn.body.block.last_op
    if fn.res_attrs is None:
        return [False] * len(ret.operands)
    return [CONTROL_RET in attrs.data for attrs in fn.res_attrs.data]


def data_returns(fn: func.FuncOp) -> list[SSAValue]:
    """The values a function returns, without its control returns."""
    ret = fn.body.block.last_op
    return [v for v, is_control in zip(ret.operands, _control_return_flags(fn)) if not is_control]


def control_returns(fn: func.FuncOp) -> list[SSAValue]:
    """The control tokens a function returns (its FunctionDef's control_ret)."""
    ret = fn.body.block.last_op
    return [v for v, is_control in zip(ret.operands, _control_return_flags(fn)) if is_control]


def data_result_types(fn: func.FuncOp) -> list[Attribute]:
    return [v.type for v in data_returns(fn)]


def join_types(a: Attribute, b: Attribute) -> Attribute:
    """The most precise type both `a` and `b` are instances of."""
    if a == b:
        return a
    sa, sb = tf_shape(a), tf_shape(b)
    if sa is None or sb is None or len(sa) != len(sb):
        return tensor_type(element_type(a), None)
    return tensor_type(element_type(a), [x if x == y else -1 for x, y in zip(sa, sb)])


def set_argument_types(fn: func.FuncOp, types: Sequence[Attribute]) -> None:
    for arg, new_type in zip(list(fn.args), types):
        if tf_shape(new_type) is not None or tf_shape(arg.type) is None:
            retype(arg, new_type)
    refresh_function_type(fn)


def refresh_function_type(fn: func.FuncOp) -> None:
    ret = fn.body.block.last_op
    fn.function_type = FunctionType.from_lists([a.type for a in fn.args], [v.type for v in ret.operands])


def join_element_shapes(a: Shape, b: Shape) -> Shape:
    """Element shapes of a TensorList seen in two places. An unknown dim (a list reserved
    with element_shape -1) says nothing about the items, so a known dim wins over it; two
    known dims that differ become unknown."""
    if a is None or b is None:
        return a if b is None else b
    if len(a) != len(b):
        return None
    return tuple(y if x < 0 else x if y < 0 or x == y else -1 for x, y in zip(a, b))


class Specializations:
    """The functions of one shape-inference run, and each as it was when the run first
    specialized it. A loop inside a body is specialized while the body is tried; when that try
    is rejected (a loop-carried shape widens), the next try must start from the inner loop's
    body as it was, never from one specialized to shapes that no longer hold."""

    def __init__(self, functions: dict[str, func.FuncOp]):
        self.functions = functions
        self.bases: dict[str, func.FuncOp] = {}

    def base(self, fn: func.FuncOp) -> func.FuncOp:
        return self.bases.setdefault(fn.sym_name.data, fn)

    def replace(self, old: func.FuncOp, new: func.FuncOp) -> None:
        old.parent.insert_op_before(new, old)
        old.detach()
        if old is not self.bases.get(old.sym_name.data):
            old.erase()  # a base stays alive, detached, for later tries
        self.functions[new.sym_name.data] = new


def _trial(fn: func.FuncOp, arg_types: Sequence[Attribute], batched: Sequence[bool],
           elements: Sequence[Shape], infer: InferFunction,
           specializations: Specializations) -> tuple[func.FuncOp, list[Shape]]:
    trial = specializations.base(fn).clone()
    set_argument_types(trial, arg_types)
    returned_elements = infer(trial, batched, elements)
    refresh_function_type(trial)
    return trial, returned_elements


def specialize_while(op: TFNodeOp, specializations: Specializations, counts: Counter,
                     batched: Sequence[bool], elements: Sequence[Shape],
                     infer: InferFunction) -> tuple[list[Attribute], list[Shape]] | None:
    """Specialize a While's body and cond to the shapes it is given; returns the loop's result
    types and list element shapes, or None when the bodies cannot be specialized."""
    body_attr, cond_attr = op.attributes.get("body"), op.attributes.get("cond")
    if not isinstance(body_attr, FuncAttr) or not isinstance(cond_attr, FuncAttr):
        return None
    functions = specializations.functions
    body, cond = functions.get(body_attr.function_name), functions.get(cond_attr.function_name)
    if body is None or cond is None or counts[body.sym_name.data] > 1 or counts[cond.sym_name.data] > 1:
        return None
    arg_types = [v.type for v in op.data_operands]
    if len(arg_types) != len(body.args) or len(arg_types) != len(cond.args):
        return None
    elements = list(elements)
    for _ in range(MAX_WIDENINGS):
        trial, returned_elements = _trial(body, arg_types, batched, elements, infer, specializations)
        returned = data_result_types(trial)
        if len(returned) != len(arg_types):
            return None
        widened = [join_types(a, r) for a, r in zip(arg_types, returned)]
        widened_elements = [join_element_shapes(a, r) for a, r in zip(elements, returned_elements)]
        if widened == arg_types and widened_elements == elements:
            specializations.replace(body, trial)
            specializations.replace(cond, _trial(cond, arg_types, batched, elements, infer, specializations)[0])
            return arg_types, elements
        arg_types, elements = widened, widened_elements
    return None


def specialize_branches(op: TFNodeOp, specializations: Specializations, counts: Counter,
                        batched: Sequence[bool], elements: Sequence[Shape],
                        infer: InferFunction) -> tuple[list[Attribute], list[Shape]] | None:
    """Specialize an If's or Case's branches to their inputs (all operands but the first);
    returns the op's result types and list element shapes (joined over the branches)."""
    names = body_names(op)
    branches = [specializations.functions.get(name) for name in names]
    if not branches or any(b is None or counts[b.sym_name.data] > 1 for b in branches):
        return None
    arg_types = [v.type for v in op.data_operands[1:]]
    if any(len(b.args) != len(arg_types) for b in branches):
        return None
    results: list[Attribute] | None = None
    result_elements: list[Shape] = []
    for branch in branches:
        trial, returned_elements = _trial(branch, arg_types, batched[1:], elements[1:], infer, specializations)
        returned = data_result_types(trial)
        specializations.replace(branch, trial)
        if results is None:
            results, result_elements = returned, returned_elements
        else:
            results = [join_types(a, b) for a, b in zip(results, returned)]
            result_elements = [join_element_shapes(a, b) for a, b in zip(result_elements, returned_elements)]
    return (results, result_elements) if results is not None else None
