"""nir's dialects and passes in xDSL's own tools: `xdsl-opt` finds them through xDSL's plug-in
mechanism (the `xdsl.universe` entry point in nir's pyproject.toml).

    xdsl-opt model.mlir -p tf-legalize,tf-cluster,tf-dce

nir's own context makes a `tf.<OpType>` op class on first sight of the op type; xdsl-opt's
context only knows the classes a dialect lists, so the tf dialect it loads lists one class per
op type nir knows (TensorFlow's OpDefs as of nir's snapshot, and what plug-ins declared). The
passes are every `nir.passes` entry point, nir's and plug-ins', loaded when xdsl-opt asks for
one. Their tf- prefix keeps them from colliding with xDSL's own passes (dce, canonicalize).
"""

from __future__ import annotations

from importlib.metadata import entry_points

from xdsl.ir import Dialect
from xdsl.universe import Universe

from nir.ir.neuron_dialect import NEURON
from nir.ir.op_facts import known_op_types
from nir.ir.tf_dialect import TF, tf_op_class
from nir.passmanager import ENTRY_POINT_GROUP, available_passes


def tf_dialect_with_every_op() -> Dialect:
    ops = [tf_op_class(op_type) for op_type in sorted(known_op_types())]
    return Dialect(TF.name, ops, list(TF.attributes))


def _pass_loader(name: str):
    return lambda: available_passes()[name]


NIR_UNIVERSE = Universe(
    all_dialects={"tf": tf_dialect_with_every_op, "neuron": lambda: NEURON},
    all_passes={entry.name: _pass_loader(entry.name) for entry in entry_points(group=ENTRY_POINT_GROUP)},
)
