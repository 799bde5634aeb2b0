"""Which NeuronCore group each NeuronOp of a compiled SavedModel runs on: the original's
`set_core_binding` and `inspect_core_binding`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable

from google.protobuf import text_format

from backends.neuron.neuron_op import DEFAULT_MODEL_CONFIG, neuron_ops
from frontends.tensorflow.loader import read_saved_model_proto, saved_model_file
from nir.errors import NirInputError
from nir.report import info

# model_config's fifth entry names the NeuronCore group a NeuronOp runs on (-1: any); the
# first four are DEFAULT_MODEL_CONFIG's, filled in when a NeuronOp has fewer.
_CORE_GROUP_INDEX = 4


def set_core_binding(model_dir: str, index_list: Iterable[int]) -> None:
    """Bind the NeuronOps of a compiled SavedModel, in graph order, to NeuronCore groups: the
    i-th NeuronOp's `model_config[4]` becomes `index_list[i]` (extra NeuronOps keep theirs).
    As the original, this edits `model_dir/saved_model.pb` (or .pbtxt) in place; the new file replaces the
    old one whole, so an interrupted call leaves the old one."""
    proto = read_saved_model_proto(model_dir)
    nodes = [n for meta_graph in proto.meta_graphs for n in neuron_ops(meta_graph.graph_def)]
    defaults = [*DEFAULT_MODEL_CONFIG, -1]
    for node, index in zip(nodes, index_list):
        config = node.attr["model_config"].list.i
        config.extend(defaults[len(config):])
        config[_CORE_GROUP_INDEX] = _check_core_group(index)
    path = saved_model_file(model_dir)
    with tempfile.NamedTemporaryFile("wb", dir=model_dir, prefix=f".{os.path.basename(path)}.", delete=False) as f:
        # Written back in the form it was read: TensorFlow loads saved_model.pb before .pbtxt.
        f.write(text_format.MessageToBytes(proto) if path.endswith(".pbtxt") else proto.SerializeToString(deterministic=True))
    os.replace(f.name, path)


def _check_core_group(index) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or index < -1:
        raise NirInputError(f"a NeuronCore group index is an int >= -1 (-1: any group), got {index!r}")
    return index


def inspect_core_binding(model_dir: str) -> dict[str, int | None]:
    """Log, and return, the NeuronCore group each NeuronOp of a compiled SavedModel is bound
    to (None: not bound), by node name."""
    bindings = {}
    for meta_graph in read_saved_model_proto(model_dir).meta_graphs:
        for node in neuron_ops(meta_graph.graph_def):
            config = node.attr["model_config"].list.i
            index = config[_CORE_GROUP_INDEX] if len(config) > _CORE_GROUP_INDEX else -1
            bindings[node.name] = None if index < 0 else index
            if index < 0:
                info("subgraph %s does not bind to a NeuronCore Group", node.name)
            else:
                info("subgraph %s binds to NeuronCore Group index %d", node.name, index)
    return bindings
