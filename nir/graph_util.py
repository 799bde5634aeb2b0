"""The original's TF1 entry point: `graph_util.inference_graph_from_session` turns a live
Session into a `tf.Graph` whose compiled clusters are NeuronOps.

    import nir as tfn
    with tf.compat.v1.Session() as sess:
        ...
        infer_graph = tfn.graph_util.inference_graph_from_session(sess, output_tensors=[y])

It runs the same pipeline as `saved_model.compile`: the session is saved (as TensorFlow's
`simple_save` would) with a signature of the chosen inputs and outputs, compiled, and the result
read back into a graph. Tensor names are kept: the inputs and outputs of the session are the
inputs and outputs of the returned graph. The graph holds NeuronOps, which this process's
TensorFlow learns the signature of (see `backends.neuron.tensorflow_op`); running one needs
the Neuron runtime, or `nir.saved_model.inline_neuron_ops` on a SavedModel of it.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable

from backends.neuron.tensorflow_op import register_neuron_op
from frontends.tensorflow.session import feed_by_name, save_session
from nir.compile_driver import CompileSetup, Job, partitioned_graph_and_signature, pipeline_module
from nir.errors import NirInputError
from nir.ir.names import unique_name
from nir.options import DEFAULT_COMPILER_TIMEOUT, DEFAULT_MINIMUM_SEGMENT_SIZE, CompileOptions
from nir.relift import read_compiled_model
from nir.saved_model import compile as compile_model

# Ops that have outputs no one reads but are no inference result: variable and saver plumbing.
_NOT_RESULTS = frozenset({
    "Assign", "AssignAdd", "AssignSub", "AssignVariableOp", "NoOp", "VariableV2", "VarHandleOp",
    "VarIsInitializedOp", "SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename",
})


def inference_graph_from_session(
    sess=None, input_tensors=None, output_tensors=None, signature_def=None, shape_feed_dict=None,
    feed_dict=None, dynamic_batch_size=None, protected_op_names=None, supported_op_types=None,
    no_fuse_ops=None, force_fuse_ops=None, minimum_segment_size=None, grappler=False,
    max_num_compilers=None, compiler_args=None, compiler_workdir=None, compiler_timeout=None,
    compiler_recovery=True, compiler_verbose=None, amp_pass=False, op_whitelist=None, **options,
):
    """A `tf.Graph` for inference from `sess` (default: the default session), with the
    original's arguments and defaults.

    Inputs: `input_tensors`, else the keys of `feed_dict`, else of `shape_feed_dict`, else every
    Placeholder. Outputs: `output_tensors`, else every output no op reads. Tensors may be given
    as tensors or names; `signature_def` gives both at once. `feed_dict` (arrays) and
    `shape_feed_dict` (shapes) give the shapes. `op_whitelist` is the older name of
    `supported_op_types`; `compiler_recovery=False` makes any compile failure an error. `options`
    are `saved_model.compile`'s own (neuron_cc=, target=, executor=, ...). `protected_op_names`
    and `grappler` are accepted for compatibility: nir keeps every tensor of the signature and
    always runs its own pipeline.
    """
    import tensorflow as tf

    if amp_pass:
        raise NirInputError(
            "amp_pass (automatic mixed precision) is not supported by nir; cast the model "
            "(or pass the compiler's own --auto-cast options in compiler_args) instead"
        )
    sess = sess or tf.compat.v1.get_default_session()
    if sess is None:
        raise NirInputError("inference_graph_from_session needs a session: pass sess= or call it inside `with tf.Session()`")
    feed_dict = feed_by_name(feed_dict, "feed_dict")
    shape_feed_dict = feed_by_name(shape_feed_dict, "shape_feed_dict")
    inputs, outputs = _inputs_and_outputs(sess.graph, input_tensors, output_tensors, signature_def,
                                          feed_dict, shape_feed_dict)
    if compiler_verbose is not None:
        compiler_args = [*(compiler_args or ()), "--verbose", str(compiler_verbose)]
    compile_options = dict(
        model_feed_dict=feed_dict, model_shape_feed_dict=shape_feed_dict,
        dynamic_batch_size=dynamic_batch_size, supported_op_types=supported_op_types or op_whitelist,
        no_fuse_ops=no_fuse_ops, force_fuse_ops=force_fuse_ops,
        minimum_segment_size=minimum_segment_size or 2, max_num_compilers=max_num_compilers,
        compiler_args=compiler_args, compiler_workdir=compiler_workdir,
        compiler_timeout=compiler_timeout or DEFAULT_COMPILER_TIMEOUT,
        strict=None if compiler_recovery else True, **options,
    )
    with tempfile.TemporaryDirectory(prefix="nir-session-") as staging:
        model_dir, compiled_dir = os.path.join(staging, "model"), os.path.join(staging, "compiled")
        save_session(sess, model_dir, *_keyed_by_tensor_name(inputs, outputs))
        compile_model(model_dir, compiled_dir, **compile_options)
        graph_def, _ = read_compiled_model(compiled_dir)
    return graph_of(graph_def)


def whitelist_partition(graph_def, signature_def=None, input_tensors=None, output_tensors=None,
                        supported_op_types=None, no_fuse_ops=None, force_fuse_ops=None, minimum_segment_size=None,
                        **options):
    """The original's partitioner: `graph_def` with each cluster of ops the target takes fused
    into one NeuronOp, not compiled (its `executable` empty). Inputs and outputs follow
    `inference_graph_from_session`'s rules; `options` are `saved_model.compile`'s placement
    options (target=, batch_size=1 for an unknown dimension 0, ...). Returns a GraphDef."""
    import tensorflow as tf

    batch_size = options.pop("batch_size", 1)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    setup = CompileSetup.of(CompileOptions.of(
        supported_op_types=supported_op_types, no_fuse_ops=no_fuse_ops, force_fuse_ops=force_fuse_ops,
        minimum_segment_size=minimum_segment_size or DEFAULT_MINIMUM_SEGMENT_SIZE, **options,
    ))
    with tempfile.TemporaryDirectory(prefix="nir-partition-") as staging:
        model_dir = os.path.join(staging, "model")
        with tf.compat.v1.Session(graph=graph) as session:
            inputs, outputs = _inputs_and_outputs(graph, input_tensors, output_tensors, signature_def, None, None)
            save_session(session, model_dir, *_keyed_by_tensor_name(inputs, outputs))
        job = Job(model_dir, None, batch_size, None)
        module, loaded = pipeline_module(job, setup, None)
        graph_def, _ = partitioned_graph_and_signature(module, loaded, setup)
        return graph_def


def graph_of(graph_def):
    """A `tf.Graph` of a GraphDef that may hold NeuronOps."""
    import tensorflow as tf

    register_neuron_op()
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    return graph


def _inputs_and_outputs(graph, input_tensors, output_tensors, signature_def, feed_dict, shape_feed_dict):
    """The original's rules for which tensors the inference graph takes and gives."""
    if signature_def is not None:
        input_names = [info.name for info in signature_def.inputs.values()]
        output_names = [info.name for info in signature_def.outputs.values()]
    else:
        if input_tensors is not None:
            input_names = [getattr(t, "name", t) for t in input_tensors]
        elif feed_dict is not None or shape_feed_dict is not None:
            input_names = list(feed_dict if feed_dict is not None else shape_feed_dict)
        else:
            input_names = [op.outputs[0].name for op in graph.get_operations() if op.type == "Placeholder"]
        if output_tensors is not None:
            output_names = [getattr(t, "name", t) for t in output_tensors]
        else:
            output_names = [t.name for op in graph.get_operations() if op.type not in _NOT_RESULTS
                            for t in op.outputs if not t.consumers() and _is_data(t)]
    return _tensors(graph, input_names, "input"), _tensors(graph, output_names, "output")


def _is_data(tensor) -> bool:
    import tensorflow as tf

    return tensor.dtype != tf.resource and not tensor.dtype._is_ref_dtype  # noqa: SLF001


def _tensors(graph, names: Iterable[str], role: str) -> list:
    tensors = []
    for name in dict.fromkeys(names):  # unique, in order
        try:
            tensors.append(graph.get_tensor_by_name(name))
        except (KeyError, ValueError) as err:
            raise NirInputError(f"{role} tensor '{name}' is not in the session's graph ({err})") from None
    if not tensors:
        raise NirInputError(f"the session's graph has no {role} tensor to compile; pass {role}_tensors=")
    return tensors


def _keyed_by_tensor_name(inputs: list, outputs: list) -> tuple[dict, dict]:
    """Signature maps for the tensors, each keyed by its name spelled as a key."""
    taken: set[str] = set()

    def keyed(tensors):
        return {unique_name(re.sub(r"\W", "_", t.name), taken): t for t in tensors}

    return keyed(inputs), keyed(outputs)
