"""GraphDef + one signature -> SavedModel directory, written atomically.

The graph's large constants become variables whose values go to variables/ (see
variables.py), so saved_model.pb holds the graph and the NeuronOps, not the CPU part's weights.
The write is all-or-nothing: everything goes to a fresh temporary directory beside the target,
which is renamed into place once complete.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator

from frontends.tensorflow.attrs import dims_to_shape_proto
from frontends.tensorflow.captured_weights import CannotCapture
from frontends.tensorflow.main_op import INIT_OP_SIGNATURE_KEY, MAIN_OP_COLLECTIONS, attach_assets
from frontends.tensorflow.object_graph import save_with_object_graph, take_payloads
from frontends.tensorflow.splice import can_splice, leaves_weights_on_cpu, splice_compiled_signature
from frontends.tensorflow.variables import CheckpointParts, add_saver, constants_to_variables, neuron_op_without_weights
from frontends.tensorflow.weights import (
    WeightStore,
    node_pieces,
    pieces_size,
    put_neuron_op_weights_in_place,
    release_weights_of,
)
from frontends.tensorflow.wire import varint
from nir.errors import NirError, NirInputError

logger = logging.getLogger("nir")
PROTOBUF_LIMIT = 2**31 - 1  # bytes; protobuf cannot serialize a larger message
# Keeping a TF2 input's object graph loads its weights and the compiled model's at once (TF2's
# saver needs them in memory); past this, nir writes a TF1-style SavedModel in bounded memory.
OBJECT_GRAPH_MAX_WEIGHT_BYTES = 1 << 30


class WriteError(NirError):
    """The output could not be written (disk full, permissions); nothing was left behind."""


def check_new_model_dir(new_model_dir: str, model_dir: str | None = None) -> str:
    """Refuse targets that exist, sit inside the input, or cannot be created."""
    target = os.path.abspath(new_model_dir)
    if model_dir is not None:
        source = os.path.realpath(model_dir)
        real_target = os.path.join(os.path.realpath(os.path.dirname(target)), os.path.basename(target))
        if real_target == source:
            raise NirInputError(
                f"new_model_dir '{new_model_dir}' is model_dir itself; nir never overwrites its "
                "input: choose another new_model_dir"
            )
        if real_target.startswith(source + os.sep):
            raise NirInputError(
                f"new_model_dir '{new_model_dir}' is inside model_dir '{model_dir}'; write the "
                "compiled model somewhere else so the input stays untouched"
            )
    if os.path.lexists(target):
        raise NirInputError(
            f"new_model_dir '{new_model_dir}' already exists; remove it or choose another path "
            "(nir never overwrites a directory)"
        )
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        raise NirInputError(
            f"the parent of new_model_dir '{new_model_dir}' does not exist; create '{parent}' first"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise NirInputError(
            f"cannot write into '{parent}' (permission denied); choose a writable new_model_dir"
        )
    return target


@contextlib.contextmanager
def atomic_directory(target: str) -> Iterator[str]:
    """Yield a path to fill; on success it becomes `target`, on any error nothing remains."""
    parent = os.path.dirname(os.path.abspath(target))
    try:
        staging = tempfile.mkdtemp(prefix="." + os.path.basename(target) + ".nir-tmp-", dir=parent)
    except OSError as err:
        raise WriteError(f"cannot create the output beside '{target}': {err}; choose a writable new_model_dir") from None
    try:
        inner = os.path.join(staging, "out")
        try:
            yield inner
            os.rename(inner, target)
        except OSError as err:
            raise WriteError(
                f"writing '{target}' failed ({err.strerror or err}); nothing was written. Free "
                "some space or choose another new_model_dir"
            ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def signature_def_of(signature):
    """A SignatureDef from nir's SignatureInfo (names, dtypes and shapes of each tensor)."""
    from tensorflow.core.protobuf import meta_graph_pb2


    sig = meta_graph_pb2.SignatureDef(method_name=signature.method_name)
    for entries, specs in ((sig.inputs, signature.inputs), (sig.outputs, signature.outputs)):
        for spec in specs:
            info = entries[spec.key]
            info.name = spec.tensor_name
            info.dtype = spec.dtype
            info.tensor_shape.CopyFrom(dims_to_shape_proto(spec.shape))
    return sig


def meta_graph_of(signature):
    """The MetaGraphDef around the graph: tags, TensorFlow's version, the signature."""
    import tensorflow as tf
    from tensorflow.core.protobuf import meta_graph_pb2

    meta_graph = meta_graph_pb2.MetaGraphDef()
    meta_graph.meta_info_def.tags.extend(signature.tags)
    meta_graph.meta_info_def.tensorflow_version = tf.__version__
    meta_graph.meta_info_def.tensorflow_git_version = tf.__git_version__
    meta_graph.signature_def[signature.key].CopyFrom(signature_def_of(signature))
    if signature.init_op:
        # Where TF2's loader and TF1's look for the op to run once after restoring variables.
        init = meta_graph.signature_def[INIT_OP_SIGNATURE_KEY]
        init.outputs[INIT_OP_SIGNATURE_KEY].name = signature.init_op
        meta_graph.collection_def[MAIN_OP_COLLECTIONS[0]].node_list.value.append(signature.init_op)
    return meta_graph


class _SavedModelPb:
    """saved_model.pb written a node at a time. Written directly rather than through
    TensorFlow's SavedModelBuilder, which must import the graph: stock TensorFlow cannot import
    a graph holding NeuronOps.

    A message's bytes are its fields' bytes one after another, in any order, so the SavedModel
    (field 2: meta_graphs) around the MetaGraphDef (field 2: graph_def) around the GraphDef
    (field 1: one entry per node) is framed by hand: a graph whose constants or NeuronOps hold
    the weights is never serialized whole, nor copied into a SavedModel message first."""

    def __init__(self, graph_def, meta_graph, light_neuron_ops: dict[str, bytes] | None = None,
                 weights: WeightStore | None = None):
        from tensorflow.core.framework import graph_pb2

        self.graph_def = graph_def
        self.light = light_neuron_ops or {}  # NeuronOps serialized without their weights
        self.weights = weights  # what the graph's references name (weights.py)
        self.node_sizes = [len(self.light[n.name]) if n.name in self.light else pieces_size(node_pieces(n, weights))
                           for n in graph_def.node]
        shell = graph_pb2.GraphDef()
        shell.versions.CopyFrom(graph_def.versions)
        shell.library.CopyFrom(graph_def.library)
        self.rest = shell.SerializeToString(deterministic=True)
        self.meta = meta_graph.SerializeToString(deterministic=True)
        self.graph_size = sum(1 + len(varint(n)) + n for n in self.node_sizes) + len(self.rest)
        self.graph_field = b"\x12" + varint(self.graph_size)
        meta_size = len(self.meta) + len(self.graph_field) + self.graph_size
        self.head = b"\x08\x01" + b"\x12" + varint(meta_size) + self.meta + self.graph_field

    @property
    def size(self) -> int:
        return len(self.head) + self.graph_size

    def pieces(self):
        yield self.head
        for node, size in zip(self.graph_def.node, self.node_sizes):
            yield b"\x0a" + varint(size)
            if node.name in self.light:
                yield self.light[node.name]
                continue
            yield from node_pieces(node, self.weights)
            if self.weights is not None:
                release_weights_of(node, self.weights)  # written: its bytes may go
        yield self.rest


def _embedded_bytes(graph_def, weights: WeightStore | None = None) -> int:
    """Bytes the NeuronOps' embedded graphs and NEFFs add to saved_model.pb: almost all of it
    once the CPU part's weights are variables. Counted one NeuronOp at a time, since measuring
    the whole graph would serialize it whole."""
    return sum(
        pieces_size(node_pieces(node, weights)) for node in graph_def.node if node.op == "NeuronOp"
    )




def needs_light_neuron_ops(graph_def, weights: WeightStore | None = None) -> bool:
    """True when the NeuronOps' embedded graphs are too big for saved_model.pb, so their
    weights go to the checkpoint (neuron_op_without_weights)."""
    return _embedded_bytes(graph_def, weights) > PROTOBUF_LIMIT - (16 << 20)


def write_saved_model_contents(export_dir: str, graph_def, signature, variable_min_elements: int | None = None,
                               weights: WeightStore | None = None) -> None:
    """Write the SavedModel into `export_dir` (which must not exist). Consumes `graph_def`:
    its large constants become variables. `weights`: the store the graph's references name
    (weights.py), emptied as each payload is written."""
    os.makedirs(os.path.join(export_dir, "variables"))
    checkpoint = CheckpointParts(os.path.join(export_dir, "variables"))
    meta_graph = meta_graph_of(signature)
    attach_assets(export_dir, graph_def, signature.assets, meta_graph)
    moved = constants_to_variables(graph_def, min_elements=variable_min_elements)
    if moved:
        add_saver(graph_def, moved, meta_graph)
    light = {}
    if needs_light_neuron_ops(graph_def, weights):
        light = {n.name: neuron_op_without_weights(n, checkpoint, weights=weights)
                 for n in graph_def.node if n.op == "NeuronOp"}
    try:
        saved_model = _SavedModelPb(graph_def, meta_graph, light, weights)
    except (ValueError, RuntimeError) as err:  # protobuf refuses messages over 2 GiB
        raise NirInputError(
            f"the compiled graph cannot be serialized ({err}): saved_model.pb is limited to "
            "2 GiB by protobuf; compile with a smaller max-cluster-bytes or a smaller batch"
        ) from None
    size = saved_model.size
    if size > PROTOBUF_LIMIT:
        neffs = sum(len(n.attr["executable"].s) for n in graph_def.node if n.op == "NeuronOp")
        if neffs > PROTOBUF_LIMIT // 2:
            raise NirInputError(
                f"the NeuronOps' NEFFs add up to {neffs / 2**30:.1f} GiB, and a NeuronOp carries its NEFF "
                "in saved_model.pb (the Neuron runtime reads it from there), which protobuf limits to "
                "2 GiB: split the model into smaller SavedModels and compile each"
            )
        raise NirInputError(
            f"the compiled graph is {size / 2**30:.1f} GiB, over protobuf's 2 GiB limit for "
            "saved_model.pb; compile with a smaller max-cluster-bytes or a smaller batch"
        )
    with open(os.path.join(export_dir, "saved_model.pb"), "wb") as f:
        for piece in saved_model.pieces():
            f.write(piece)
        f.flush()
        os.fsync(f.fileno())
    del saved_model, light
    graph_def.Clear()  # consumed
    checkpoint.save_batches(moved, weights)
    checkpoint.finish()


def write_saved_model(new_model_dir: str, graph_def, signature, model_dir: str | None = None,
                      variable_min_elements: int | None = None, weights: WeightStore | None = None) -> None:
    """Write the SavedModel, all or nothing. Consumes `graph_def` (see write_saved_model_contents)
    and `weights`, the store its references name (weights.py)."""
    target = check_new_model_dir(new_model_dir, model_dir)
    with atomic_directory(target) as staging:
        way = object_graph_way(graph_def, signature, variable_min_elements, weights)
        if way is None:
            write_saved_model_contents(staging, graph_def, signature, variable_min_elements, weights)
            return
        if way == "splice":
            try:
                splice_compiled_signature(signature.object_graph_from, graph_def, signature, staging, weights,
                                          variable_min_elements)
                return
            except CannotCapture as reason:
                logger.info("the weights left on CPU cannot join the input's checkpoint (%s): TF2's saver "
                            "writes the output", reason)
        # The saver's way. The NeuronOps' payloads are set aside while TensorFlow re-saves the
        # model, so they go back whole; the CPU part's weights stream from the store into `flat`.
        put_neuron_op_weights_in_place(graph_def, weights)
        flat = os.path.join(os.path.dirname(staging), "flat")
        payloads = take_payloads(graph_def, "NeuronOp")
        write_saved_model_contents(flat, graph_def, signature, variable_min_elements, weights)
        save_with_object_graph(signature.object_graph_from, signature.tags, signature.key, flat, staging, payloads)


def _checkpoint_bytes(model_dir: str) -> int:
    folder = os.path.join(model_dir, "variables")
    if not os.path.isdir(folder):
        return 0
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.startswith("variables.data-"))


def object_graph_way(graph_def, signature, variable_min_elements: int | None = None,
                     weights: WeightStore | None = None) -> str | None:
    """How the output keeps its TF2 input's object graph: "splice" (the compiled signature
    spliced into the input's saved_model.pb, see splice.py), "saver" (the input's objects
    re-saved by TF2's saver, see object_graph.py), or None (a TF1-style SavedModel: the input
    has no object graph, or keeping it is not possible)."""
    if signature.object_graph_from is None:
        return None
    if needs_light_neuron_ops(graph_def, weights):
        logger.warning(
            "the NeuronOps of this model pass protobuf's 2 GiB limit, so their weights go to the "
            "checkpoint and the output is a TF1-style SavedModel: tf.saved_model.load(out) gives "
            "its signatures, not the object graph of '%s'", signature.object_graph_from,
        )
        return None
    weights = _checkpoint_bytes(signature.object_graph_from)
    if can_splice(graph_def) and (
            not leaves_weights_on_cpu(graph_def, variable_min_elements) or weights <= OBJECT_GRAPH_MAX_WEIGHT_BYTES):
        return "splice"
    if weights > OBJECT_GRAPH_MAX_WEIGHT_BYTES:
        logger.warning(
            "'%s' holds %.1f GB of weights; TF2's saver would hold them in memory twice to keep "
            "its object graph, so the output is a TF1-style SavedModel written a weight at a time: "
            "tf.saved_model.load(out) gives its signatures, not the object graph",
            signature.object_graph_from, weights / 1e9,
        )
        return None
    return "saver"
