"""SavedModel -> one frozen, flat GraphDef plus the chosen signature.

TF1 and TF2 SavedModels go down one path: import the MetaGraphDef into a v1 graph, inline every
function call with Grappler's function optimizer (functional control flow -- While, If and
their stateless forms -- keeps its body functions), then replace every variable the signature
reads by a Const. The Consts hold no weights: each names its value's key in the SavedModel's
checkpoint, and the importer reads the values one at a time (see checkpoint.py), so the
weights are never all in one GraphDef, never past protobuf's 2 GiB, and in memory once.

A model whose restore op nir cannot follow is frozen as the original tensorflow-neuron froze
it: variables restored into a v1 Session and copied into the Consts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from frontends.tensorflow.attrs import shape_proto_to_dims
from frontends.tensorflow.checkpoint import (
    CHECKPOINT_KEY_ATTR,
    CheckpointWeights,
    NotFollowable,
    checkpoint_prefix,
    freeze_without_weights,
    variable_keys,
)
from frontends.tensorflow.importer import SignatureInfo, TensorSpec, split_tensor_name
from frontends.tensorflow.main_op import INIT_OP_SIGNATURE_KEY, MAIN_OP_COLLECTIONS, asset_files
from frontends.tensorflow.object_graph import has_object_graph
from frontends.tensorflow.opdefs import node_output_dtypes
from nir.errors import NirInputError
from nir.ir.names import unique_name

logger = logging.getLogger("nir")

_FUNCTIONAL_CONTROL_FLOW = ("While", "StatelessWhile", "If", "StatelessIf", "Case", "StatelessCase")


@dataclass(frozen=True)
class LoadedModel:
    graph_def: object  # graph_pb2.GraphDef, frozen and inlined
    signature: object  # importer.SignatureInfo
    num_session_ops: int  # nodes in the graph as loaded, the seed's first count
    weights: Callable[[str], object] | None = None  # checkpoint key -> value, for weightless Consts
    # Signature key -> the tensor name the input had before the graph was cut there (an input
    # at port k > 0, say `identity_n1:2`, is fed through a Placeholder of another name).
    fed_tensors: Mapping[str, str] = field(default_factory=dict)


def saved_model_file(model_dir: str) -> str:
    """The file holding `model_dir`'s SavedModel protobuf: saved_model.pb, else the text form
    saved_model.pbtxt (TensorFlow's loader takes either, the binary first)."""
    if not os.path.exists(model_dir):
        raise NirInputError(f"model_dir '{model_dir}' does not exist; pass the directory that holds saved_model.pb")
    if not os.path.isdir(model_dir):
        raise NirInputError(f"model_dir '{model_dir}' is not a directory; pass the SavedModel directory, not a file in it")
    for name in ("saved_model.pb", "saved_model.pbtxt"):
        if os.path.isfile(os.path.join(model_dir, name)):
            return os.path.join(model_dir, name)
    raise NirInputError(
        f"'{model_dir}' has no saved_model.pb (nor saved_model.pbtxt), so it is not a SavedModel directory; "
        "export one with tf.saved_model.save or keras Model.export"
    )


def read_saved_model_proto(model_dir: str):
    """The SavedModel protobuf of `model_dir`, with errors that say what is wrong."""
    from google.protobuf import text_format
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    path = saved_model_file(model_dir)
    proto = saved_model_pb2.SavedModel()
    if path.endswith(".pbtxt"):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        try:
            text_format.Parse(text, proto)
        except text_format.ParseError as err:
            raise NirInputError(f"'{path}' is not a SavedModel in protobuf's text format ({err}); re-export the "
                                "SavedModel") from None
    else:
        with open(path, "rb") as f:
            data = f.read()
        try:
            proto.ParseFromString(data)
        except DecodeError as err:
            raise NirInputError(
                f"'{path}' is truncated or corrupt ({err}); re-export the SavedModel"
            ) from None
    if not proto.meta_graphs:
        raise NirInputError(f"'{path}' holds no MetaGraphDef; re-export the SavedModel")
    return proto


def choose_tags(proto, tags: Iterable[str] | str | None) -> tuple[str, ...]:
    available = [tuple(mg.meta_info_def.tags) for mg in proto.meta_graphs]
    if tags is None:
        for tag_set in available:
            if set(tag_set) == {"serve"}:
                return tag_set
        if len(available) > 1:
            logger.warning("SavedModel has several tag sets %s; using the first", available)
        return available[0]
    wanted = {t.strip() for t in tags.split(",")} if isinstance(tags, str) else set(tags)
    for tag_set in available:
        if set(tag_set) == wanted:
            return tag_set
    raise NirInputError(
        f"the SavedModel has no MetaGraphDef with tags {sorted(wanted)}; "
        f"available tag sets: {[sorted(t) for t in available]}"
    )


def choose_signature_key(meta_graph, signature_def_key: str | None) -> str:
    # Sorted: a protobuf map's order differs from one process to the next, and the original's
    # "first key found" then picked a different signature on each run.
    keys = sorted(k for k in meta_graph.signature_def if not k.startswith("__"))
    if signature_def_key is None:
        if "serving_default" in meta_graph.signature_def:
            return "serving_default"
        if not keys:
            raise NirInputError(
                "the MetaGraphDef has no signature_def; save the model with a signature "
                "(tf.saved_model.save(..., signatures=...))"
            )
        if len(keys) > 1:
            logger.warning("no 'serving_default' signature; using '%s' of %s", keys[0], keys)
        return keys[0]
    if signature_def_key not in meta_graph.signature_def:
        raise NirInputError(
            f"signature_def_key '{signature_def_key}' does not exist; available: {keys}"
        )
    return signature_def_key


def meta_graph_with_tags(proto, tags: tuple[str, ...]):
    """The MetaGraphDef of `proto` tagged `tags` (as choose_tags gives them)."""
    for mg in proto.meta_graphs:
        if tuple(mg.meta_info_def.tags) == tags:
            return mg
    raise AssertionError(tags)


def signature_info(meta_graph, key: str, tags: tuple[str, ...]):
    sig = meta_graph.signature_def[key]

    def specs(entries: Mapping) -> tuple[TensorSpec, ...]:
        out = []
        for name in sorted(entries):
            info = entries[name]
            if not info.name:
                raise NirInputError(
                    f"signature '{key}' entry '{name}' is a composite or sparse tensor; nir "
                    "handles dense tensors only"
                )
            out.append(TensorSpec(name, info.name, info.dtype, shape_proto_to_dims(info.tensor_shape)))
        return tuple(out)

    inputs, outputs = specs(sig.inputs), specs(sig.outputs)
    if not outputs:
        raise NirInputError(f"signature '{key}' has no outputs; there is nothing to compile")
    if not inputs:
        raise NirInputError(
            f"signature '{key}' has no inputs, so the model computes a constant and there is "
            "nothing to compile; choose a signature that takes inputs (signature_def_key=...)"
        )
    return SignatureInfo(key, inputs, outputs, sig.method_name or "tensorflow/serving/predict", tags)


def main_op_name(meta_graph) -> str | None:
    """The node a SavedModel loader runs after restoring variables: TF2's init-op signature,
    else TF1's main op (or legacy init op) collection."""
    if INIT_OP_SIGNATURE_KEY in meta_graph.signature_def:
        outputs = meta_graph.signature_def[INIT_OP_SIGNATURE_KEY].outputs
        if INIT_OP_SIGNATURE_KEY in outputs:
            return split_tensor_name(outputs[INIT_OP_SIGNATURE_KEY].name.lstrip("^"))[0]
    for collection in MAIN_OP_COLLECTIONS:
        nodes = meta_graph.collection_def[collection].node_list.value if collection in meta_graph.collection_def else []
        if nodes:
            return split_tensor_name(nodes[0].lstrip("^"))[0]
    return None


def keep_functional_control_flow(graph_def) -> None:
    """Ask Grappler not to lower While/If to Switch/Merge, so loops keep their bodies."""
    def mark(nodes) -> None:
        for node in nodes:
            if node.op in _FUNCTIONAL_CONTROL_FLOW:
                node.attr["_lower_using_switch_merge"].b = False

    mark(graph_def.node)
    for function in graph_def.library.function:
        mark(function.node_def)


def inline_function_calls(graph_def, graph, output_names: list[str]):
    """Inline every (Stateful)PartitionedCall with Grappler's function optimizer."""
    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2, meta_graph_pb2, rewriter_config_pb2
    from tensorflow.python.grappler import tf_optimizer

    meta_graph = tf.compat.v1.train.export_meta_graph(graph_def=graph_def, graph=graph)
    fetch = meta_graph_pb2.CollectionDef()
    fetch.node_list.value.extend(output_names)
    meta_graph.collection_def["train_op"].CopyFrom(fetch)
    config = config_pb2.ConfigProto()
    rewrite = config.graph_options.rewrite_options
    rewrite.min_graph_nodes = -1
    rewrite.optimizers.append("function")
    rewrite.function_optimization = rewriter_config_pb2.RewriterConfig.AGGRESSIVE
    return tf_optimizer.OptimizeGraph(config, meta_graph)


def with_shapes(graph_def):
    """The GraphDef as TensorFlow imports it, with `_output_shapes` on every node."""
    import tensorflow as tf

    # Shapes recorded before freezing can be stale (a resource input became a tensor).
    for node in graph_def.node:
        if "_output_shapes" in node.attr:
            del node.attr["_output_shapes"]
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    return graph.as_graph_def(add_shapes=True)


def restore_pruned_inputs(frozen, original, signature) -> None:
    """Signature inputs no output reads are pruned by freezing; the signature still has them."""
    present = {n.name for n in frozen.node}
    originals = {n.name: n for n in original.node}
    for spec in signature.inputs:
        name = split_tensor_name(spec.tensor_name)[0]
        if name not in present and name in originals:
            frozen.node.add().CopyFrom(originals[name])


def cut_at_signature_inputs(graph_def, signature):
    """A signature may feed any tensor, not only a Placeholder (a Session feeds an Identity's or
    a mid-graph op's output as well): the graph is cut there, as the original cuts it. A fed
    single-output node becomes a Placeholder of its own name; another fed tensor gets a new
    Placeholder, `<node>/nir_input_<port>`, which its readers read instead. What then feeds
    nothing the outputs need is pruned. Returns (graph_def, signature)."""
    import tensorflow as tf
    from tensorflow.core.framework import node_def_pb2


    nodes = {n.name: n for n in graph_def.node}
    library = {f.signature.name: f for f in graph_def.library.function}
    specs, cut = [], False
    for spec in signature.inputs:
        name, port = split_tensor_name(spec.tensor_name)
        node = nodes.get(name)
        if node is None or node.op in ("Placeholder", "PlaceholderWithDefault"):
            specs.append(spec)
            continue
        cut = True
        placeholder = node_def_pb2.NodeDef(name=name, op="Placeholder")
        placeholder.attr["dtype"].type = spec.dtype
        if spec.shape is not None:
            placeholder.attr["shape"].shape.CopyFrom(tf.TensorShape([None if d < 0 else d for d in spec.shape]).as_proto())
        else:
            placeholder.attr["shape"].shape.unknown_rank = True
        if port == 0 and len(node_output_dtypes(node, library)) == 1:
            node.CopyFrom(placeholder)
            specs.append(spec)
            continue
        placeholder.name = unique_name(f"{name}/nir_input_{port}", set(nodes))
        nodes[placeholder.name] = graph_def.node.add()
        nodes[placeholder.name].CopyFrom(placeholder)
        _rewire(graph_def, {spec.tensor_name, name} if port == 0 else {spec.tensor_name}, placeholder.name)
        specs.append(replace(spec, tensor_name=f"{placeholder.name}:0"))
    if not cut:
        return graph_def, signature
    signature = replace(signature, inputs=tuple(specs))
    keep = sorted({split_tensor_name(s.tensor_name)[0] for s in (*signature.inputs, *signature.outputs)}
                  | ({signature.init_op} if signature.init_op else set()))
    return tf.compat.v1.graph_util.extract_sub_graph(graph_def, keep), signature


def renamed_inputs(before, after) -> dict[str, str]:
    """Signature key -> the input's tensor name in `before`, where `after` names it otherwise."""
    names = {spec.key: spec.tensor_name for spec in before.inputs}
    return {spec.key: names[spec.key] for spec in after.inputs if names.get(spec.key, spec.tensor_name) != spec.tensor_name}


def _rewire(graph_def, old_names: set[str], new: str) -> None:
    for node in graph_def.node:
        if any(i in old_names for i in node.input):
            inputs = [new if i in old_names else i for i in node.input]
            del node.input[:]
            node.input.extend(inputs)


def load_saved_model(
    model_dir: str,
    tags: Iterable[str] | str | None = None,
    signature_def_key: str | None = None,
) -> LoadedModel:
    proto = read_saved_model_proto(model_dir)
    chosen_tags = choose_tags(proto, tags)
    meta_graph = meta_graph_with_tags(proto, chosen_tags)
    key = choose_signature_key(meta_graph, signature_def_key)
    signature = replace(
        signature_info(meta_graph, key, chosen_tags), init_op=main_op_name(meta_graph),
        object_graph_from=os.path.abspath(model_dir) if has_object_graph(meta_graph) else None,
        assets=asset_files(meta_graph, model_dir),
    )
    # The main op's subgraph (table initializers) is kept, frozen and inlined with the rest.
    output_nodes = sorted({split_tensor_name(s.tensor_name)[0] for s in signature.outputs}
                          | ({signature.init_op} if signature.init_op else set()))
    try:
        keys = variable_keys(meta_graph)
    except NotFollowable as err:
        keys = None
        logger.info("variables restored through a Session: %s", err)

    import tensorflow as tf
    from tensorflow.python.util import deprecation

    graph = tf.Graph()
    with graph.as_default(), deprecation.silence():
        if keys is not None:
            try:  # what SavedModelLoader.load_graph does, on the MetaGraphDef read above
                tf.compat.v1.train.import_meta_graph(meta_graph)
            except (tf.errors.OpError, ValueError, OSError) as err:
                raise _load_error(model_dir, chosen_tags, err) from None
            graph_def = graph.as_graph_def()
            keep_functional_control_flow(graph_def)
            inlined = inline_function_calls(graph_def, graph, output_nodes)
            try:
                frozen = freeze_without_weights(inlined, output_nodes, keys)
            except NotFollowable as err:
                logger.info("variables restored through a Session: %s", err)
            else:
                weights = CheckpointWeights(checkpoint_prefix(model_dir)) if _reads_weights(frozen) else None
                restore_pruned_inputs(frozen, graph_def, signature)
                frozen, cut = cut_at_signature_inputs(frozen, signature)
                return LoadedModel(with_shapes(frozen), cut, len(graph_def.node), weights, renamed_inputs(signature, cut))
    return _load_through_session(model_dir, chosen_tags, signature, output_nodes)


def _load_error(model_dir: str, tags, err: Exception) -> NirInputError:
    return NirInputError(
        f"TensorFlow could not load '{model_dir}' (tags {list(tags)}): {str(err).splitlines()[0]}; "
        "check that saved_model.pb and the variables/ directory are complete"
    )


def _reads_weights(graph_def) -> bool:
    return any(CHECKPOINT_KEY_ATTR in n.attr for n in graph_def.node)


def _load_through_session(model_dir: str, chosen_tags, signature, output_nodes: list[str]) -> LoadedModel:
    """The original's way: restore every variable into a Session and copy them into Consts."""
    import tensorflow as tf
    from tensorflow.python.framework import convert_to_constants
    from tensorflow.python.util import deprecation

    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session, deprecation.silence():
        try:
            tf.compat.v1.saved_model.loader.load(session, list(chosen_tags), model_dir)
        except (tf.errors.OpError, ValueError, OSError) as err:
            raise _load_error(model_dir, chosen_tags, err) from None
        graph_def = graph.as_graph_def()
        num_session_ops = len(graph_def.node)
        keep_functional_control_flow(graph_def)
        inlined = inline_function_calls(graph_def, graph, output_nodes)
        frozen = convert_to_constants.convert_variables_to_constants_from_session_graph(
            session, inlined, output_nodes
        )
    restore_pruned_inputs(frozen, graph_def, signature)
    frozen, cut = cut_at_signature_inputs(frozen, signature)
    return LoadedModel(with_shapes(frozen), cut, num_session_ops, fed_tensors=renamed_inputs(signature, cut))
