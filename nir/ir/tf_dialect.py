"""The tf dialect: one IR op per TensorFlow node, printed with its TF op type.

Op classes are made on demand, one per TF op type (`tf.Conv2D`, `tf.MatMul`, ...), all sharing
`TFNodeOp`: TensorFlow has ~1,500 op types and custom ones appear in user models, so they are
neither hand-written nor all generated up front. An op carries

- its data inputs, then its control inputs (values of type `!tf.control`) as operands;
- its data outputs, then one `!tf.control` token as results;
- the node's name (and device, when set) as properties;
- the node's TF attributes, converted to IR attributes, as attributes;
- traits: `NoMemoryEffect` when TensorFlow's OpDef says the op type is not stateful (so xDSL's
  dead-code elimination and `is_side_effect_free` work on TF ops), and one trait per nir fact
  of `nir.ir.op_facts.NIR_FACTS` (`ForwardsInput`, `Free`, `MetadataOnly`, `GraphBoundary`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from xdsl.dialects.builtin import StringAttr
from xdsl.ir import Attribute, Dialect, Operation, SSAValue
from xdsl.irdl import traits_def
from xdsl.traits import NoMemoryEffect, OpTrait
from xdsl.utils.exceptions import VerifyException

from nir.ir import op_facts
from nir.ir.tf_attrs import FuncAttr, ListAttr, PlaceholderAttr, ShapeAttr, TensorAttr
from nir.ir.tf_types import ControlType, OpaqueDType

CONTROL = ControlType()
NODE_NAME = "node_name"
DEVICE = "device"


class ForwardsInput(OpTrait):
    """Each data output is the same-numbered data input, unchanged (Identity, Snapshot, ...)."""


class Free(OpTrait):
    """Computes nothing at run time; does not count towards a cluster's size."""


class MetadataOnly(OpTrait):
    """Reads only its input's shape, never its values (Shape, Size, Rank)."""


class GraphBoundary(OpTrait):
    """Stands for the graph's inputs or outputs (Placeholder, the signature's IdentityN)."""


FACT_TRAITS: dict[str, type[OpTrait]] = {
    op_facts.FORWARDING: ForwardsInput,
    op_facts.FREE: Free,
    op_facts.METADATA: MetadataOnly,
    op_facts.GRAPH_BOUNDARY: GraphBoundary,
}


def traits_of(op_type: str):
    traits = [FACT_TRAITS[fact]() for fact in sorted(op_facts.NIR_FACTS.get(op_type, ()))]
    if not op_facts.is_stateful(op_type):
        traits.append(NoMemoryEffect())
    return traits_def(*traits)


class TFNodeOp(Operation):
    """A TensorFlow node. Subclasses differ only in `name` (`tf.<OpType>`)."""

    name = "tf.node"
    traits = traits_def()

    @classmethod
    def has_trait(cls, trait, *, value_if_unregistered: bool = True) -> bool:
        # Passes ask per op and xDSL's lookup scans the trait list: remember the answer per class.
        key = (cls, trait)
        answer = _HAS_TRAIT.get(key)
        if answer is None:
            answer = _HAS_TRAIT[key] = super().has_trait(trait, value_if_unregistered=value_if_unregistered)
        return answer

    @property
    def tf_type(self) -> str:
        return self.name[3:]

    @property
    def node_name(self) -> str:
        return self.properties[NODE_NAME].data  # type: ignore[union-attr]

    @node_name.setter
    def node_name(self, value: str) -> None:
        self.properties[NODE_NAME] = StringAttr(value)

    @property
    def device(self) -> str:
        device = self.properties.get(DEVICE)
        return device.data if isinstance(device, StringAttr) else ""

    @property
    def data_operands(self) -> Sequence[SSAValue]:
        return [v for v in self.operands if not isinstance(v.type, ControlType)]

    @property
    def control_operands(self) -> Sequence[SSAValue]:
        return [v for v in self.operands if isinstance(v.type, ControlType)]

    @property
    def data_results(self) -> Sequence[SSAValue]:
        return self.results[:-1]

    @property
    def control(self) -> SSAValue:
        return self.results[-1]

    def verify_(self) -> None:
        if not isinstance(self.properties.get(NODE_NAME), StringAttr):
            raise VerifyException(f"{self.name} needs a string property '{NODE_NAME}'")
        if not self.results or not isinstance(self.results[-1].type, ControlType):
            raise VerifyException(f"{self.name}: last result must be a !tf.control token")
        if any(isinstance(r.type, ControlType) for r in self.results[:-1]):
            raise VerifyException(f"{self.name}: only the last result may be !tf.control")
        seen_control = False
        for operand in self.operands:
            is_control = isinstance(operand.type, ControlType)
            if seen_control and not is_control:
                raise VerifyException(
                    f"{self.name} '{self.node_name}': data operands must precede control operands"
                )
            seen_control |= is_control


_OP_CLASSES: dict[str, type[TFNodeOp]] = {}
_HAS_TRAIT: dict[tuple, bool] = {}


def tf_op_class(op_type: str) -> type[TFNodeOp]:
    """The IR op class of a TF op type, made the first time it is asked for."""
    cls = _OP_CLASSES.get(op_type)
    if cls is None:
        cls = type(f"TF_{op_type}", (TFNodeOp,), {"name": f"tf.{op_type}", "traits": traits_of(op_type)})
        _OP_CLASSES[op_type] = cls
    return cls


_NAME_HINT_BAD = re.compile(r"[^A-Za-z0-9_$.\-]")


def name_hint(node_name: str) -> str:
    """The SSA name a node's values print with: its node name, `/` spelled `.` (an SSA name
    cannot hold `/`), other characters it cannot hold replaced."""
    hint = _NAME_HINT_BAD.sub("_", node_name.replace("/", "."))
    return hint if hint[:1].isalpha() or hint[:1] == "_" else "v" + hint


def node_name_of_hint(hint: str) -> str:
    """The node name an SSA name stands for when a dump leaves `node_name` out."""
    return hint.replace(".", "/")


def naming_value(op: TFNodeOp) -> SSAValue:
    """The value whose SSA name is the op's name in the text: its first data result, or the
    control token of an op without data results."""
    return op.results[0]


def create_tf_op(
    op_type: str,
    node_name: str,
    data_operands: Sequence[SSAValue],
    result_types: Sequence[Attribute],
    tf_attrs: Mapping[str, Attribute] | None = None,
    control_operands: Sequence[SSAValue] = (),
    device: str = "",
) -> TFNodeOp:
    """Build a tf op; the control token result is added here, never by callers. Its values are
    named after the node (`%block.conv`, `%block.conv_c` for the token; `%deps` for an op whose
    only value is its token), so a dump's names do not shift when an unrelated op comes or goes."""
    properties: dict[str, Attribute] = {NODE_NAME: StringAttr(node_name)}
    if device:
        properties[DEVICE] = StringAttr(device)
    op = tf_op_class(op_type).create(
        operands=[*data_operands, *control_operands],
        result_types=[*result_types, CONTROL],
        properties=properties,
        attributes=dict(tf_attrs or {}),
    )
    name_values_after_node(op)
    return op


def name_values_after_node(op: TFNodeOp) -> None:
    """Give the op's values the SSA name hints of its node name, as a dump spells them, so what
    the IR prints (the names of a cluster's results among them) does not depend on whether the
    op was parsed from a dump or made by a pass (a clone keeps its original's hints)."""
    hint = name_hint(op.node_name)
    for result in op.results[:-1]:
        result.name_hint = hint
    op.results[-1].name_hint = hint + "_c" if len(op.results) > 1 else hint


def replace_tf_op(old: TFNodeOp, new: TFNodeOp, kept_results: Sequence[int] | None = None) -> TFNodeOp:
    """Put `new` where `old` is: it takes over the uses of old's data results (all, or those at
    `kept_results`, which must be unused otherwise) and of its control token; `old` goes."""
    old.parent.insert_op_before(new, old)
    indices = range(len(old.data_results)) if kept_results is None else kept_results
    for new_index, old_index in enumerate(indices):
        old.data_results[old_index].replace_all_uses_with(new.data_results[new_index])
    old.control.replace_all_uses_with(new.control)
    old.detach()
    old.erase()
    return new


TF = Dialect(
    "tf",
    [],
    [ControlType, OpaqueDType, TensorAttr, ShapeAttr, FuncAttr, PlaceholderAttr, ListAttr],
)
