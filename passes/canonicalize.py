"""canonicalize: fold Identity chains and evaluate ops on small constants.

Frozen Keras and tf.function graphs are full of Identity nodes left by function inlining
(ResNet50 exported by Keras 3 has ~1,600). They cost nothing at run time but make every dump
and every cluster boundary noisier, so readers of the IR get them removed first.

- An `Identity`/`Snapshot`/`StopGradient`/`PreventGradient` with no control edges is replaced
  by its input. Its node name disappears, which is harmless: signature outputs are found
  through the function's results, not by tensor name.
- An `IdentityN` forwards each input to the same-numbered output. TensorFlow puts one behind
  every custom-gradient op (Keras' swish/silu, some GELUs), so left in place it would cut the
  data path at every activation. Its readers inside the graph read its inputs instead; only
  its uses as the function's results stay, where it stands for the signature's outputs.
- A control edge from an op that neither has side effects nor (transitively) waits for one is
  dropped, as Grappler's dependency optimizer does: it orders nothing observable. Function
  inlining leaves such edges on every weight, and they would keep weights out of clusters.
- An op whose inputs are all small constants, and whose result shape arithmetic already knows
  (see `nir.ir.shape_functions`), becomes a Const.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, ModuleOp
from xdsl.passes import ModulePass

from nir.ir.op_facts import is_stateful
from nir.ir.shapes import tensor_type
from nir.ir.tf_attrs import TensorAttr
from nir.ir.tf_dialect import TFNodeOp, create_tf_op, replace_tf_op
from nir.passmanager.registry import register_pass
from nir.ir.queries import const_value
from nir.ir.module import entry_function
from passes.control_flow import CONTROL_RET, graph_functions, refresh_function_type
from passes.dce import remove_dead_ops
from nir.ir.shape_functions import MAX_VALUE_ELEMENTS, VALUE_FUNCTIONS

FORWARDING_OPS = frozenset({"Identity", "Snapshot", "StopGradient", "PreventGradient"})
_NOT_FOLDED = frozenset({"Const", "IdentityN", *FORWARDING_OPS})


def fold_forwarding_op(op: TFNodeOp) -> bool:
    if op.tf_type not in FORWARDING_OPS or op.control_operands or op.control.uses:
        return False
    (source,) = op.data_operands
    if source.type != op.data_results[0].type:
        return False  # keep ops that carry a more precise shape than their input
    op.data_results[0].replace_all_uses_with(source)
    return True


def forward_identity_n(op: TFNodeOp) -> bool:
    """Readers of an IdentityN's outputs, other than the function's return, read its inputs."""
    if op.tf_type != "IdentityN" or op.control_operands:
        return False
    changed = False
    for source, result in zip(op.data_operands, op.data_results):
        if source.type != result.type:
            continue
        inside = [use for use in result.uses if not isinstance(use.operation, func.ReturnOp)]
        result.replace_uses_with_if(source, lambda use: not isinstance(use.operation, func.ReturnOp))
        changed |= bool(inside)
    return changed


def fold_constant_op(op: TFNodeOp) -> bool:
    if op.tf_type in _NOT_FOLDED or op.control_operands or len(op.data_results) != 1:
        return False
    function = VALUE_FUNCTIONS.get(op.tf_type)
    if function is None or not op.data_operands:
        return False
    values = [const_value(v, MAX_VALUE_ELEMENTS) for v in op.data_operands]
    if any(v is None for v in values):
        return False
    from nir.ir.shapes import tf_shape

    value = function(op, values, [tf_shape(v.type) for v in op.data_operands])
    if value is None:
        return False
    result = op.data_results[0]
    value_type = tensor_type(result.type.element_type, value.shape)
    const = create_tf_op("Const", op.node_name, [], [value_type], {
        "dtype": result.type.element_type,
        "value": TensorAttr.from_numpy(value, value_type),
    }, device=op.device)
    replace_tf_op(op, const)
    return True


def drop_pure_control_returns(fn: func.FuncOp, orders_effects: dict) -> None:
    """A control-flow body's control returns that name side-effect-free ops order nothing:
    tf.function lists every variable read there, and the control use would keep those reads
    (which freezing turned into Identity ops on weights) out of the body's clusters.
    `orders_effects` is what drop_pure_control_edges found for the body's ops."""
    ret = fn.body.block.last_op
    if fn.res_attrs is None:
        return
    kept_values, kept_attrs = [], []
    for value, attrs in zip(ret.operands, fn.res_attrs.data):
        if CONTROL_RET in attrs.data and not orders_effects.get(value.owner, True):
            continue
        kept_values.append(value)
        kept_attrs.append(attrs)
    if len(kept_values) != len(ret.operands):
        ret.operands = kept_values
        fn.res_attrs = ArrayAttr(kept_attrs) if kept_attrs else None
        refresh_function_type(fn)


def drop_pure_control_edges(block) -> dict:
    """Drops the control edges that order nothing; returns, for each op, whether it has a side
    effect or waits (through data or control) for one."""
    orders_effects: dict = {}
    for op in block.ops:
        if not isinstance(op, TFNodeOp):
            continue
        kept = [
            v for v in op.control_operands
            if not isinstance(v.owner, TFNodeOp) or orders_effects.get(v.owner, True)
        ]
        if len(kept) != len(op.control_operands):
            op.operands = [*op.data_operands, *kept]
        orders_effects[op] = is_stateful(op.tf_type) or any(
            orders_effects.get(v.owner, False) for v in op.operands
        )
    return orders_effects


@register_pass
@dataclass(frozen=True)
class CanonicalizePass(ModulePass):
    """Fold Identity chains and constant-fold small shape arithmetic, then drop dead ops."""

    name = "canonicalize"

    fold_constants: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        entry = entry_function(op)
        for fn in graph_functions(op):
            orders_effects = drop_pure_control_edges(fn.body.block)
            if fn is not entry:
                drop_pure_control_returns(fn, orders_effects)
            self.fold_block(fn.body.block)

    def fold_block(self, block) -> None:
        for graph_op in list(block.ops):
            if not isinstance(graph_op, TFNodeOp):
                continue
            if fold_forwarding_op(graph_op) or forward_identity_n(graph_op):
                continue
            if self.fold_constants:
                fold_constant_op(graph_op)
        remove_dead_ops(block)
