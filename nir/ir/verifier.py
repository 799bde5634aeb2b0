"""A verifier that knows TensorFlow: what a module must satisfy for its GraphDef to load and run.

xDSL's own verifier checks the structure (operand and result types of the dialect ops, regions,
terminators). TensorFlow refuses more than that, and only when the SavedModel is loaded: so the
pass manager runs this verifier after every pass, and a pass that breaks a rule is named at
once. Each rule has a name that errors print:

- `registered-op`: the op type is in TensorFlow's OpDef registry, a function of the module, or
  declared by a plug-in (`nir.ir.op_facts.declare_op_type`);
- `required-attr`: every OpDef attribute without a default is present;
- `attr-kind`: attributes the OpDef declares hold the kind it says (type, int, list, ...);
- `arity`: as many data inputs and outputs as the OpDef gives for these attributes;
- `dtype`: each input and output has the element type its OpDef argument names;
- `unique-name`: node names are unique within a function (clusters included);
- `dominance`: a value is defined before it is used within a block (but for the back edge of a
  TF1 loop, NextIteration into Merge);
- `shape`: result types agree with what the op's shape function derives from its operands, and
  the operands agree with each other (a Conv2D filter matching the input's depth);
- `call-arity`: an op that runs functions (While's body and cond, If's and Case's branches, a
  PartitionedCall's `f`, a node calling a library function by name) passes each as many
  arguments as it takes and gets back as many results as the op gives;
- `call-types`: and with the same element types, in order;
- `structure`: what xDSL's own verifiers check (a function's type against its arguments and
  returns, terminators, the types a dialect op declares);
- `arg-attrs`: a function has one entry of argument (and result) attributes per argument (and
  result), or none: the printer and the exporter would drop an argument without one.

Ops in functions other than the ones the graph runs are checked the same way: TensorFlow loads
every function of the library.

The per-op rules depend only on the op's operands, their types, its result types, its
attributes, the payloads of the constants it reads and the signatures of the functions it
runs, so an op that passed them keeps a stamp of those and is not checked again while they are
the same: after a pass that touched 10 ops of 50,000, 10 are checked (the whole
module took 2.2 s per pass on the 50k-op benchmark graph, the stamps take 0.2 s).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from xdsl.dialects import func
from xdsl.dialects.builtin import (
    BytesAttr,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
)
from xdsl.ir import Attribute, Block, Operation, TypeAttribute
from xdsl.utils.exceptions import VerifyException

from nir.ir.control_flow import CALL_OPS, CASE_OPS, IF_OPS, WHILE_OPS, body_names, data_returns
from nir.ir.dtypes import ir_type_of_dtype_name, is_ref_type
from nir.ir.op_facts import ArgDef, OpSignature, is_loop_back_edge, op_signature
from nir.ir.queries import const_value
from nir.ir.shape_functions import MAX_VALUE_ELEMENTS, SHAPE_FUNCTIONS, ShapeMismatchError, shape_text
from nir.ir.shapes import element_type, tf_shape
from nir.ir.tf_attrs import FuncAttr, ListAttr, PlaceholderAttr, ShapeAttr, TensorAttr
from nir.ir.tf_dialect import TFNodeOp
from nir.target import load_targets


class TFVerifyError(VerifyException):
    """A rule of TensorFlow's broken by one op; `rule` and `node` say which and where."""

    def __init__(self, rule: str, node: str, message: str):
        super().__init__(f"[{rule}] node '{node}': {message}")
        self.rule = rule
        self.node = node


def verify_tf_module(module: ModuleOp, checked: list[TFNodeOp] | None = None) -> None:
    """Raise for the first op that breaks a rule: xDSL's structural checks (each op's own
    verifier, reported as the `structure` rule), then the rules above. `checked` receives the
    TF ops checked anew (made or changed since their last check)."""
    check_structure(module)
    functions = {fn.sym_name.data: fn for fn in module.ops if isinstance(fn, func.FuncOp)}
    # Signatures first: the calls' rules below read them.
    for fn in functions.values():
        if fn.body.blocks:
            check_arg_attrs(fn)
    for fn in module.ops:
        check_structure(fn)
        if isinstance(fn, func.FuncOp) and fn.body.blocks:
            verify_function(fn, functions, checked)
        else:
            check_structure(fn, nested=True)


def check_structure(op: Operation, nested: bool = False) -> None:
    """xDSL's own verifier of the op (a function's type against its arguments, a terminator,
    operand types the dialect declares), its error named as a rule like the others."""
    try:
        op.verify(verify_nested_ops=nested)
    except TFVerifyError:
        raise
    except VerifyException as err:
        raise TFVerifyError("structure", _name(op), str(err).strip()) from None


def verify_function(fn: func.FuncOp, functions: dict[str, func.FuncOp], checked: list[TFNodeOp] | None = None) -> None:
    seen: dict[str, TFNodeOp] = {}
    for block in _blocks_of(fn):
        check_dominance(block)
        if block.last_op is not None:  # whether it may end the block depends on its place, not on itself
            check_structure(block.last_op)
    for op in fn.walk():
        if op is fn:
            continue
        if not isinstance(op, TFNodeOp):
            check_structure(op)
            continue
        if op.node_name in seen:
            raise TFVerifyError("unique-name", op.node_name, f"a second {op.name} has the name of a {seen[op.node_name].name}")
        seen[op.node_name] = op
        stamp = _stamp(op, functions)
        if getattr(op, _STAMP, None) != stamp:
            check_structure(op)
            verify_tf_op(op, functions)
            setattr(op, _STAMP, stamp)
            if checked is not None:
                checked.append(op)


_STAMP = "_nir_verified"


def _stamp(op: TFNodeOp, functions: dict[str, func.FuncOp]) -> tuple:
    """What the verifiers read of an op, except its properties: placement marks change on every
    op in legalize, and names are checked for all ops anyway. The operand and result tuples are
    replaced, never changed in place, when a value changes, and equal tuples compare by identity
    first, so an unchanged op costs one tuple build. A constant operand's payload is part of it
    (a pass may give the Const a new value in place), and so are the signatures of the
    functions a call or control-flow op runs."""
    # Comparing op names, not tf_type: this runs for every op after every pass.
    payloads = tuple(v.owner.attributes.get("value") for v in op.operands if getattr(v.owner, "name", None) == "tf.Const")
    callees = ()
    if op.name in _CALLING_OPS or op.name[3:] in functions:
        callees = tuple(functions[name].function_type for name in _callees(op, functions) if name in functions)
    return (op._operands, op.results, tuple(r.type for r in op.results), tuple(op.attributes.items()),  # noqa: SLF001
            payloads, callees)


def _callees(op: TFNodeOp, functions: dict[str, func.FuncOp]) -> list[str]:
    return [op.tf_type] if op.tf_type in functions else body_names(op)


_CALLING_OPS = frozenset(f"tf.{t}" for t in CALL_OPS | WHILE_OPS | IF_OPS | CASE_OPS)


def check_arg_attrs(fn: func.FuncOp) -> None:
    """One attribute dictionary per argument and per result, or none at all."""
    name = fn.sym_name.data
    args, results = len(fn.body.block.args), len(fn.function_type.outputs.data)
    if fn.arg_attrs is not None and len(fn.arg_attrs.data) != args:
        raise TFVerifyError("arg-attrs", name, f"function @{name} has {args} arguments but "
                            f"{len(fn.arg_attrs.data)} argument attribute entries; give the new argument its own")
    if fn.res_attrs is not None and len(fn.res_attrs.data) != results:
        raise TFVerifyError("arg-attrs", name, f"function @{name} has {results} results but "
                            f"{len(fn.res_attrs.data)} result attribute entries")


def check_call_arity(op: TFNodeOp, functions: dict[str, func.FuncOp]) -> None:
    """Each function the op runs takes what the op passes and gives what the op returns. A
    function the module lacks is another rule's concern (a call left for inline-calls to
    report)."""
    inputs, outputs = len(op.data_operands), len(op.data_results)
    if op.tf_type in WHILE_OPS:
        body, cond = op.attributes.get("body"), op.attributes.get("cond")
        # (function, arguments it takes, results it gives, whether those are the op's results)
        expected = [(body, inputs, inputs, True), (cond, inputs, 1, False)]
        if outputs != inputs:
            raise TFVerifyError("call-arity", op.node_name, f"{op.tf_type} takes {inputs} loop variables but gives {outputs}")
    elif op.tf_type in IF_OPS:
        expected = [(op.attributes.get(k), inputs - 1, outputs, True) for k in ("then_branch", "else_branch")]
    elif op.tf_type in CASE_OPS:
        branches = op.attributes.get("branches")
        items = branches.items.data if isinstance(branches, ListAttr) else ()
        expected = [(b, inputs - 1, outputs, True) for b in items]
    elif op.tf_type in CALL_OPS:
        expected = [(op.attributes.get("f"), inputs, outputs, True)]
    elif op.tf_type in functions:
        expected = [(op.tf_type, inputs, outputs, True)]
    else:
        return
    for callee, takes, gives, gives_op_results in expected:
        name = callee.function_name if isinstance(callee, FuncAttr) else callee
        fn = functions.get(name) if isinstance(name, str) else None
        if fn is None or not fn.body.blocks:
            continue
        args, results = len(fn.body.block.args), len(data_returns(fn))
        if args != takes:
            raise TFVerifyError("call-arity", op.node_name,
                                f"{op.tf_type} passes {takes} arguments to @{name}, which takes {args}")
        if results != gives:
            raise TFVerifyError("call-arity", op.node_name,
                                f"@{name} returns {results} values where {op.tf_type} needs {gives}")
        passed = op.data_operands[len(op.data_operands) - takes:]
        check_call_types(op, name, "argument", [v.type for v in passed], [a.type for a in fn.body.block.args])
        if gives_op_results:
            check_call_types(op, name, "result", [r.type for r in data_returns(fn)], [r.type for r in op.data_results])


def check_call_types(op: TFNodeOp, name: str, what: str, given: list[Attribute], taken: list[Attribute]) -> None:
    """Element types must match across a call (TensorFlow's MLIR verifier compares them; ref
    variables read as their plain dtype)."""
    for index, (a, b) in enumerate(zip(given, taken)):
        have, want = _dereferenced(element_type(a)), _dereferenced(element_type(b))
        if have != want:
            raise TFVerifyError("call-types", op.node_name,
                                f"{what} {index} of {op.tf_type}'s call of @{name} is {have} on one side and {want} "
                                "on the other")


def _blocks_of(op: Operation) -> Iterator[Block]:
    for region in op.regions:
        for block in region.blocks:
            yield block
            for inner in block.ops:
                yield from _blocks_of(inner)


def _is_loop_back_edge(user: Operation, owner: Operation) -> bool:
    return is_loop_back_edge(getattr(user, "tf_type", ""), getattr(owner, "tf_type", ""))


def check_dominance(block: Block) -> None:
    position = {op: i for i, op in enumerate(block.ops)}
    for i, op in enumerate(block.ops):
        for operand in op.operands:
            owner = operand.owner
            if isinstance(owner, Operation) and position.get(owner, -1) >= i and not _is_loop_back_edge(op, owner):
                raise TFVerifyError("dominance", _name(op),
                                    f"uses a result of '{_name(owner)}', which comes later in the block")


def _name(op: Operation) -> str:
    if isinstance(op, TFNodeOp):
        return op.node_name
    if isinstance(op, func.FuncOp):
        return "@" + op.sym_name.data
    fn = op.parent_op()
    while fn is not None and not isinstance(fn, func.FuncOp):
        fn = fn.parent_op()
    return op.name if fn is None else f"{op.name} in @{fn.sym_name.data}"


def verify_tf_op(op: TFNodeOp, functions: dict[str, func.FuncOp]) -> None:
    check_call_arity(op, functions)
    signature = op_signature(op.tf_type)
    if signature is None and op.tf_type not in functions:
        load_targets()  # backends declare the op types they introduce when they register
        signature = op_signature(op.tf_type)
    if signature is None:
        if op.tf_type in functions:
            return  # a call of a library function by its name
        raise TFVerifyError("registered-op", op.node_name,
                            f"op type '{op.tf_type}' is not registered in TensorFlow (declare a plug-in's own op "
                            "type with nir.ir.op_facts.declare_op_type)")
    if not signature.checked:
        return
    check_attrs(op, signature)
    check_args(op, signature.inputs, [v.type for v in op.data_operands], "input")
    check_args(op, signature.outputs, [v.type for v in op.data_results], "output")
    check_shapes(op)


_KINDS: dict[str, tuple[type[Attribute], ...]] = {
    "type": (TypeAttribute,),
    "int": (IntegerAttr,),
    "float": (FloatAttr,),
    "bool": (IntegerAttr,),
    "string": (StringAttr, BytesAttr),
    "shape": (ShapeAttr,),
    "tensor": (TensorAttr,),
    "func": (FuncAttr,),
}


def check_attrs(op: TFNodeOp, signature: OpSignature) -> None:
    for name, (kind, has_default) in signature.attrs.items():
        attr = op.attributes.get(name)
        if attr is None:
            if not has_default:
                raise TFVerifyError("required-attr", op.node_name,
                                    f"{op.tf_type} needs attribute '{name}' ({kind}), which is missing")
            continue
        if isinstance(attr, PlaceholderAttr) or (isinstance(attr, ListAttr) and not attr.items.data):
            continue  # a function's attr placeholder, or an empty value TensorFlow reads as any kind
        expected = (ListAttr,) if kind.startswith("list(") else _KINDS.get(kind, (Attribute,))
        if not isinstance(attr, expected) or (kind == "bool" and not _is_bool(attr)):
            raise TFVerifyError("attr-kind", op.node_name,
                                f"{op.tf_type} attribute '{name}' must be a {kind}, not {attr}")
        if name in signature.minimums or name in signature.allowed or name in _MLIR_MINIMUM_NAMES:
            check_attr_value(op, signature, name, attr)


def check_attr_value(op: TFNodeOp, signature: OpSignature, name: str, attr: Attribute) -> None:
    """The OpDef's own constraints (an int's or a list's minimum, a string's or a dtype's allowed
    values), and the few TensorFlow's MLIR verifier adds (`_MLIR_MINIMUMS`)."""
    minimum = signature.minimums.get(name)
    if minimum is None:
        minimum = _MLIR_MINIMUMS.get((op.tf_type, name))
    if minimum is not None:
        size = len(attr.items.data) if isinstance(attr, ListAttr) else getattr(getattr(attr, "value", None), "data", None)
        if isinstance(size, int) and size < minimum:
            what = "length" if isinstance(attr, ListAttr) else "value"
            raise TFVerifyError("attr-value", op.node_name,
                                f"{op.tf_type} attribute '{name}' has {what} {size}, less than its minimum {minimum}")
    allowed = signature.allowed.get(name)
    if allowed is None:
        return
    values = attr.items.data if isinstance(attr, ListAttr) else (attr,)
    for value in values:
        if isinstance(value, StringAttr):
            ok = value.data in allowed
        elif isinstance(value, TypeAttribute):
            ok = value in _allowed_types(op.tf_type, name)
        else:
            continue
        if not ok:
            spelled = value.data if isinstance(value, StringAttr) else str(value)
            raise TFVerifyError("attr-value", op.node_name,
                                f"{op.tf_type} attribute '{name}' is {spelled}, not one of {', '.join(allowed)}")


# TensorFlow's MLIR dialect refuses these though their OpDefs set no minimum.
_MLIR_MINIMUMS = {(t, "parallel_iterations"): 1 for t in WHILE_OPS}
_MLIR_MINIMUM_NAMES = frozenset(name for _, name in _MLIR_MINIMUMS)


@functools.cache
def _allowed_types(op_type: str, attr: str) -> frozenset[Attribute]:
    """The IR types an attribute allows, cached by op type and attribute name (hashing the
    list of names on every check cost the verifier about a tenth of its time)."""
    names = op_signature(op_type).allowed[attr]
    return frozenset(ir_type_of_dtype_name(n) for n in names if n.startswith("DT_"))


def _is_bool(attr: Attribute) -> bool:
    return isinstance(attr, IntegerAttr) and isinstance(attr.type, IntegerType) and attr.type.width.data == 1


def expand_args(op: TFNodeOp, args: tuple[ArgDef, ...]) -> list[Attribute | None] | None:
    """The element type each data input (or output) must have, in order (None: any); None if the
    count depends on an attribute that is a placeholder."""
    expected: list[Attribute | None] = []
    for arg in args:
        if arg.type_list_attr:
            types = op.attributes.get(arg.type_list_attr)
            if not isinstance(types, ListAttr):
                return None
            expected.extend(t if isinstance(t, TypeAttribute) else None for t in types.items.data)
            continue
        count = 1
        if arg.number_attr:
            number = op.attributes.get(arg.number_attr)
            if not isinstance(number, IntegerAttr):
                return None
            count = number.value.data
        if arg.dtype:
            dtype = ir_type_of_dtype_name(arg.dtype)
        else:
            attr = op.attributes.get(arg.type_attr)
            dtype = attr if isinstance(attr, TypeAttribute) else None
        expected.extend([None if arg.is_ref else dtype] * count)
    return expected


def check_args(op: TFNodeOp, args: tuple[ArgDef, ...], types: list[Attribute], what: str) -> None:
    expected = expand_args(op, args)
    if expected is None:
        return
    if len(expected) != len(types):
        raise TFVerifyError("arity", op.node_name,
                            f"{op.tf_type} takes {len(expected)} data {what}s with these attributes, it has {len(types)}")
    for index, (want, have) in enumerate(zip(expected, types)):
        dtype = _dereferenced(element_type(have))
        if want is not None and dtype != want:
            raise TFVerifyError("dtype", op.node_name, f"{what} {index} of {op.tf_type} is {dtype}, its OpDef says {want}")


def _dereferenced(dtype: Attribute) -> Attribute:
    """TF1 ref variables feed ops that take the plain dtype (TensorFlow reads them)."""
    if is_ref_type(dtype):
        return ir_type_of_dtype_name("DT_" + dtype.dtype.data[:-4].upper())
    return dtype


def check_shapes(op: TFNodeOp) -> None:
    shape_function = SHAPE_FUNCTIONS.get(op.tf_type)
    if shape_function is None or op.tf_type == "Const":
        return
    shapes = [tf_shape(v.type) for v in op.data_operands]
    values = [const_value(v, MAX_VALUE_ELEMENTS) for v in op.data_operands]
    try:
        inferred = shape_function(op, shapes, values)
    except ShapeMismatchError as err:
        raise TFVerifyError("shape", op.node_name, str(err)) from None
    except (ValueError, IndexError, TypeError, KeyError):
        return  # shape functions are written for valid graphs; other rules explain odd ones
    for index, (result, shape) in enumerate(zip(op.data_results, inferred or ())):
        declared = tf_shape(result.type)
        if not _compatible(declared, shape):
            raise TFVerifyError("shape", op.node_name,
                                f"result {index} is {result.type}, but its operands give shape {shape_text(shape, ', ')}")


def _compatible(a, b) -> bool:
    if a is None or b is None:
        return True
    return len(a) == len(b) and all(x < 0 or y < 0 or x == y for x, y in zip(a, b))

