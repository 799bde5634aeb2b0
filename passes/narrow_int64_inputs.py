"""tf-narrow-int64-inputs: int64 tensors that would enter a cluster, as int32 where they fit.

Inferentia's NeuronOps take no int64 inputs (the boundary rule cluster enforces), so the first
op on the accelerator that reads an int64 tensor made on CPU stays on CPU, and so does the
cluster's start. A text model's token ids are such a tensor: its vocabulary lookup gives int64,
and the embedding after it (with the bounds check Keras puts in front) never reaches the
cluster. Where the IR proves the values fit in int32 (`nir.ir.value_ranges`: ids from a table
filled from constants, padding from constants, choices between them), this pass puts a Cast to
int32 on CPU after the producer and a Cast back to int64 in front of the readers legalize
placed on the target. The int32 tensor crosses; the widening Cast joins the cluster. Exact:
every value fits, so both casts give it back unchanged.

It runs after legalize (it needs the placement) and before cluster. A value whose range is not
proved (a graph input of ids, a computed index) is left: cluster keeps it on CPU as before, and
`nir explain` says "i64 tensor entering its cluster".
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, BoolAttr, IntegerType, ModuleOp, i64
from xdsl.ir import Attribute, OpResult, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from nir.ir.attr_names import BATCH_AXES, ON_TARGET, PROVEN_BATCH_AXES
from nir.ir.control_flow import graph_functions
from nir.ir.queries import graph_ops, is_on_target, mark_on_target, set_cpu_reason
from nir.ir.shapes import element_type, tensor_type, tf_shape
from nir.ir.tf_dialect import TFNodeOp, create_tf_op
from nir.ir.value_ranges import fits, integer_range
from nir.passmanager.registry import register_pass
from nir.target import placement_rules

I32 = IntegerType(32)


@register_pass
@dataclass(frozen=True)
class NarrowInt64InputsPass(ModulePass):
    """Send int64 tensors whose values fit in int32 into clusters as int32."""

    name = "tf-narrow-int64-inputs"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in graph_functions(op):
            for value, readers in _int64_values_entering_the_target(fn).items():
                bounds = integer_range(value)
                if fits(bounds, I32):
                    _narrow(value, readers, bounds)


def _int64_values_entering_the_target(fn) -> dict[SSAValue, list[TFNodeOp]]:
    """Each int64 tensor made off the target (on CPU, or a function's argument) and read by ops
    on a target that forbids int64 at a cluster's boundary, with those readers in block order."""
    entering: dict[SSAValue, list[TFNodeOp]] = {}
    for reader in graph_ops(fn):
        if not is_on_target(reader) or i64 not in placement_rules(reader.properties[ON_TARGET].data).boundary_forbidden:
            continue
        for value in reader.data_operands:
            if element_type(value.type) == i64 and not (isinstance(value.owner, TFNodeOp) and is_on_target(value.owner)):
                readers = entering.setdefault(value, [])
                if reader not in readers:
                    readers.append(reader)
    return entering


def _narrow(value: SSAValue, readers: list[TFNodeOp], bounds: tuple[int, int]) -> None:
    name = value.owner.node_name if isinstance(value.owner, TFNodeOp) else readers[0].node_name
    suffix = "" if not isinstance(value, OpResult) or value.index == 0 else f"_{value.index}"
    narrow = _cast(f"{name}/int32{suffix}", value, I32)
    wide = _cast(f"{name}/int64{suffix}", narrow.data_results[0], i64)
    # In front of the first reader (readers come in block order), not behind the producer:
    # CPU ops in between (the rest of a tokenizer) would stand between the widening Cast and
    # its readers in the block clustering walks.
    Rewriter.insert_op([narrow, wide], InsertPoint.before(readers[0]))
    for cast in (narrow, wide):
        _copy_batch_facts(value, cast)
    set_cpu_reason(narrow, f"i64 tensor entering its cluster: narrowed to int32 here, its values lie in "
                           f"[{bounds[0]}, {bounds[1]}]")
    mark_on_target(wide, readers[0].properties[ON_TARGET].data)
    targets = set(readers)
    value.replace_uses_with_if(wide.data_results[0], lambda use: use.operation in targets)


def _cast(name: str, x: SSAValue, to: Attribute) -> TFNodeOp:
    return create_tf_op("Cast", name, [x], [tensor_type(to, tf_shape(x.type))],
                        {"SrcT": element_type(x.type), "DstT": to, "Truncate": BoolAttr.from_bool(False)})


def _copy_batch_facts(value: SSAValue, cast: TFNodeOp) -> None:
    """The casts hold the same tensor, so what shape inference and prove-batch-axes found for
    it holds for them: a dynamic-batch NeuronOp's inputs need the proof."""
    if not isinstance(value, OpResult):
        return
    for key in (BATCH_AXES, PROVEN_BATCH_AXES):
        axes = value.op.properties.get(key)
        if isinstance(axes, ArrayAttr) and value.index < len(axes.data):
            cast.properties[key] = ArrayAttr([axes.data[value.index]])

