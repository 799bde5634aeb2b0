"""The Inferentia target: which TensorFlow ops neuron-cc accepts, and under what constraints.

The op table comes from `neuron-cc list-operators --framework TENSORFLOW` when neuron-cc is
installed (the compiler is the authority), else from the table shipped with nir, rebuilt from
the Neuron release notes.
"""

from __future__ import annotations

import functools
import os
from importlib import resources

from xdsl.dialects.builtin import Float64Type, IntegerType

from nir.ir.op_facts import declare_op_type, op_signature
from nir.target import PlacementRules, Target, find_compiler, list_operators, register_target

NEURON_RULES = PlacementRules(
    # A model compiled before: its NeuronOps cannot be nested into new ones.
    never_on_target=frozenset({"NeuronOp"}),
    # No Neuron compiler takes these anywhere in a cluster.
    unsupported_dtypes=frozenset({"string", "resource", "variant"}),
    # The runtime does not move 64-bit tensors between host and device.
    boundary_forbidden=frozenset({IntegerType(64), Float64Type()}),
)


def find_neuron_cc(explicit: str | None = None) -> str | None:
    return find_compiler("neuron-cc", explicit)


def _shipped_ops() -> frozenset[str]:
    text = resources.files("backends.inferentia").joinpath("tensorflow_ops.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def inferentia_target(neuron_cc: str | None = None) -> Target:
    path = find_neuron_cc(neuron_cc)
    if path is None:
        return Target("inferentia", _shipped_ops(), "nir's shipped table (neuron-cc not installed)")
    # Keyed by the file's mtime too: a neuron-cc upgraded in place may support other ops.
    return _listed_target(path, os.stat(path).st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _listed_target(path: str, mtime_ns: int) -> Target:
    ops = list_operators(path, "TENSORFLOW")
    if ops is None:
        return Target("inferentia", _shipped_ops(), f"nir's shipped table ('{path} list-operators' failed)")
    return Target("inferentia", ops, f"{path} list-operators")


register_target("inferentia", inferentia_target, rules=NEURON_RULES)
# A compiled model's fused op; its full OpDef is declared when backends.inferentia.neuron_op loads
# (which may have happened first: then that declaration stands).
if op_signature("NeuronOp") is None:
    declare_op_type("NeuronOp", stateful=True)
