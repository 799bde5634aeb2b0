"""The Inferentia (inf1) target: neuron-cc takes each cluster's GraphDef.

Which TensorFlow ops neuron-cc accepts comes from `neuron-cc list-operators --framework
TENSORFLOW` when neuron-cc is installed (the compiler is the authority), else from the table
shipped with nir, rebuilt from the Neuron release notes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from importlib import resources

from backends.neuron.rules import NEURON_RULES
from nir.ir.op_facts import declare_op_type, op_signature
from nir.target import Target, find_compiler, list_operators


class InferentiaTarget(Target):
    """inf1: neuron-cc compiles each cluster's GraphDef into graph_def.neff."""

    rules = NEURON_RULES
    neff_file = "graph_def.neff"
    compiler_name = "neuron-cc"

    @classmethod
    def make(cls, name: str, compiler: str | None) -> Target:
        path = find_neuron_cc(compiler)
        if path is None:
            return cls(name, _shipped_ops(), "nir's shipped table (neuron-cc not installed)")
        # Keyed by the file's mtime too: a neuron-cc upgraded in place may support other ops.
        return _listed_target(cls, name, path, os.stat(path).st_mtime_ns)

    def emit(self, graph_def, workdir: str, compiler: str, compiler_args: Sequence[str]) -> list:
        # Imported here: emission loads TensorFlow, which registering the target must not.
        from backends.inferentia.emit import emit_clusters

        return emit_clusters(graph_def, workdir, compiler, compiler_args, self)


def find_neuron_cc(explicit: str | None = None) -> str | None:
    return find_compiler("neuron-cc", explicit)


def _shipped_ops() -> frozenset[str]:
    text = resources.files("backends.inferentia").joinpath("tensorflow_ops.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


@functools.lru_cache(maxsize=8)
def _listed_target(cls: type[InferentiaTarget], name: str, path: str, mtime_ns: int) -> Target:
    ops = list_operators(path, "TENSORFLOW")
    if ops is None:
        return cls(name, _shipped_ops(), f"nir's shipped table ('{path} list-operators' failed)")
    return cls(name, ops, f"{path} list-operators")


# A compiled model's fused op; its full OpDef is declared when backends.neuron.neuron_op loads
# (which may have happened first: then that declaration stands).
if op_signature("NeuronOp") is None:
    declare_op_type("NeuronOp", stateful=True)
