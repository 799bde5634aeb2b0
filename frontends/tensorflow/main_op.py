"""The SavedModel's main op (lookup tables' initializers) and its assets survive a compile.

A model with a `StringLookup` or `TextVectorization` layer fills its tables in the op the
SavedModel loader runs once after restoring variables (TF2's `__saved_model_init_op`
signature, TF1's `saved_model_main_op` collection). The loader keeps that op's subgraph, but the
passes see only a NoOp nothing reads and remove it, keeping the stateful initializers it ran.
After export, `restore_main_op` puts the op back under its name, waiting on those initializers,
and the writer names it in both places, so TensorFlow's loaders (v1 and v2) run it.

A table filled from a vocabulary file reads the file's path from a string tensor the loader
feeds with the file's place in the SavedModel's assets/ (`asset_file_def`, or TF1's
`saved_model_assets` collection). `asset_files` lists them on the way in; `attach_assets`
copies each file into the output's assets/ and names its tensor again, when the tensor is still
in the compiled graph.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace

from frontends.tensorflow.importer import split_tensor_name
from nir.errors import NirInputError

INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"
MAIN_OP_COLLECTIONS = ("saved_model_main_op", "legacy_init_op")
ASSETS_COLLECTION = "saved_model_assets"  # TF1's place for AssetFileDefs
ASSETS_DIRECTORY = "assets"


def asset_files(meta_graph, model_dir: str) -> tuple[tuple[str, str], ...]:
    """(tensor name, absolute path) of each asset file of the MetaGraphDef that exists."""
    from tensorflow.core.protobuf import meta_graph_pb2

    definitions = list(meta_graph.asset_file_def)
    if not definitions and ASSETS_COLLECTION in meta_graph.collection_def:
        for packed in meta_graph.collection_def[ASSETS_COLLECTION].any_list.value:
            definition = meta_graph_pb2.AssetFileDef()
            packed.Unpack(definition)
            definitions.append(definition)
    folder = os.path.join(os.path.abspath(model_dir), ASSETS_DIRECTORY)
    found = ((d.tensor_info.name, os.path.join(folder, d.filename)) for d in definitions)
    return tuple(sorted((tensor, path) for tensor, path in found if os.path.isfile(path)))


def attach_assets(export_dir: str, graph_def, assets, meta_graph) -> None:
    """Copy the asset files whose tensors `graph_def` still holds into `export_dir/assets` and
    name them in `meta_graph.asset_file_def`, so the loaders feed their new paths."""
    present = {n.name for n in graph_def.node}
    for tensor, path in assets:
        if split_tensor_name(tensor)[0] not in present:
            continue  # nothing reads the file any more
        if not os.path.isfile(path):
            raise NirInputError(
                f"the asset file '{path}' the compiled model reads (through '{tensor}') is gone; "
                "put it back where the input SavedModel had it and run again"
            )
        os.makedirs(os.path.join(export_dir, ASSETS_DIRECTORY), exist_ok=True)
        shutil.copyfile(path, os.path.join(export_dir, ASSETS_DIRECTORY, os.path.basename(path)))
        definition = meta_graph.asset_file_def.add(filename=os.path.basename(path))
        definition.tensor_info.name = tensor


def restore_main_op(graph_def, signature, loaded_graph_def):
    """Add the main op `signature.init_op` to `graph_def` if the passes removed it: a NoOp with
    a control input on each stateful op of its original subgraph that is still there. A main op
    that runs nothing (every Keras export has one) is dropped. Returns the signature."""
    from tensorflow.python.framework import op_def_registry

    if not signature.init_op or any(n.name == signature.init_op for n in graph_def.node):
        return signature
    present = {n.name for n in graph_def.node}
    effects = []
    for node in _subgraph_of(signature.init_op, loaded_graph_def):
        op_def = op_def_registry.get(node.op)
        if node.name in present and op_def is not None and op_def.is_stateful:
            effects.append(node.name)
    if not effects:
        return replace(signature, init_op=None)
    main_op = graph_def.node.add()
    main_op.name, main_op.op = signature.init_op, "NoOp"
    main_op.input.extend(f"^{name}" for name in sorted(effects))
    return signature


def _subgraph_of(name: str, graph_def):
    """The nodes `name` depends on (data or control), itself included."""
    nodes = {n.name: n for n in graph_def.node}
    seen, stack = set(), [name]
    while stack:
        current = stack.pop()
        if current in seen or current not in nodes:
            continue
        seen.add(current)
        yield nodes[current]
        stack.extend(split_tensor_name(i.lstrip("^"))[0] for i in nodes[current].input)
