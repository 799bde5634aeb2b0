"""Emit neuron-cc's inputs: one folder per NeuronOp in the compiler workdir
(backends/neuron/workdir.py has the layout).

    <workdir>/neuron_op_<hash>/graph_def.pb            the NeuronOp's embedded GraphDef
    <workdir>/neuron_op_<hash>/graph_def.io-config.json its inputs (shape, dtype) and outputs
    <workdir>/neuron_op_<hash>/command.sh               the exact neuron-cc command, runnable by hand
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from tensorflow.core.framework import graph_pb2, node_def_pb2

from backends.compile_jobs import EmittedCluster
from backends.neuron.neuron_op import neuron_ops
from backends.neuron.workdir import cluster_folder, write_command_script
from nir.ir.dtypes import dtype_name
from nir.target import Target


def io_config(node: node_def_pb2.NodeDef) -> dict:
    inputs = {}
    for name, dtype, shape in zip(
        node.attr["input_names"].list.s, node.attr["input_dtypes"].list.type, node.attr["input_shapes"].list.shape
    ):
        inputs[name.decode()] = [[d.size for d in shape.dim], dtype_name(dtype)]
    return {"inputs": inputs, "outputs": [n.decode() for n in node.attr["output_names"].list.s]}


def neuron_cc_command(neuron_cc: str, config: dict, compiler_args: Sequence[str], neff_file: str) -> tuple[str, ...]:
    return (
        neuron_cc, "compile", "graph_def.pb", "--framework", "TENSORFLOW",
        "--pipeline", "compile", "SaveTemps", "--output", neff_file,
        "--io-config", json.dumps(config, sort_keys=True), *compiler_args,
    )


def emit_clusters(
    graph_def: graph_pb2.GraphDef, workdir: str, neuron_cc: str, compiler_args: Sequence[str], target: Target
) -> list[EmittedCluster]:
    emitted = []
    for node in neuron_ops(graph_def):
        folder = cluster_folder(workdir, node)
        config = io_config(node)
        with open(os.path.join(folder, "graph_def.io-config.json"), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
        command = neuron_cc_command(neuron_cc, config, compiler_args, target.neff_file)
        write_command_script(folder, command, target.neff_file)
        emitted.append(EmittedCluster(node.name, folder, command, target.compiler, target.neff_file, target.log_file))
    return emitted
