"""The compiler workdir every Neuron target writes: one folder per NeuronOp, named after it,
holding the cluster's GraphDef, the compiler's inputs and `command.sh` (the exact command,
runnable by hand); and at the top, `nir-graph.pb` and `nir-signature.json` (the whole model
with NeuronOps not yet compiled), from which `relift` builds the final SavedModel once NEFFs
exist.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Sequence
from dataclasses import asdict

from tensorflow.core.framework import graph_pb2, node_def_pb2

from frontends.tensorflow.importer import SignatureInfo, TensorSpec
from frontends.tensorflow.weights import embedded_graph_pieces, graph_pieces, write_pieces
from nir.errors import NirInputError

GRAPH_FILE = "nir-graph.pb"
SIGNATURE_FILE = "nir-signature.json"


def folder_name(node: node_def_pb2.NodeDef) -> str:
    return node.name.rpartition("/")[2]


def cluster_folder(workdir: str, node: node_def_pb2.NodeDef) -> str:
    """The NeuronOp's folder in the workdir, made, with the cluster's GraphDef in it."""
    folder = os.path.join(workdir, folder_name(node))
    os.makedirs(folder, exist_ok=True)
    # Written a piece at a time: a cluster's weights come from the compile's weight store as
    # views, never joined into one more copy (weights.py).
    write_pieces(os.path.join(folder, "graph_def.pb"), embedded_graph_pieces(node))
    return folder


def write_command_script(folder: str, command: Sequence[str], neff_file: str) -> None:
    path = os.path.join(folder, "command.sh")
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\n# Run in this folder; writes {neff_file}.\ncd \"$(dirname \"$0\")\"\n")
        f.write(shlex.join(command) + "\n")
    os.chmod(path, 0o755)


def save_workdir_model(workdir: str, graph_def: graph_pb2.GraphDef, signature, weights=None) -> None:
    """The whole model, weights in place (`weights`: the store `graph_def` refers to)."""
    write_pieces(os.path.join(workdir, GRAPH_FILE), graph_pieces(graph_def, weights))
    with open(os.path.join(workdir, SIGNATURE_FILE), "w") as f:
        json.dump(asdict(signature), f, indent=2, sort_keys=True)


def load_workdir_model(workdir: str):
    graph_path = os.path.join(workdir, GRAPH_FILE)
    if not os.path.isfile(graph_path):
        raise NirInputError(
            f"'{workdir}' is not a nir compiler workdir (no {GRAPH_FILE}); pass the "
            "compiler_workdir of an earlier nir compile"
        )
    graph_def = graph_pb2.GraphDef()
    with open(graph_path, "rb") as f:
        graph_def.ParseFromString(f.read())
    with open(os.path.join(workdir, SIGNATURE_FILE)) as f:
        raw = json.load(f)

    def specs(entries):
        return tuple(
            TensorSpec(e["key"], e["tensor_name"], e["dtype"], None if e["shape"] is None else tuple(e["shape"]))
            for e in entries
        )

    signature = SignatureInfo(
        raw["key"], specs(raw["inputs"]), specs(raw["outputs"]), raw["method_name"], tuple(raw["tags"]),
        raw.get("init_op"), raw.get("object_graph_from"), tuple(tuple(a) for a in raw.get("assets", ())),
    )
    return graph_def, signature
