"""The xDSL context nir parses with: builtin, func, tf (ops made on demand) and neuron."""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.context import Context
from xdsl.dialects.builtin import Builtin
from xdsl.dialects.func import Func
from xdsl.ir import Operation

from nir.ir.neuron_dialect import NEURON
from nir.ir.tf_dialect import TF, tf_op_class


class NirContext(Context):
    """A Context that knows every `tf.<OpType>` without a registered class per op type."""

    def get_optional_op(
        self, name: str, *, dialect_stack: Sequence[str] = ()
    ) -> type[Operation] | None:
        if name.startswith("tf.") and len(name) > 3:
            return tf_op_class(name[3:])
        return super().get_optional_op(name, dialect_stack=dialect_stack)

    def clone(self) -> NirContext:
        base = super().clone()
        clone = NirContext.__new__(NirContext)
        clone.__dict__.update(base.__dict__)
        return clone


def make_context() -> NirContext:
    ctx = NirContext()
    for dialect in (Builtin, Func, TF, NEURON):
        ctx.load_dialect(dialect)
    return ctx
