"""What nir knows about TensorFlow op types: their OpDef signatures and nir's own facts.

Two sources, one answer per op type:

- **TensorFlow's OpDefs**: whether an op type is registered, is stateful, which inputs,
  outputs and attributes it has. When TensorFlow is already loaded (any compile), its live
  registry answers, which also knows custom ops a user loaded; otherwise a snapshot of
  TensorFlow's registry shipped with nir (`tf_op_facts.json`, regenerated with
  `python -m nir.ir.op_facts --write`) does, so `nir opt` never pays TensorFlow's start-up of
  seconds. Plug-ins declare op types neither knows with `declare_op_type`.
- **nir's facts** (`NIR_FACTS`), which no OpDef states: which ops forward their input unchanged
  (`forwarding`), cost nothing at run time (`free`), read only their input's shape
  (`metadata`), or stand for the graph's inputs and outputs (`graph-boundary`).

An op type nobody knows counts as stateful, so nothing removes it; the verifier rejects it.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from dataclasses import dataclass, field
from importlib import resources

FACTS_FILE = "tf_op_facts.json"

FORWARDING = "forwarding"
FREE = "free"
METADATA = "metadata"
GRAPH_BOUNDARY = "graph-boundary"

NIR_FACTS: dict[str, frozenset[str]] = {
    "Identity": frozenset({FORWARDING, FREE}),
    "Snapshot": frozenset({FORWARDING, FREE}),
    "StopGradient": frozenset({FORWARDING, FREE}),
    "PreventGradient": frozenset({FORWARDING, FREE}),
    "NoOp": frozenset({FREE}),
    "Shape": frozenset({METADATA}),
    "ShapeN": frozenset({METADATA}),
    "Size": frozenset({METADATA}),
    "Rank": frozenset({METADATA}),
    "Placeholder": frozenset({GRAPH_BOUNDARY}),
    "PlaceholderWithDefault": frozenset({GRAPH_BOUNDARY}),
    "IdentityN": frozenset({FORWARDING, GRAPH_BOUNDARY}),
}

# TF1 loops (v1 control flow): these ops make a loop's frame, and the loop closes its cycle by
# design through a back edge, a Merge reading the NextIteration of the loop's body.
LOOP_MERGE_OPS = frozenset({"Merge", "RefMerge"})
LOOP_NEXT_ITERATION_OPS = frozenset({"NextIteration", "RefNextIteration"})
V1_LOOP_OPS = LOOP_MERGE_OPS | LOOP_NEXT_ITERATION_OPS | frozenset({
    "Enter", "RefEnter", "Switch", "RefSwitch", "LoopCond", "Exit", "RefExit",
})


def is_loop_back_edge(user_type: str, source_type: str) -> bool:
    """Whether an input of a `user_type` op from a `source_type` op is a TF1 loop's back edge."""
    return user_type in LOOP_MERGE_OPS and source_type in LOOP_NEXT_ITERATION_OPS


def op_types_with(fact: str) -> frozenset[str]:
    return frozenset(op for op, facts in NIR_FACTS.items() if fact in facts)


@dataclass(frozen=True)
class ArgDef:
    """One input or output of an OpDef: a fixed dtype (`dtype`, "DT_FLOAT") or the attribute
    holding it (`type_attr`), repeated `number_attr` times, or a list typed by `type_list_attr`."""

    name: str
    dtype: str = ""
    type_attr: str = ""
    number_attr: str = ""
    type_list_attr: str = ""
    is_ref: bool = False

    def encode(self) -> str:
        ref = "&" if self.is_ref else ""
        if self.type_list_attr:
            return f"{self.name}:{ref}[{self.type_list_attr}]"
        count = f"{self.number_attr}*" if self.number_attr else ""
        kind = f"={self.dtype}" if self.dtype else self.type_attr
        return f"{self.name}:{ref}{count}{kind}"

    @staticmethod
    def decode(text: str) -> ArgDef:
        name, spec = text.split(":", 1)
        is_ref = spec.startswith("&")
        spec = spec.lstrip("&")
        if spec.startswith("["):
            return ArgDef(name, type_list_attr=spec[1:-1], is_ref=is_ref)
        number_attr, _, kind = spec.rpartition("*")
        if kind.startswith("="):
            return ArgDef(name, dtype=kind[1:], number_attr=number_attr, is_ref=is_ref)
        return ArgDef(name, type_attr=kind, number_attr=number_attr, is_ref=is_ref)


@dataclass(frozen=True)
class OpSignature:
    """What an OpDef says about an op type; `attrs` maps each attribute to (kind, has_default)."""

    name: str
    stateful: bool
    inputs: tuple[ArgDef, ...] = ()
    outputs: tuple[ArgDef, ...] = ()
    attrs: dict[str, tuple[str, bool]] = field(default_factory=dict)
    checked: bool = True  # False: declared by a plug-in without a signature; only its name is known
    # The OpDef's constraints on attribute values: a minimum (of an int, or of a list's length),
    # or the allowed values (strings, or dtype names such as "DT_FLOAT").
    minimums: dict[str, int] = field(default_factory=dict)
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def encode(self) -> list:
        row = [int(self.stateful), [a.encode() for a in self.inputs], [a.encode() for a in self.outputs],
               [f"{n}:{kind}{'=' if default else ''}" for n, (kind, default) in self.attrs.items()]]
        # Two maps, not one: an attribute can have both (DecodeCSV's OUT_TYPE, a list of at
        # least one of five dtypes).
        if self.minimums or self.allowed:
            return [*row, dict(self.minimums), {n: list(v) for n, v in self.allowed.items()}]
        return row

    @staticmethod
    def decode(name: str, row: list) -> OpSignature:
        attrs = {}
        for text in row[3]:
            attr, kind = text.split(":", 1)
            attrs[attr] = (kind.rstrip("="), kind.endswith("="))
        minimums, allowed = row[4:6] if len(row) > 4 else ({}, {})
        return OpSignature(name, bool(row[0]), tuple(map(ArgDef.decode, row[1])),
                           tuple(map(ArgDef.decode, row[2])), attrs, minimums=dict(minimums),
                           allowed={n: tuple(v) for n, v in allowed.items()})


def signature_of_op_def(op_def) -> OpSignature:
    """An OpSignature from a TensorFlow OpDef proto."""
    from tensorflow.core.framework import types_pb2

    def arg(a) -> ArgDef:
        dtype = types_pb2.DataType.Name(a.type) if a.type else ""
        return ArgDef(a.name, dtype, a.type_attr, a.number_attr, a.type_list_attr, a.is_ref)

    attrs = {a.name: (a.type, a.HasField("default_value")) for a in op_def.attr}
    minimums = {a.name: a.minimum for a in op_def.attr if a.has_minimum}
    allowed = {}
    for a in op_def.attr:
        values = a.allowed_values.list
        if values.s:
            allowed[a.name] = tuple(v.decode() for v in values.s)
        elif values.type:
            allowed[a.name] = tuple(types_pb2.DataType.Name(t) for t in values.type)
    return OpSignature(op_def.name, op_def.is_stateful, tuple(map(arg, op_def.input_arg)),
                       tuple(map(arg, op_def.output_arg)), attrs, minimums=minimums, allowed=allowed)


_DECLARED: dict[str, OpSignature] = {}


def declare_op_type(op_type: str, stateful: bool = True, signature: OpSignature | None = None) -> None:
    """Tell nir about an op type TensorFlow's registry does not have (a plug-in's custom op), so
    the verifier accepts it; with a `signature`, its inputs, outputs and attributes are checked."""
    _DECLARED[op_type] = signature or OpSignature(op_type, stateful, checked=False)
    _live_signature.cache_clear()


@functools.lru_cache(maxsize=1)
def _snapshot() -> dict[str, list]:
    return json.loads(resources.files("nir.ir").joinpath(FACTS_FILE).read_text())["ops"]


@functools.lru_cache(maxsize=None)
def _snapshot_signature(op_type: str) -> OpSignature | None:
    row = _snapshot().get(op_type)
    return None if row is None else OpSignature.decode(op_type, row)


@functools.lru_cache(maxsize=None)
def _live_signature(op_type: str) -> OpSignature | None:
    from tensorflow.python.framework import op_def_registry

    op_def = op_def_registry.get(op_type)
    return None if op_def is None else signature_of_op_def(op_def)


def known_op_types() -> frozenset[str]:
    """Every op type nir knows without TensorFlow: its snapshot of TensorFlow's OpDefs, and the
    op types plug-ins and backends declared."""
    return frozenset(_snapshot()) | frozenset(_DECLARED)


def op_signature(op_type: str) -> OpSignature | None:
    """The OpDef signature of `op_type`, or None if neither TensorFlow nor a plug-in declares it."""
    declared = _DECLARED.get(op_type)
    if declared is not None:
        return declared
    if "tensorflow" in sys.modules:
        return _live_signature(op_type)
    return _snapshot_signature(op_type)


def is_stateful(op_type: str) -> bool:
    """Whether ops of this type have side effects (variables, queues, prints, random ops) or
    are unknown: either way, passes must keep them."""
    signature = op_signature(op_type)
    return signature is None or signature.stateful


def write_snapshot(path: str) -> int:
    """Regenerate the snapshot from the installed TensorFlow's registry (all ops, internal
    ones such as `_FusedConv2D` included: Grappler-rewritten graphs carry them)."""
    import tensorflow as tf
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session as c_api

    op_list = op_def_pb2.OpList.FromString(c_api.TF_GetBuffer(c_api.TF_GetAllOpList()))
    ops = {op.name: signature_of_op_def(op).encode() for op in sorted(op_list.op, key=lambda o: o.name)}
    with open(path, "w") as f:
        f.write(json.dumps({"tensorflow": tf.__version__, "generated_by": "python -m nir.ir.op_facts --write"})[:-1])
        f.write(', "ops": {\n')
        f.write(",\n".join(f"{json.dumps(name)}: {json.dumps(row, separators=(',', ':'))}" for name, row in ops.items()))
        f.write("\n}}\n")
    return len(ops)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"regenerate {FACTS_FILE} from this TensorFlow")
    args = parser.parse_args(argv)
    if args.write:
        path = str(resources.files("nir.ir").joinpath(FACTS_FILE))
        print(f"wrote {path}: {write_snapshot(path)} op types")
    return 0


if __name__ == "__main__":
    sys.exit(main())
