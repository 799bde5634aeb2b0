"""After the compiler: NEFFs into their NeuronOps (`relift`), NeuronOps back into the
TensorFlow they fused (`inline_neuron_ops`), and a compiled model read back
(`read_compiled_model`).

A NeuronOp whose cluster has no NEFF is inlined: its ops run on CPU in the output, which is
always a complete model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import replace

from backends.neuron.neuron_op import (
    count_nodes,
    inline_neuron_op_nodes,
    neuron_op_target,
    neuron_ops,
    ops_on_neuron,
    renamed_outputs,
)
from backends.neuron.nhwc import nchw_ops_to_nhwc
from backends.neuron.tensorflow_op import register_neuron_op
from backends.neuron.workdir import folder_name, load_workdir_model
from frontends.tensorflow.attrs import shape_proto_to_dims
from frontends.tensorflow.checkpoint import with_weights
from frontends.tensorflow.gate import Refusal, TensorFlowRefusesGraph, tensorflow_refusal
from frontends.tensorflow.importer import SignatureInfo, TensorSpec
from frontends.tensorflow.loader import load_saved_model, main_op_name, read_saved_model_proto
from frontends.tensorflow.main_op import INIT_OP_SIGNATURE_KEY, asset_files
from frontends.tensorflow.object_graph import copy_with_new_proto, has_object_graph, signatures_reaching, written_by_nir
from frontends.tensorflow.variables import variables_to_constants
from frontends.tensorflow.writer import atomic_directory, check_new_model_dir, write_saved_model
from nir.errors import NirInputError
from nir.report import log_report
from nir.target import target_class

logger = logging.getLogger("nir")


def relift_graph(graph_def, signature, workdir: str):
    """Attach the NEFFs found in the workdir to their NeuronOps and restore the NeuronOps
    without one to their CPU ops. Returns (graph_def, signature, counts)."""
    final = graph_def  # callers hand over a graph they no longer need
    num_clusters = len(neuron_ops(final))
    for node in neuron_ops(final):
        if has_neff(workdir, node):
            with open(neff_path(workdir, node), "rb") as f:
                node.attr["executable"].s = f.read()
    renames = renamed_outputs(final)
    final = inline_neuron_op_nodes(final, lambda n: not n.attr["executable"].s, consume=True)
    nchw_ops_to_nhwc(final)  # CPU kernels may refuse NCHW
    signature = rename_signature_outputs(signature, renames, final)
    compiled = neuron_ops(final)
    on_neuron = sum(ops_on_neuron(n) for n in compiled)
    after = count_nodes(final) + on_neuron - len(compiled)
    return final, signature, (num_clusters, len(compiled), on_neuron, after)


def neff_path(workdir: str, node) -> str:
    """Where the NEFF of a NeuronOp's cluster is: its folder, under its target's file name."""
    return os.path.join(workdir, folder_name(node), target_class(neuron_op_target(node)).neff_file)


def has_neff(workdir: str, node) -> bool:
    neff = neff_path(workdir, node)
    return os.path.isfile(neff) and os.path.getsize(neff) > 0


def _finish(graph_def, signature, workdir: str, new_model_dir: str, model_dir: str | None, session_ops: int | None) -> dict:
    """Relift, then write the SavedModel; returns the report."""
    final, signature, report = relift_and_count(graph_def, signature, workdir, session_ops)
    write_output(new_model_dir, final, signature, model_dir)
    return report


def write_output(new_model_dir: str, graph_def, signature, model_dir: str | None, variable_min_elements: int | None = None,
                 last_pass_of: Mapping[str, str] | None = None, weights=None) -> None:
    """write_saved_model, once TensorFlow has built the graph (the last gate: nothing is written
    if it refuses), with NeuronOp declared to TensorFlow first. `last_pass_of`: the pass that
    last changed each node, named when TensorFlow refuses one. `weights`: the WeightStore the
    graph refers to (the gate needs none of it)."""
    register_neuron_op()
    refusal = tensorflow_refusal(graph_def)
    if refusal is not None:
        raise TensorFlowRefusesGraph(refusal_message(refusal, new_model_dir, last_pass_of or {}))
    write_saved_model(new_model_dir, graph_def, signature, model_dir, variable_min_elements, weights)


def refusal_message(refusal: Refusal, new_model_dir: str, last_pass_of: Mapping[str, str]) -> str:
    where = f"node '{refusal.node}' of {refusal.graph}" if refusal.node else refusal.graph
    culprit = last_pass_of.get(refusal.node or "")
    blame = (f" (last changed by pass '{culprit}')" if culprit else
             " (no pass changed it: the exporter, relift or a backend wrote it so)")
    first_line = refusal.message.splitlines()[0].rstrip(".")
    return (f"TensorFlow refuses {where}{blame}: {first_line}; nothing was written to '{new_model_dir}'. "
            "This is a bug of nir or of a plug-in: please report it with the model and this message")


def relift_and_count(graph_def, signature, workdir: str, session_ops: int | None):
    """Relift; returns (graph_def, signature, report)."""
    final, signature, (num_clusters, num_compiled, on_neuron, after) = relift_graph(graph_def, signature, workdir)
    return final, signature, {
        "OnNeuronRatio": on_neuron / after if after else 0.0,
        "OperatorCountInSession": session_ops if session_ops is not None else after,
        "OperatorCountAfterOptimization": after,
        "OperatorCountOnNeuron": on_neuron,
        "NumClusters": num_clusters,
        "NumCompiledClusters": num_compiled,
    }


def rename_signature_outputs(signature, renames: dict[str, str], graph_def):
    present = {n.name for n in graph_def.node}

    def fix(spec):
        target = renames.get(spec.tensor_name)
        if target is not None and spec.tensor_name.split(":")[0] not in present:
            return replace(spec, tensor_name=target)
        return spec

    return replace(signature, outputs=tuple(fix(s) for s in signature.outputs))


def relift(compiler_workdir: str, new_model_dir: str) -> dict:
    """Build the SavedModel of an earlier compile from its workdir, with whatever NEFFs are there."""
    check_new_model_dir(new_model_dir)
    graph_def, signature = load_workdir_model(compiler_workdir)
    if signature.object_graph_from is not None and not os.path.isdir(signature.object_graph_from):
        logger.warning(
            "'%s', the model compiled into %s, is gone: the output is a TF1-style SavedModel "
            "without its object graph (tf.saved_model.load(out) gives the signature only)",
            signature.object_graph_from, compiler_workdir,
        )
        signature = replace(signature, object_graph_from=None)
    missing = [n for n in neuron_ops(graph_def) if not has_neff(compiler_workdir, n)]
    if missing:
        logger.warning(
            "%d of %d clusters have no %s in %s and stay on CPU: %s",
            len(missing), len(neuron_ops(graph_def)), os.path.basename(neff_path(compiler_workdir, missing[0])),
            compiler_workdir, ", ".join(n.name for n in missing),
        )
    report = _finish(graph_def, signature, compiler_workdir, new_model_dir, None, None)
    report["CompilerWorkdir"] = compiler_workdir
    log_report(report, compiler_workdir, new_model_dir, f"their NEFFs are not in '{compiler_workdir}'")
    return report


def inline_neuron_ops(model_dir: str, new_model_dir: str) -> None:
    """Write a copy of a compiled SavedModel with every NeuronOp replaced by its embedded graph,
    so stock TensorFlow runs it (on CPU): how a compiled model's wiring is checked."""
    target = check_new_model_dir(new_model_dir, model_dir)
    proto = read_saved_model_proto(model_dir)
    if _tf2_meta_graph(proto) is not None:
        _inline_keeping_object_graph(model_dir, proto, target)
        return
    graph_def, signature = _compiled_model_of(model_dir, proto)
    del proto
    renames = renamed_outputs(graph_def)
    graph_def = inline_neuron_op_nodes(graph_def)
    nchw_ops_to_nhwc(graph_def)
    signature = rename_signature_outputs(signature, renames, graph_def)
    write_saved_model(new_model_dir, graph_def, signature, model_dir)


def _require_written_by_nir(model_dir: str, meta_graph) -> None:
    """Refuse a TF2 SavedModel nir did not compile: there is nothing of nir's to inline or load."""
    if not written_by_nir(meta_graph):
        raise NirInputError(
            f"'{model_dir}' is not a model written by nir (its object graph holds no compiled "
            "model); pass the new_model_dir of nir.saved_model.compile"
        )


def _inline_keeping_object_graph(model_dir: str, proto, target: str) -> None:
    """inline_neuron_ops for a TF2 SavedModel: the NeuronOps live in its library's functions,
    which are rewritten in place; the object graph, variables and assets are copied as they
    are, so the result is called as the compiled model was."""
    meta_graph = proto.meta_graphs[0]
    _require_written_by_nir(model_dir, meta_graph)
    meta_graph.graph_def.CopyFrom(inline_neuron_op_nodes(meta_graph.graph_def))
    with atomic_directory(target) as staging:
        copy_with_new_proto(model_dir, proto, staging)


def _tf2_meta_graph(proto):
    """The MetaGraphDef of a TF2 SavedModel (one, with an object graph), else None."""
    if len(proto.meta_graphs) == 1 and has_object_graph(proto.meta_graphs[0]):
        return proto.meta_graphs[0]
    return None


def read_compiled_model(model_dir: str):
    """The graph (NeuronOps included, weights as constants) and signature of a SavedModel nir
    wrote. Returns (graph_def, SignatureInfo)."""
    return _compiled_model_of(model_dir, read_saved_model_proto(model_dir))


def _compiled_model_of(model_dir: str, proto):
    """read_compiled_model, for the SavedModel `proto` already read from `model_dir`."""
    tf2 = _tf2_meta_graph(proto)
    if tf2 is not None:
        return _read_compiled_object_graph(model_dir, tf2)
    signatures = {k: v for k, v in proto.meta_graphs[0].signature_def.items() if k != INIT_OP_SIGNATURE_KEY} \
        if len(proto.meta_graphs) == 1 else {}
    if len(signatures) != 1:
        raise NirInputError(
            f"'{model_dir}' is not a model written by nir (expected one MetaGraphDef with one "
            "signature); pass the new_model_dir of nir.saved_model.compile or a NeuronModel.save path"
        )
    meta_graph = proto.meta_graphs[0]
    ((key, sig),) = signatures.items()

    def specs(entries):
        return tuple(
            TensorSpec(k, entries[k].name, entries[k].dtype, shape_proto_to_dims(entries[k].tensor_shape))
            for k in sorted(entries)
        )

    signature = SignatureInfo(key, specs(sig.inputs), specs(sig.outputs), sig.method_name,
                              tuple(meta_graph.meta_info_def.tags), main_op_name(meta_graph),
                              assets=asset_files(meta_graph, model_dir))
    return variables_to_constants(meta_graph.graph_def, meta_graph, model_dir), signature


def _read_compiled_object_graph(model_dir: str, meta_graph):
    """read_compiled_model for a TF2 SavedModel nir wrote: the signature whose functions hold
    the NeuronOps, loaded (calls inlined, variables frozen) as nir loads any model."""
    _require_written_by_nir(model_dir, meta_graph)
    keys = signatures_reaching(meta_graph, "NeuronOp")
    if len(keys) > 1:
        raise NirInputError(
            f"'{model_dir}' has {len(keys)} signatures holding NeuronOps ({', '.join(keys)}), where a "
            "model nir compiled has one; pass the new_model_dir of nir.saved_model.compile"
        )
    register_neuron_op()
    # With nothing compiled, every signature runs as the input's did: the default one serves.
    loaded = load_saved_model(model_dir, signature_def_key=keys[0] if keys else None)
    graph_def = loaded.graph_def if loaded.weights is None else with_weights(loaded.graph_def, loaded.weights)
    return graph_def, replace(loaded.signature, object_graph_from=None)
