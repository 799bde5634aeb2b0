"""Emit neuronx-cc's inputs: one folder per NeuronOp in the compiler workdir.

    <workdir>/neuron_op_<hash>/graph_def.pb          the NeuronOp's embedded GraphDef (as for inf1)
    <workdir>/neuron_op_<hash>/model.hlo_module.pb   the cluster lowered by tf2xla (HloModuleProto)
    <workdir>/neuron_op_<hash>/model.hlo.txt         the same HLO as text, for reading
    <workdir>/neuron_op_<hash>/command.sh            the exact neuronx-cc command, runnable by hand

The HLO's parameters are the NeuronOp's inputs in order; its constants are the cluster's weights.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from tensorflow.core.framework import graph_pb2

from backends.compile_jobs import EmittedCluster
from backends.neuron.neuron_op import canonical_cluster_graph, neuron_ops
from backends.neuron.workdir import cluster_folder, write_command_script
from backends.neuronx.hlo_signature import check_hlo_signature
from backends.neuronx.lowering import LoweringError, lower_cluster
from frontends.tensorflow.weights import embedded_graph
from nir.target import Target

logger = logging.getLogger("nir")
HLO_FILE = "model.hlo_module.pb"
HLO_TEXT_FILE = "model.hlo.txt"


def neuronx_cc_command(compiler: str, target: Target, compiler_args: Sequence[str]) -> tuple[str, ...]:
    return (
        compiler, "compile", HLO_FILE, "--framework", "XLA", "--target", target.compiler_target,
        "--output", target.neff_file, *compiler_args,
    )


def lowered_node(node) -> tuple[bytes, tuple[str, ...], tuple[str, ...]]:
    """A NeuronOp's cluster in the canonical form `lower-clusters` lowered (so the cache hits)."""
    inner = embedded_graph(node)
    return canonical_cluster_graph(
        inner, [n.decode() for n in node.attr["input_names"].list.s], [n.decode() for n in node.attr["output_names"].list.s]
    )


def emit_hlo_clusters(
    graph_def: graph_pb2.GraphDef, workdir: str, compiler: str, compiler_args: Sequence[str], target: Target
) -> list[EmittedCluster]:
    emitted = []
    for node in neuron_ops(graph_def):
        folder = cluster_folder(workdir, node)
        graph, inputs, outputs = lowered_node(node)
        try:
            lowered = lower_cluster(graph, inputs, outputs)
        except LoweringError as err:
            # Only a pipeline without lower-clusters gets here: the cluster stays on CPU.
            logger.warning("cluster %s stays on CPU: tf2xla cannot lower it: %s", node.name, err.message)
            continue
        check_hlo_signature(node, lowered.hlo_module)
        with open(os.path.join(folder, HLO_FILE), "wb") as f:
            f.write(lowered.hlo_module)
        with open(os.path.join(folder, HLO_TEXT_FILE), "w") as f:
            f.write(lowered.text)
        command = neuronx_cc_command(compiler, target, compiler_args)
        write_command_script(folder, command, target.neff_file)
        emitted.append(EmittedCluster(node.name, folder, command, target.compiler, target.neff_file, target.log_file,
                                      inputs=(HLO_FILE,)))
    return emitted
