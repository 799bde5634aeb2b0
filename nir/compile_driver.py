"""Driving compiles: every model of a set is imported, run through its pipeline, exported with
one NeuronOp per cluster and emitted; all their clusters are compiled as one set (by the
executor, through the compile cache); then each output is relifted and written.

`CompileSetup` is a compile's options resolved against this machine once: the target and its
compiler, NEURON_CC_FLAGS, the executor and the cache.
"""

from __future__ import annotations

import contextlib
import ctypes
import difflib
import gc
import logging
import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from backends.compile_cache import CompileCache, cache_enabled_by_default, default_cache_root
from backends.cpu_fallback import relax_batch
from backends.driver import compile_clusters
from backends.executors import COMPILER_MEMORY_BYTES, parse_executor
from backends.neuron.neuron_op import NeuronOpLowering, batch_axes_to_cut, neuron_ops
from backends.neuron.workdir import save_workdir_model
from frontends.tensorflow.exporter import export_module, releasing_weights
from frontends.tensorflow.importer import import_graph_def, split_tensor_name
from frontends.tensorflow.main_op import restore_main_op
from frontends.tensorflow.output_names import add_input_stand_ins, add_output_stand_ins
from frontends.tensorflow.weights import WeightStore, weights_from, with_weight_values
from frontends.tensorflow.writer import check_new_model_dir
from nir.errors import NirError, NirInputError
from nir.ir.dtypes import ir_type_of_dtype, numpy_dtype_of_ir_type
from nir.ir.module import entry_function
from nir.ir.neuron_dialect import ClusterOp
from nir.ir.queries import carries_batch
from nir.ir.text import DEFAULT_ELIDE_ABOVE
from nir.options import CompileOptions, NeuronCcFlags
from nir.passmanager import PassManager
from nir.pipeline import default_pipeline, import_saved_model
from nir.relift import relift_and_count, write_output
from nir.report import log_report, no_cluster_message, not_installed_message
from nir.target import Target, find_compiler, get_target
from passes.batch_specialize import format_input_shapes

logger = logging.getLogger("nir")


@dataclass(frozen=True, kw_only=True)
class CompileSetup:
    """`options`, resolved once per compile (or compile_many): `target` with its op table,
    `compiler_path` (None: not installed), NEURON_CC_FLAGS (`flags`), the compiler's arguments
    and strictness with those flags applied, the executor and the compile cache (None: off)."""

    options: CompileOptions
    target: Target
    compiler_path: str | None
    flags: NeuronCcFlags
    compiler_args: tuple[str, ...]
    strict: bool
    executor: object
    cache: CompileCache | None

    @classmethod
    def of(cls, options: CompileOptions) -> CompileSetup:
        memory = COMPILER_MEMORY_BYTES
        if options.compiler_memory_gb is not None:
            memory = int(options.compiler_memory_gb * (1 << 30))
        compile_cache = cache_enabled_by_default() if options.compile_cache is None else options.compile_cache
        target = get_target(options.target, options.neuron_cc)
        flags = NeuronCcFlags.from_environment()
        strict = flags.must_compile if options.strict is None else options.strict
        return cls(
            options=options,
            target=target,
            compiler_path=find_compiler(target.compiler, options.neuron_cc),
            flags=flags,
            compiler_args=flags.compiler_args(options.compiler_args),
            strict=strict or not options.compiler_recovery,
            executor=parse_executor(options.executor, options.max_num_compilers, memory),
            cache=CompileCache(options.cache_dir or default_cache_root()) if compile_cache else None,
        )


class CompileFailedError(NirError, ValueError):
    """strict mode: some clusters did not compile. Names them and their logs. A ValueError
    too, as the original's must-compile failure was, so code written for it still catches it."""


@dataclass(frozen=True)
class Job:
    """One model to compile: a SavedModel on disk (`model_dir`), or a model the frontend has
    already loaded (`loaded`, from `nir.trace`), whose result stays in memory when
    `new_model_dir` is None."""

    model_dir: str
    new_model_dir: str | None
    batch_size: int
    compiler_workdir: str | None
    loaded: object = None  # frontends.tensorflow.loader.LoadedModel


@dataclass
class Prepared:
    """One model, exported and emitted. Holds no IR: its large weights went to `weights`, which
    `graph_def` refers to (frontends/tensorflow/weights.py), the rest into `graph_def`."""

    job: Job
    num_session_ops: int
    graph_def: object  # handed over to the writer at the end, then None
    weights: object  # WeightStore, handed over with graph_def
    signature: object
    workdir: str
    clusters: list
    no_cluster_message: str | None
    report: dict | None = None
    compiled: tuple | None = None  # (graph_def, signature) of a job kept in memory
    last_pass_of: dict[str, str] = field(default_factory=dict)  # see PassManager.last_pass_of


def compile_jobs(jobs: list[Job], s: CompileSetup) -> list[Prepared]:
    """Load, run the pipeline and emit for every job, compile all their clusters as one set,
    then write every output (or keep it, for a job without new_model_dir). Returns the jobs,
    each with its report."""
    for job in jobs:
        if job.new_model_dir is not None:
            check_new_model_dir(job.new_model_dir, job.model_dir)
    compiler = s.target.compiler
    with contextlib.ExitStack() as stack:
        stack.enter_context(s.target.compile_scope())
        prepared = [_prepare(job, stack.enter_context(workdir_for(job.compiler_workdir)), s) for job in jobs]
        with_clusters = [p for p in prepared if p.no_cluster_message is None]
        for p in prepared:
            if p.no_cluster_message is not None:
                warnings.warn(p.no_cluster_message, stacklevel=3)
        results = []
        if with_clusters and s.compiler_path is None:
            warnings.warn(not_installed_message(jobs[0].compiler_workdir, compiler), stacklevel=3)
            if s.strict:
                raise CompileFailedError(f"strict mode: {compiler} is not installed, nothing was compiled")
        elif with_clusters:
            clusters = [c for p in with_clusters for c in p.clusters]
            results = compile_clusters(clusters, s.options.compiler_timeout, s.executor, s.cache, s.options.progress)
            failed = [r for r in results if not r.ok]
            if failed and s.strict:
                raise CompileFailedError(
                    f"strict mode: {compiler} failed for " + "; ".join(
                        f"{r.name} ({r.reason}; log: {r.log})" for r in failed
                    )
                )
            for r in failed:
                logger.warning("cluster %s stays on CPU: %s (log: %s)", r.name, r.reason, r.log)
        reports = []
        for p in prepared:
            graph_def, p.graph_def = p.graph_def, None  # the writer consumes it
            weights, p.weights = p.weights, None
            final, signature, report = relift_and_count(graph_def, p.signature, p.workdir, p.num_session_ops)
            del graph_def
            if p.job.new_model_dir is None:
                p.compiled = (with_weight_values(final, weights), signature)
            else:
                write_output(p.job.new_model_dir, final, signature, p.job.model_dir, s.options.variable_min_elements,
                             p.last_pass_of, weights)
            del final, weights
            report["NumClustersFromCache"] = sum(
                1 for r in results if r.from_cache and os.path.dirname(r.folder) == p.workdir
            )
            report["CompilerWorkdir"] = p.job.compiler_workdir
            p.report = report
            reports.append(report)
    for p, report in zip(prepared, reports):
        log_report(
            report, p.job.model_dir, p.job.new_model_dir or "an in-memory model",
            f"{compiler} is not installed (see the warning above)" if s.compiler_path is None
            else f"{compiler} failed for them (see the warnings above and their logs)",
        )
    return prepared


def _prepare(job: Job, workdir: str, s: CompileSetup) -> Prepared:
    """One model: import, run the pipeline, and emit its clusters' compile jobs into `workdir`."""
    last_pass_of: dict[str, str] = {}
    module, loaded = pipeline_module(job, s, workdir if job.compiler_workdir else s.options.dump_dir, last_pass_of)
    weights = WeightStore()
    graph_def, signature = partitioned_graph_and_signature(module, loaded, s, weights)
    no_clusters = None if neuron_ops(graph_def) else no_cluster_message(module)
    del module
    return_freed_memory()
    # Emission is for the compiler now, or for the user to compile later from their workdir;
    # with neither, writing 100s of MB to a temporary directory would only cost time.
    clusters = []
    if s.compiler_path is not None or job.compiler_workdir is not None:
        clusters = emit(graph_def, signature, workdir, s.compiler_path or s.target.compiler, s.compiler_args,
                         s.target, keep_model=job.compiler_workdir is not None, weights=weights)
    return Prepared(job, loaded.num_session_ops, graph_def, weights, signature, workdir, clusters, no_clusters,
                    last_pass_of=last_pass_of)


def pipeline_module(job: Job, s: CompileSetup, reproducer_dir: str | None, last_pass_of: dict | None = None):
    """Import the job's model and run the pipeline on it; returns (module, LoadedModel).
    `last_pass_of` receives, by node name, the last pass that made or changed each node."""
    if job.loaded is None:
        module, loaded = import_saved_model(job.model_dir, s.options.tags, s.options.signature_def_key)
    else:
        loaded = job.loaded
        module = import_graph_def(loaded.graph_def, loaded.signature, loaded.weights)
    return_freed_memory()
    _warn_unknown_ops(s.options.no_fuse_ops, loaded.graph_def, "no_fuse_ops")
    _warn_unknown_ops(s.options.force_fuse_ops, loaded.graph_def, "force_fuse_ops")
    shapes = input_shapes(s.options.model_shape_feed_dict, s.options.model_feed_dict, loaded.signature, loaded.fed_tensors)
    pipeline = s.options.pipeline
    if pipeline is None:
        pipeline = default_pipeline(
            job.batch_size, shapes, s.options.minimum_segment_size, s.options.no_fuse_ops,
            s.options.force_fuse_ops, s.options.supported_op_types, dynamic_batch=s.options.dynamic_batch_size,
            neuron_cc=s.compiler_path, target=s.options.target, max_cluster_bytes=s.options.max_cluster_bytes,
            max_unrolled_ops=s.options.max_unrolled_ops, keep_largest_ratio=s.options.keep_largest_ratio,
        )
    instrumentation = {"dump_dir": s.options.dump_dir, "print_ir_after": ("all",) if s.options.print_ir_after_all else (),
                       "elide_above": None if s.options.no_elide else DEFAULT_ELIDE_ABOVE}
    manager = pipeline if isinstance(pipeline, PassManager) else PassManager.parse(pipeline, **instrumentation)
    if manager.reproducer_dir is None:
        manager.reproducer_dir = reproducer_dir
    manager.run(module)
    if last_pass_of is not None:
        last_pass_of.update(manager.last_pass_of)
    return_freed_memory()
    return module, loaded


def partitioned_graph_and_signature(module, loaded, s: CompileSetup, weights: WeightStore | None = None):
    """The module after its pipeline as a GraphDef with one NeuronOp per cluster (none compiled
    yet), its signature outputs and main op under their original names. Consumes the module's
    weights: into the graph, or, given `weights`, into that store (the graph refers to them)."""
    with releasing_weights(weights):
        graph_def, signature = export_with_neuron_ops(module, s.options.dynamic_batch_size, s.options.target)
    graph_def, signature = add_output_stand_ins(graph_def, signature, replace(loaded.signature, init_op=None))
    graph_def, signature = add_input_stand_ins(graph_def, signature, loaded.fed_tensors)
    signature = restore_main_op(graph_def, replace(signature, init_op=loaded.signature.init_op), loaded.graph_def)
    signature = replace(signature, object_graph_from=loaded.signature.object_graph_from,
                        assets=loaded.signature.assets)
    return graph_def, signature


def export_with_neuron_ops(module, dynamic_batch: bool | None, target: str = "inferentia"):
    """`dynamic_batch` None is the original's automatic choice: dynamic when every cluster's
    inputs and outputs carry the batch on dimension 0."""
    if dynamic_batch is None:
        dynamic_batch = every_cluster_carries_batch(module)
    graph_def, signature = export_module(module, NeuronOpLowering(dynamic_batch, target))
    if dynamic_batch:
        # Dimension 0 of the tensors that carry the batch becomes unknown: the runtime splits
        # a client batch into compiled-size pieces.
        fn = entry_function(module)

        def unbatch(specs, values):
            return tuple(
                replace(s, shape=(-1, *s.shape[1:])) if s.shape and carries_batch(v) else s
                for s, v in zip(specs, values)
            )

        signature = replace(
            signature,
            inputs=unbatch(signature.inputs, fn.args),
            outputs=unbatch(signature.outputs, fn.body.block.last_op.operands),
        )
        relax_batch_of_inputs(graph_def, signature)
    return graph_def, signature


def relax_batch_of_inputs(graph_def, signature) -> None:
    """The Placeholders of inputs whose signature batch is unknown take any batch too: a
    Session checks a feed against its Placeholder's shape, not the signature's."""
    relax_batch(graph_def, {split_tensor_name(s.tensor_name)[0] for s in signature.inputs if s.shape and s.shape[0] < 0})


def every_cluster_carries_batch(module) -> bool:
    """The automatic choice: dynamic batch when the runtime may cut every NeuronOp, and every
    tensor at their boundaries carries the batch on dimension 0 (as the original chooses)."""
    clusters = [op for op in module.walk() if isinstance(op, ClusterOp)]
    return bool(clusters) and all(
        not isinstance(axes := batch_axes_to_cut(c), str) and all(a == 0 for a in axes) for c in clusters
    )


def emit(graph_def, signature, workdir: str, compiler: str, compiler_args, target, keep_model: bool = True,
         weights: WeightStore | None = None):
    with weights_from(weights):
        clusters = target.emit(graph_def, workdir, compiler, compiler_args)
    if keep_model:  # what `relift` needs; only worth writing into a workdir that is kept
        save_workdir_model(workdir, graph_def, signature, weights)
    return clusters


def input_shapes(model_shape_feed_dict, model_feed_dict, signature, fed_tensors: Mapping[str, str] | None = None) -> str:
    """model_feed_dict > model_shape_feed_dict, as the 'input-shapes' option of batch-specialize.
    Feeds are keyed by signature key or tensor name; `fed_tensors` (key -> tensor name before
    the graph was cut at the input) adds the inputs' original names."""
    keys = {s.key: s for s in signature.inputs}
    tensor_keys = {s.tensor_name: s.key for s in signature.inputs}
    tensor_keys.update({s.tensor_name.split(":")[0]: s.key for s in signature.inputs})
    tensor_keys.update({name: key for key, name in (fed_tensors or {}).items()})
    shapes: dict[str, tuple[int, ...]] = {}
    for source, feed in (("model_shape_feed_dict", model_shape_feed_dict), ("model_feed_dict", model_feed_dict)):
        if feed is None:
            continue
        if not isinstance(feed, Mapping):
            raise NirInputError(f"{source} must be a dict keyed by input name, got {type(feed).__name__}")
        for name, value in feed.items():
            key = name if name in keys else tensor_keys.get(name)
            if key is None:
                raise NirInputError(
                    f"{source} has key '{name}', which is not an input of signature "
                    f"'{signature.key}'; its inputs are {sorted(keys)}"
                )
            if source == "model_feed_dict":
                array = np.asarray(value)
                expected = np.dtype(numpy_dtype_of_ir_type(ir_type_of_dtype(keys[key].dtype)))
                if not _feedable(array.dtype, expected):
                    raise NirInputError(
                        f"model_feed_dict['{name}'] has dtype {array.dtype}, which a Session cannot feed "
                        f"to input '{key}' ({expected}); pass an array of {expected}"
                    )
                shapes[key] = tuple(array.shape)
            else:
                try:
                    dims = tuple(int(d) for d in value)
                except (TypeError, ValueError):
                    raise NirInputError(
                        f"model_shape_feed_dict['{name}'] must be a list of ints, got {value!r}"
                    ) from None
                shapes[key] = dims
    return format_input_shapes(shapes)


def _feedable(given, expected) -> bool:
    """What a TF1 Session accepts as a feed, as the original fed model_feed_dict: numbers of
    any width for a number (Session casts them), bytes or str for a string."""
    text = "SUO"
    if expected.kind in text:
        return given.kind in text
    return given.kind in "biufc"


def _warn_unknown_ops(names: list[str], graph_def, option: str) -> None:
    known = {n.name for n in graph_def.node} | {n.name for f in graph_def.library.function for n in f.node_def}
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            warnings.warn(
                f"{option} names '{name}', which is not an op of the model"
                + (f"; did you mean {close}?" if close else ""),
                stacklevel=3,
            )


@contextlib.contextmanager
def workdir_for(compiler_workdir: str | None):
    if compiler_workdir is not None:
        os.makedirs(compiler_workdir, exist_ok=True)
        yield os.path.abspath(compiler_workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="nir-workdir-") as path:
            yield path


def return_freed_memory() -> None:
    """Collect the IR that passes erased (xDSL ops sit in reference cycles, so their weights
    outlive them until a collection) and hand the heap's free pages back to the system (glibc
    keeps them otherwise): the weights just moved from one form to the next, and the next
    step's peak should not sit on top of the last one's garbage."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to trim
