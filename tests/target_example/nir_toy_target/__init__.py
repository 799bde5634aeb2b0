"""An example third-party target, `toy-chip`: a made-up accelerator whose compiler, `toy-cc`,
takes a cluster's GraphDef and writes `toy.neff`. Everything nir needs to know about it is
here; nir finds it through the `nir.targets` entry point in this package's pyproject.toml.

    nir compile model/ out/ --target toy-chip --neuron-cc /path/to/toy-cc
"""

from __future__ import annotations

from collections.abc import Sequence

from backends.compile_jobs import EmittedCluster
from backends.neuron.neuron_op import neuron_ops
from backends.neuron.workdir import cluster_folder, write_command_script
from nir.target import PlacementRules, Target, find_compiler

# The toy chip does dense layers and nothing else.
TOY_OPS = frozenset({"MatMul", "BiasAdd", "Relu", "AddV2", "Add", "Mul", "Identity", "Const"})


class ToyChipTarget(Target):
    """toy-chip: `toy-cc graph_def.pb --output toy.neff` per cluster."""

    rules = PlacementRules(
        never_on_target=frozenset({"NeuronOp"}),
        unsupported_dtypes=frozenset({"string", "resource", "variant"}),
    )
    neff_file = "toy.neff"
    compiler_name = "toy-cc"

    @classmethod
    def make(cls, name: str, compiler: str | None) -> Target:
        find_compiler(cls.compiler_name, compiler)  # a wrong path is an error now, not at emission
        return cls(name, TOY_OPS, "the toy chip's datasheet", compiler=cls.compiler_name)

    def emit(self, graph_def, workdir: str, compiler: str, compiler_args: Sequence[str]) -> list:
        emitted = []
        for node in neuron_ops(graph_def):
            folder = cluster_folder(workdir, node)
            command = (compiler, "graph_def.pb", "--output", self.neff_file, *compiler_args)
            write_command_script(folder, command, self.neff_file)
            emitted.append(EmittedCluster(node.name, folder, command, self.compiler, self.neff_file, self.log_file))
        return emitted
