"""The seed's API: compile a SavedModel for Inferentia (`compile`), finish a compile whose
NEFFs were built elsewhere (`relift`), and turn NeuronOps back into TensorFlow
(`inline_neuron_ops`).

    import nir as tfn
    tfn.saved_model.compile("resnet50/", "resnet50_neuron/")
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import shlex
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from nir.errors import NirError, NirInputError

logger = logging.getLogger("nir")
_tf_logger = logging.getLogger("tensorflow")

DEFAULT_COMPILER_TIMEOUT = 18000
ON_NEURON_RATIO_THRESHOLD = 0.3


class CompileFailedError(NirError, ValueError):
    """strict mode: some clusters did not compile. Names them and their logs. A ValueError
    too, as the original's must-compile failure was, so code written for it still catches it."""


@dataclass(frozen=True)
class _Flags:
    """NEURON_CC_FLAGS, read as the original reads it."""

    must_compile: bool
    workdir: str | None
    verbose: str | None
    extra_args: tuple[str, ...]


VERBOSE_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")


def _neuron_cc_flags() -> _Flags:
    """--must-compile, --workdir DIR and --verbose LEVEL (also as --opt=value) are nir's; every
    other token goes to neuron-cc after compiler_args, as the original passes them."""
    try:
        tokens = shlex.split(os.environ.get("NEURON_CC_FLAGS", ""))
    except ValueError as err:
        raise NirInputError(f"NEURON_CC_FLAGS cannot be split into arguments ({err}); check its quotes") from None
    must_compile, workdir, verbose, extra = False, None, None, []
    i = 0
    while i < len(tokens):
        option, has_value, value = tokens[i].partition("=")
        if option == "--must-compile" and not has_value:
            must_compile = True
        elif option in ("--workdir", "--verbose"):
            if not has_value:
                if i + 1 >= len(tokens):
                    raise NirInputError(f"NEURON_CC_FLAGS: {option} needs a value")
                value = tokens[i + 1]
                i += 1
            if option == "--workdir":
                workdir = value
            else:
                verbose = _verbose_level(value)
        else:
            extra.append(tokens[i])
        i += 1
    return _Flags(must_compile, workdir, verbose, tuple(extra))


def _verbose_level(value: str) -> str:
    if value.upper() in VERBOSE_LEVELS or value.isdigit():
        return value
    raise NirInputError(
        f"NEURON_CC_FLAGS: --verbose takes one of {', '.join(VERBOSE_LEVELS)} or a number "
        f"(neuron-cc's log level), got '{value}'"
    )


def _info(message: str, *args) -> None:
    # The seed prints its counts as INFO:tensorflow lines; users grep for them.
    _tf_logger.info(message, *args)


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise NirInputError(f"{name} must be a positive integer, got {value!r}")
    return value


def _input_shapes(model_shape_feed_dict, model_feed_dict, signature, fed_tensors: Mapping[str, str] | None = None) -> str:
    """model_feed_dict > model_shape_feed_dict, as the 'input-shapes' option of batch-specialize.
    Feeds are keyed by signature key or tensor name; `fed_tensors` (key -> tensor name before
    the graph was cut at the input) adds the inputs' original names."""
    import numpy as np

    from nir.ir.dtypes import ir_type_of_dtype, numpy_dtype_of_ir_type
    from passes.batch_specialize import format_input_shapes

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


@contextlib.contextmanager
def _workdir(compiler_workdir: str | None):
    if compiler_workdir is not None:
        os.makedirs(compiler_workdir, exist_ok=True)
        yield os.path.abspath(compiler_workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="nir-workdir-") as path:
            yield path


def compile(  # noqa: A001 - the seed's name
    model_dir: str,
    new_model_dir: str,
    batch_size: int = 1,
    model_shape_feed_dict: Mapping[str, Iterable[int]] | None = None,
    model_feed_dict: Mapping | None = None,
    tags: Iterable[str] | str | None = None,
    signature_def_key: str | None = None,
    minimum_segment_size: int = 2,
    no_fuse_ops: Iterable[str] | None = None,
    compiler_args: Iterable[str] | None = None,
    compiler_workdir: str | None = None,
    *,
    supported_op_types: Iterable[str] | None = None,
    force_fuse_ops: Iterable[str] | None = None,
    dynamic_batch_size: bool | None = None,
    max_num_compilers: int | None = None,
    compiler_timeout: float = DEFAULT_COMPILER_TIMEOUT,
    compiler_recovery: bool = True,
    strict: bool | None = None,
    neuron_cc: str | None = None,
    pipeline=None,
    dump_dir: str | None = None,
    print_ir_after_all: bool = False,
    progress: bool = True,
    target: str = "inferentia",
    executor: str = "local",
    cache_dir: str | None = None,
    compile_cache: bool | None = None,
    compiler_memory_gb: float | None = None,
    max_cluster_bytes: int | None = None,
    convert_constants_to_variables: bool = False,
    constant_size_to_exclude: int = 1024,
    **kwargs,
) -> dict:
    """Compile `model_dir` into `new_model_dir`, one NeuronOp per subgraph neuron-cc compiles.

    `target` is "inferentia" (inf1: neuron-cc takes each cluster's GraphDef), "inferentia2" or
    "trainium" (neuronx-cc takes each cluster lowered to XLA HLO by tf2xla), or a plug-in's.
    `neuron_cc` is the path of that target's compiler (default: found on PATH).

    Compiles run on `executor`: "local" (compiler processes here, `max_num_compilers` at a
    time) or "ray[:ADDRESS]" (a Ray cluster; `pip install 'nir[ray]'`), each asking for
    `compiler_memory_gb` (default 4). NEFFs come from and go to the compile cache in
    `cache_dir` (default NIR_CACHE_DIR, else ~/.cache/nir) unless `compile_cache=False` (or
    NIR_COMPILE_CACHE=off). No cluster holds more than `max_cluster_bytes` of constants
    (default 1 GiB): a larger one is cut in pieces.

    `dynamic_batch_size` None (the default) is the original's automatic choice: dynamic batch
    when every cluster's inputs and outputs carry the batch on dimension 0 (the signature's
    dimension 0 is then unknown, and the runtime cuts a bigger batch into compiled-size
    pieces); True keeps batch-dependent shape arithmetic computed as well; False is off.

    Constants left on CPU become variables of the output's checkpoint when they hold 1 KiB or
    more; `convert_constants_to_variables=True` uses the original's rule instead: those of more
    than `constant_size_to_exclude` elements.

    Returns {"OnNeuronRatio", "OperatorCountInSession", "OperatorCountAfterOptimization",
    "OperatorCountOnNeuron", "NumClusters", "NumCompiledClusters", "NumClustersFromCache",
    "CompilerWorkdir"}.
    """
    if kwargs:
        raise NirInputError(f"unknown keyword argument(s) {sorted(kwargs)} for nir.saved_model.compile")
    settings = _Settings.make(
        model_shape_feed_dict=model_shape_feed_dict, model_feed_dict=model_feed_dict, tags=tags,
        signature_def_key=signature_def_key, minimum_segment_size=minimum_segment_size,
        no_fuse_ops=no_fuse_ops, compiler_args=compiler_args, supported_op_types=supported_op_types,
        force_fuse_ops=force_fuse_ops, dynamic_batch_size=dynamic_batch_size,
        max_num_compilers=max_num_compilers, compiler_timeout=compiler_timeout,
        compiler_recovery=compiler_recovery, strict=strict, neuron_cc=neuron_cc, pipeline=pipeline,
        dump_dir=dump_dir, print_ir_after_all=print_ir_after_all, progress=progress, target=target,
        executor=executor, cache_dir=cache_dir, compile_cache=compile_cache,
        compiler_memory_gb=compiler_memory_gb, max_cluster_bytes=max_cluster_bytes,
        convert_constants_to_variables=convert_constants_to_variables,
        constant_size_to_exclude=constant_size_to_exclude,
    )
    _check_positive_int(batch_size, "batch_size")
    workdir = compiler_workdir or settings.flags.workdir
    return _compile_jobs([_Job(model_dir, new_model_dir, batch_size, workdir)], settings)[0].report


def simple_save(sess, export_dir: str, inputs: Mapping, outputs: Mapping, batch_size: int = 1, **kwargs) -> dict:
    """The original's `tfn.saved_model.simple_save`: what `tf.compat.v1.saved_model.simple_save`
    writes of a TF1 session, compiled for Neuron into `export_dir` (which must not exist).

    `inputs` and `outputs` map signature keys to tensors of `sess.graph`. As the original, it
    takes `feed_dict` / `shape_feed_dict` keyed by tensor (or tensor name) for the shapes;
    every other keyword is `compile`'s. Returns compile's report."""
    from frontends.tensorflow.writer import check_new_model_dir
    from nir.graph_util import feed_by_name, save_session

    check_new_model_dir(export_dir)
    feeds = {
        "model_feed_dict": feed_by_name(kwargs.pop("feed_dict", None), "feed_dict"),
        "model_shape_feed_dict": feed_by_name(kwargs.pop("shape_feed_dict", None), "shape_feed_dict"),
    }
    with tempfile.TemporaryDirectory(prefix="nir-simple-save-") as staging:
        model_dir = os.path.join(staging, "saved_model")
        save_session(sess, model_dir, inputs, outputs)
        return compile(model_dir, export_dir, batch_size=batch_size, **feeds, **kwargs)


def compile_many(
    model_dirs: str | Iterable[str],
    output_dir: str,
    batch_sizes: Iterable[int] = (1,),
    compiler_workdir: str | None = None,
    **options,
) -> dict[str, dict]:
    """Compile every model of `model_dirs` at every batch size of `batch_sizes` as one set of
    compile jobs: clusters shared between variants (and any already in the compile cache) are
    compiled once, and the executor runs all the rest side by side.

    Each result goes to `output_dir/<model folder name>_b<batch size>`; `compiler_workdir`, if
    given, gets one subfolder of the same name per result. `options` are those of `compile`.
    Returns {output folder: compile's report}.
    """
    if isinstance(model_dirs, str):
        model_dirs = [model_dirs]
    model_dirs, batch_sizes = list(model_dirs), list(batch_sizes)
    if not model_dirs:
        raise NirInputError("compile_many needs at least one model directory")
    if not batch_sizes:
        raise NirInputError("compile_many needs at least one batch size")
    for batch_size in batch_sizes:
        _check_positive_int(batch_size, "batch_size")
    names = [os.path.basename(os.path.normpath(m)) for m in model_dirs]
    if len(set(names)) != len(names):
        raise NirInputError(
            f"compile_many names each output after its model's folder, and {sorted(n for n in names if names.count(n) > 1)} "
            "appear more than once; give the models folders of different names"
        )
    if len(set(batch_sizes)) != len(batch_sizes):
        raise NirInputError(f"batch_sizes {batch_sizes} repeats a size")
    if "batch_size" in options or "new_model_dir" in options:
        raise NirInputError("compile_many takes batch_sizes= and output_dir=, not batch_size= or new_model_dir=")
    settings = _Settings.make(**options)
    jobs = []
    for model_dir, name in zip(model_dirs, names):
        for batch_size in batch_sizes:
            variant = f"{name}_b{batch_size}"
            workdir = os.path.join(compiler_workdir, variant) if compiler_workdir else None
            jobs.append(_Job(model_dir, os.path.join(output_dir, variant), batch_size, workdir))
    made_output_dir = not os.path.exists(output_dir)
    if made_output_dir:
        os.makedirs(output_dir)
    try:
        reports = [p.report for p in _compile_jobs(jobs, settings)]
    except BaseException:
        if made_output_dir and not os.listdir(output_dir):
            os.rmdir(output_dir)  # all or nothing: no empty folder left behind by a failure
        raise
    return {job.new_model_dir: report for job, report in zip(jobs, reports)}


def _return_freed_memory() -> None:
    """Collect the IR that passes erased (xDSL ops sit in reference cycles, so their weights
    outlive them until a collection) and hand the heap's free pages back to the system (glibc
    keeps them otherwise): the weights just moved from one form to the next, and the next
    step's peak should not sit on top of the last one's garbage."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to trim


@dataclass(frozen=True)
class _Job:
    """One model to compile: a SavedModel on disk (`model_dir`), or a model the frontend has
    already loaded (`loaded`, from `nir.trace`), whose result stays in memory when
    `new_model_dir` is None."""

    model_dir: str
    new_model_dir: str | None
    batch_size: int
    compiler_workdir: str | None
    loaded: object = None  # frontends.tensorflow.loader.LoadedModel


@dataclass(frozen=True)
class _Settings:
    """compile's options that are the same for every model of a compile_many, checked."""

    model_shape_feed_dict: Mapping | None
    model_feed_dict: Mapping | None
    tags: object
    signature_def_key: str | None
    minimum_segment_size: int
    no_fuse_ops: list[str]
    force_fuse_ops: list[str]
    supported_op_types: list[str]
    compiler_args: list[str]
    dynamic_batch_size: bool | None
    compiler_timeout: float
    strict: bool
    pipeline: object
    dump_dir: str | None
    print_ir_after_all: bool
    progress: bool
    target: str
    target_info: object
    compiler_path: str | None
    flags: _Flags
    executor: object
    cache: object
    max_cluster_bytes: int | None
    keep_largest_ratio: float | None = None  # nir.trace's automatic pruning (prune-clusters)
    variable_min_elements: int | None = None  # the original's constant_size_to_exclude, when asked for

    @staticmethod
    def make(
        model_shape_feed_dict=None, model_feed_dict=None, tags=None, signature_def_key=None,
        minimum_segment_size=2, no_fuse_ops=None, compiler_args=None, supported_op_types=None,
        force_fuse_ops=None, dynamic_batch_size=None, max_num_compilers=None,
        compiler_timeout=DEFAULT_COMPILER_TIMEOUT, compiler_recovery=True, strict=None, neuron_cc=None,
        pipeline=None, dump_dir=None, print_ir_after_all=False, progress=True, target="inferentia",
        executor="local", cache_dir=None, compile_cache=None, compiler_memory_gb=None,
        max_cluster_bytes=None, keep_largest_ratio=None, convert_constants_to_variables=False,
        constant_size_to_exclude=1024, **unknown,
    ) -> _Settings:
        from backends.compile_cache import CompileCache, cache_enabled_by_default, default_cache_root
        from backends.executors import COMPILER_MEMORY_BYTES, parse_executor
        from nir.target import find_compiler, get_target

        if unknown:
            raise NirInputError(f"unknown keyword argument(s) {sorted(unknown)}")
        _check_positive_int(minimum_segment_size, "minimum_segment_size")
        for value, name in ((max_num_compilers, "max_num_compilers"), (max_cluster_bytes, "max_cluster_bytes")):
            if value is not None:
                _check_positive_int(value, name)
        memory = COMPILER_MEMORY_BYTES
        if compiler_memory_gb is not None:
            if isinstance(compiler_memory_gb, bool) or not isinstance(compiler_memory_gb, (int, float)) or compiler_memory_gb <= 0:
                raise NirInputError(f"compiler_memory_gb must be a positive number, got {compiler_memory_gb!r}")
            memory = int(compiler_memory_gb * (1 << 30))
        no_fuse_ops, force_fuse_ops = list(no_fuse_ops or ()), list(force_fuse_ops or ())
        if both := sorted(set(no_fuse_ops) & set(force_fuse_ops)):
            raise NirInputError(f"{both} are in both no_fuse_ops and force_fuse_ops; keep each name in one of them")
        if compile_cache is None:
            compile_cache = cache_enabled_by_default()
        cache = CompileCache(cache_dir or default_cache_root()) if compile_cache else None
        run_on = parse_executor(executor, max_num_compilers, memory)
        target_info = get_target(target, neuron_cc)
        path = find_compiler(target_info.compiler, neuron_cc)
        flags = _neuron_cc_flags()
        strict = flags.must_compile if strict is None else strict
        compiler_args = [*(compiler_args or ()), *flags.extra_args]
        if flags.verbose is not None:
            compiler_args += ["--verbose", flags.verbose]
        return _Settings(
            model_shape_feed_dict, model_feed_dict, tags, signature_def_key, minimum_segment_size,
            no_fuse_ops, force_fuse_ops, list(supported_op_types or ()), compiler_args,
            dynamic_batch_size, compiler_timeout, strict or not compiler_recovery, pipeline, dump_dir,
            print_ir_after_all, progress, target, target_info, path, flags, run_on, cache, max_cluster_bytes,
            keep_largest_ratio=keep_largest_ratio,
            variable_min_elements=_variable_min_elements(convert_constants_to_variables, constant_size_to_exclude),
        )


def _variable_min_elements(convert: bool, size_to_exclude) -> int | None:
    if not convert:
        return None
    if isinstance(size_to_exclude, bool) or not isinstance(size_to_exclude, int) or size_to_exclude < 0:
        raise NirInputError(f"constant_size_to_exclude must be a whole number of elements, got {size_to_exclude!r}")
    return size_to_exclude


@dataclass
class _Prepared:
    """One model, exported and emitted. Holds no IR: its weights went into `graph_def`."""

    job: _Job
    num_session_ops: int
    graph_def: object  # handed over to the writer at the end, then None
    signature: object
    workdir: str
    clusters: list
    no_cluster_message: str | None
    report: dict | None = None
    compiled: tuple | None = None  # (graph_def, signature) of a job kept in memory


def _compile_jobs(jobs: list[_Job], s: _Settings) -> list[_Prepared]:
    """Load, run the pipeline and emit for every job, compile all their clusters as one set,
    then write every output (or keep it, for a job without new_model_dir). Returns the jobs,
    each with its report."""
    from frontends.tensorflow.writer import check_new_model_dir

    for job in jobs:
        if job.new_model_dir is not None:
            check_new_model_dir(job.new_model_dir, job.model_dir)
    compiler = s.target_info.compiler
    with contextlib.ExitStack() as stack:
        stack.enter_context(s.target_info.compile_scope())
        prepared = [_prepare(job, stack.enter_context(_workdir(job.compiler_workdir)), s) for job in jobs]
        with_clusters = [p for p in prepared if p.no_cluster_message is None]
        for p in prepared:
            if p.no_cluster_message is not None:
                warnings.warn(p.no_cluster_message, stacklevel=3)
        results = []
        if with_clusters and s.compiler_path is None:
            warnings.warn(_not_installed_message(jobs[0].compiler_workdir, compiler), stacklevel=3)
            if s.strict:
                raise CompileFailedError(f"strict mode: {compiler} is not installed, nothing was compiled")
        elif with_clusters:
            from backends.driver import compile_clusters

            clusters = [c for p in with_clusters for c in p.clusters]
            results = compile_clusters(clusters, s.compiler_timeout, s.executor, s.cache, s.progress)
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
            final, signature, report = _relift_and_count(graph_def, p.signature, p.workdir, p.num_session_ops)
            del graph_def
            if p.job.new_model_dir is None:
                p.compiled = (final, signature)
            else:
                _write(p.job.new_model_dir, final, signature, p.job.model_dir, s.variable_min_elements)
            del final
            report["NumClustersFromCache"] = sum(
                1 for r in results if r.from_cache and os.path.dirname(r.folder) == p.workdir
            )
            report["CompilerWorkdir"] = p.job.compiler_workdir
            p.report = report
            reports.append(report)
    for p, report in zip(prepared, reports):
        _log_report(
            report, p.job.model_dir, p.job.new_model_dir or "an in-memory model",
            f"{compiler} is not installed (see the warning above)" if s.compiler_path is None
            else f"{compiler} failed for them (see the warnings above and their logs)",
        )
    return prepared


def _prepare(job: _Job, workdir: str, s: _Settings) -> _Prepared:
    """One model: import, run the pipeline, and emit its clusters' compile jobs into `workdir`."""
    from backends.neuron.neuron_op import neuron_ops

    module, loaded = pipeline_module(job, s, workdir if job.compiler_workdir else s.dump_dir)
    graph_def, signature = partitioned_graph_and_signature(module, loaded, s)
    no_clusters = None if neuron_ops(graph_def) else no_cluster_message(module)
    del module
    _return_freed_memory()
    # Emission is for the compiler now, or for the user to compile later from their workdir;
    # with neither, writing 100s of MB to a temporary directory would only cost time.
    clusters = []
    if s.compiler_path is not None or job.compiler_workdir is not None:
        clusters = _emit(graph_def, signature, workdir, s.compiler_path or s.target_info.compiler, s.compiler_args,
                         s.target_info, keep_model=job.compiler_workdir is not None)
    return _Prepared(job, loaded.num_session_ops, graph_def, signature, workdir, clusters, no_clusters)


def partitioned_graph_and_signature(module, loaded, s: _Settings):
    """The module after its pipeline as a GraphDef with one NeuronOp per cluster (none compiled
    yet), its signature outputs and main op under their original names. Consumes the module's
    weights."""
    from frontends.tensorflow.exporter import releasing_weights
    from frontends.tensorflow.main_op import restore_main_op
    from frontends.tensorflow.output_names import add_input_stand_ins, add_output_stand_ins

    with releasing_weights():
        graph_def, signature = _export_with_neuron_ops(module, s.dynamic_batch_size, s.target)
    graph_def, signature = add_output_stand_ins(graph_def, signature, replace(loaded.signature, init_op=None))
    graph_def, signature = add_input_stand_ins(graph_def, signature, loaded.fed_tensors)
    signature = restore_main_op(graph_def, replace(signature, init_op=loaded.signature.init_op), loaded.graph_def)
    signature = replace(signature, object_graph_from=loaded.signature.object_graph_from,
                        assets=loaded.signature.assets)
    return graph_def, signature


def pipeline_module(job: _Job, s: _Settings, reproducer_dir: str | None):
    """Import the job's model and run the pipeline on it; returns (module, LoadedModel)."""
    from frontends.tensorflow.importer import import_graph_def
    from nir.passmanager import PassManager
    from nir.pipeline import default_pipeline, import_saved_model

    if job.loaded is None:
        module, loaded = import_saved_model(job.model_dir, s.tags, s.signature_def_key)
    else:
        loaded = job.loaded
        module = import_graph_def(loaded.graph_def, loaded.signature, loaded.weights)
    _return_freed_memory()
    _warn_unknown_ops(s.no_fuse_ops, loaded.graph_def, "no_fuse_ops")
    _warn_unknown_ops(s.force_fuse_ops, loaded.graph_def, "force_fuse_ops")
    input_shapes = _input_shapes(s.model_shape_feed_dict, s.model_feed_dict, loaded.signature, loaded.fed_tensors)
    pipeline = s.pipeline
    if pipeline is None:
        pipeline = default_pipeline(
            job.batch_size, input_shapes, s.minimum_segment_size, s.no_fuse_ops,
            s.force_fuse_ops, s.supported_op_types, dynamic_batch=bool(s.dynamic_batch_size),
            neuron_cc=s.compiler_path, target=s.target, max_cluster_bytes=s.max_cluster_bytes,
            keep_largest_ratio=s.keep_largest_ratio,
        )
    instrumentation = {"dump_dir": s.dump_dir, "print_ir_after": ("all",) if s.print_ir_after_all else ()}
    manager = pipeline if isinstance(pipeline, PassManager) else PassManager.parse(pipeline, **instrumentation)
    if manager.reproducer_dir is None:
        manager.reproducer_dir = reproducer_dir
    manager.run(module)
    _return_freed_memory()
    return module, loaded


def _not_installed_message(compiler_workdir: str | None, compiler: str = "neuron-cc") -> str:
    message = f"{compiler} is not installed, so no cluster was compiled: every cluster stays on CPU in the output model. "
    if compiler_workdir is None:
        return message + (
            f"Pass compiler_workdir= to have nir write each cluster's {compiler} inputs and command "
            f"line there; compile them on a machine with {compiler} and run `nir relift WORKDIR NEW_MODEL_DIR`."
        )
    return message + (
        f"Each cluster's inputs and command.sh are in '{compiler_workdir}': run them where {compiler} "
        f"is installed, then `nir relift {compiler_workdir} NEW_MODEL_DIR`."
    )


def no_cluster_message(module) -> str:
    """Why a pipeline produced no NeuronOp, from the reasons legalize left on the ops."""
    from nir.explain import explain_module

    rows = [r for r in explain_module(module)["cpu"] if r["reason"] != "graph input or output stand-in"]
    total = sum(r["count"] for r in rows)
    if rows and all(r["reason"] == "not placed by legalize" for r in rows):
        why = "no op was placed by legalize: the pipeline has no legalize pass, or none before cluster"
    else:
        placed = [r for r in rows if r["reason"] == "not placed by legalize"]
        reasons: dict[str, int] = {}
        for row in rows:
            if row not in placed:
                reasons[row["reason"]] = reasons.get(row["reason"], 0) + row["count"]
        top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
        why = f"{total} ops stayed on CPU, most for: " + "; ".join(f"{r} ({n} op{'' if n == 1 else 's'})" for r, n in top)
        if any(r.startswith("shape not fully static") for r, _ in top):
            why += " (does the pipeline run shape-inference before legalize?)"
        if not reasons:
            why = "every op was placed on the target, but no cluster was formed: does the pipeline run cluster?"
    return f"the pipeline produced no cluster, so nothing will run on Neuron: {why}. Run `nir explain` for every op's reason."


def _warn_unknown_ops(names: list[str], graph_def, option: str) -> None:
    import difflib

    known = {n.name for n in graph_def.node} | {n.name for f in graph_def.library.function for n in f.node_def}
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            warnings.warn(
                f"{option} names '{name}', which is not an op of the model"
                + (f"; did you mean {close}?" if close else ""),
                stacklevel=3,
            )


def _export_with_neuron_ops(module, dynamic_batch: bool | None, target: str = "inferentia"):
    """`dynamic_batch` None is the original's automatic choice: dynamic when every cluster's
    inputs and outputs carry the batch on dimension 0."""
    from backends.neuron.neuron_op import NeuronOpLowering
    from frontends.tensorflow.exporter import export_module
    from nir.ir.module import entry_function
    from nir.ir.queries import carries_batch

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
    from backends.cpu_fallback import relax_batch
    from frontends.tensorflow.importer import split_tensor_name

    relax_batch(graph_def, {split_tensor_name(s.tensor_name)[0] for s in signature.inputs if s.shape and s.shape[0] < 0})


def every_cluster_carries_batch(module) -> bool:
    from nir.ir.neuron_dialect import ClusterOp
    from nir.ir.queries import carries_batch

    clusters = [op for op in module.walk() if isinstance(op, ClusterOp)]
    return bool(clusters) and all(
        carries_batch(v) for c in clusters for v in (*c.inputs, *c.outputs)
    )


def _emit(graph_def, signature, workdir: str, compiler: str, compiler_args, target, keep_model: bool = True):
    from backends.neuron.workdir import save_workdir_model

    clusters = target.emit(graph_def, workdir, compiler, compiler_args)
    if keep_model:  # what `relift` needs; only worth writing into a workdir that is kept
        save_workdir_model(workdir, graph_def, signature)
    return clusters


def relift_graph(graph_def, signature, workdir: str):
    """Attach the NEFFs found in the workdir to their NeuronOps and restore the NeuronOps
    without one to their CPU ops. Returns (graph_def, signature, counts)."""
    from backends.neuron.neuron_op import (
        count_nodes,
        inline_neuron_op_nodes,
        neuron_ops,
        ops_on_neuron,
        renamed_outputs,
    )
    from backends.neuron.nhwc import nchw_ops_to_nhwc

    final = graph_def  # callers hand over a graph they no longer need
    num_clusters = len(neuron_ops(final))
    for node in neuron_ops(final):
        if _has_neff(workdir, node):
            with open(_neff_path(workdir, node), "rb") as f:
                node.attr["executable"].s = f.read()
    renames = renamed_outputs(final)
    final = inline_neuron_op_nodes(final, lambda n: not n.attr["executable"].s, consume=True)
    nchw_ops_to_nhwc(final)  # CPU kernels may refuse NCHW
    signature = _rename_signature_outputs(signature, renames, final)
    compiled = neuron_ops(final)
    on_neuron = sum(ops_on_neuron(n) for n in compiled)
    after = count_nodes(final) + on_neuron - len(compiled)
    return final, signature, (num_clusters, len(compiled), on_neuron, after)


def _neff_path(workdir: str, node) -> str:
    """Where the NEFF of a NeuronOp's cluster is: its folder, under its target's file name."""
    from backends.neuron.neuron_op import neuron_op_target
    from backends.neuron.workdir import folder_name
    from nir.target import target_class

    return os.path.join(workdir, folder_name(node), target_class(neuron_op_target(node)).neff_file)


def _has_neff(workdir: str, node) -> bool:
    neff = _neff_path(workdir, node)
    return os.path.isfile(neff) and os.path.getsize(neff) > 0


def _finish(graph_def, signature, workdir: str, new_model_dir: str, model_dir: str | None, session_ops: int | None) -> dict:
    """Relift, then write the SavedModel; returns the report."""
    final, signature, report = _relift_and_count(graph_def, signature, workdir, session_ops)
    _write(new_model_dir, final, signature, model_dir)
    return report


def _write(new_model_dir: str, graph_def, signature, model_dir: str | None, variable_min_elements: int | None = None) -> None:
    """write_saved_model, with NeuronOp declared to TensorFlow first when the output keeps its
    input's object graph: TF2's saver loads the compiled signature, NeuronOps and all."""
    from backends.neuron.tensorflow_op import register_neuron_op
    from frontends.tensorflow.writer import write_saved_model

    if signature.object_graph_from is not None:
        register_neuron_op()
    write_saved_model(new_model_dir, graph_def, signature, model_dir, variable_min_elements)


def _relift_and_count(graph_def, signature, workdir: str, session_ops: int | None):
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


def _rename_signature_outputs(signature, renames: dict[str, str], graph_def):
    present = {n.name for n in graph_def.node}

    def fix(spec):
        target = renames.get(spec.tensor_name)
        if target is not None and spec.tensor_name.split(":")[0] not in present:
            return replace(spec, tensor_name=target)
        return spec

    return replace(signature, outputs=tuple(fix(s) for s in signature.outputs))


def _log_report(report: dict, source: str, target: str, uncompiled_because: str) -> None:
    """The seed's INFO lines; below the on-Neuron threshold, a warning that says why: clusters
    left uncompiled (`uncompiled_because`), or else a placement nir explain can show."""
    _info("Number of operations in TensorFlow session: %d", report["OperatorCountInSession"])
    _info("Number of operations after tf.neuron optimizations: %d", report["OperatorCountAfterOptimization"])
    _info("Number of operations placed on Neuron runtime: %d", report["OperatorCountOnNeuron"])
    if report["OnNeuronRatio"] > ON_NEURON_RATIO_THRESHOLD:
        _info("Successfully converted %s to %s", source, target)
        return
    message = (
        f"{100 * report['OnNeuronRatio']:.1f}% of the operations of {source} run on Neuron "
        f"({report['NumCompiledClusters']} of {report['NumClusters']} clusters compiled); "
        "little or nothing will run on the accelerator. "
    )
    if report["NumCompiledClusters"] < report["NumClusters"]:
        message += f"Clusters were left on CPU because {uncompiled_because}."
    else:
        message += "Run `nir explain` to see why."
    _tf_logger.warning(message)


def relift(compiler_workdir: str, new_model_dir: str) -> dict:
    """Build the SavedModel of an earlier compile from its workdir, with whatever NEFFs are there."""
    from backends.neuron.neuron_op import neuron_ops
    from backends.neuron.workdir import load_workdir_model
    from frontends.tensorflow.writer import check_new_model_dir

    check_new_model_dir(new_model_dir)
    graph_def, signature = load_workdir_model(compiler_workdir)
    if signature.object_graph_from is not None and not os.path.isdir(signature.object_graph_from):
        logger.warning(
            "'%s', the model compiled into %s, is gone: the output is a TF1-style SavedModel "
            "without its object graph (tf.saved_model.load(out) gives the signature only)",
            signature.object_graph_from, compiler_workdir,
        )
        signature = replace(signature, object_graph_from=None)
    missing = [n for n in neuron_ops(graph_def) if not _has_neff(compiler_workdir, n)]
    if missing:
        logger.warning(
            "%d of %d clusters have no %s in %s and stay on CPU: %s",
            len(missing), len(neuron_ops(graph_def)), os.path.basename(_neff_path(compiler_workdir, missing[0])),
            compiler_workdir, ", ".join(n.name for n in missing),
        )
    report = _finish(graph_def, signature, compiler_workdir, new_model_dir, None, None)
    report["CompilerWorkdir"] = compiler_workdir
    _log_report(report, compiler_workdir, new_model_dir, f"their NEFFs are not in '{compiler_workdir}'")
    return report


# model_config's fifth entry names the NeuronCore group a NeuronOp runs on (-1: any); the
# first four are DEFAULT_MODEL_CONFIG's, filled in when a NeuronOp has fewer.
_CORE_GROUP_INDEX = 4


def set_core_binding(model_dir: str, index_list: Iterable[int]) -> None:
    """Bind the NeuronOps of a compiled SavedModel, in graph order, to NeuronCore groups: the
    i-th NeuronOp's `model_config[4]` becomes `index_list[i]` (extra NeuronOps keep theirs).
    As the original, this edits `model_dir/saved_model.pb` in place; the new file replaces the
    old one whole, so an interrupted call leaves the old one."""
    from backends.neuron.neuron_op import DEFAULT_MODEL_CONFIG, neuron_ops
    from frontends.tensorflow.loader import read_saved_model_proto

    proto = read_saved_model_proto(model_dir)
    nodes = [n for meta_graph in proto.meta_graphs for n in neuron_ops(meta_graph.graph_def)]
    defaults = [*DEFAULT_MODEL_CONFIG, -1]
    for node, index in zip(nodes, index_list):
        config = node.attr["model_config"].list.i
        config.extend(defaults[len(config):])
        config[_CORE_GROUP_INDEX] = _check_core_group(index)
    path = os.path.join(model_dir, "saved_model.pb")
    with tempfile.NamedTemporaryFile("wb", dir=model_dir, prefix=".saved_model.pb.", delete=False) as f:
        f.write(proto.SerializeToString(deterministic=True))
    os.replace(f.name, path)


def _check_core_group(index) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or index < -1:
        raise NirInputError(f"a NeuronCore group index is an int >= -1 (-1: any group), got {index!r}")
    return index


def inspect_core_binding(model_dir: str) -> dict[str, int | None]:
    """Log, and return, the NeuronCore group each NeuronOp of a compiled SavedModel is bound
    to (None: not bound), by node name."""
    from backends.neuron.neuron_op import neuron_ops
    from frontends.tensorflow.loader import read_saved_model_proto

    bindings = {}
    for meta_graph in read_saved_model_proto(model_dir).meta_graphs:
        for node in neuron_ops(meta_graph.graph_def):
            config = node.attr["model_config"].list.i
            index = config[_CORE_GROUP_INDEX] if len(config) > _CORE_GROUP_INDEX else -1
            bindings[node.name] = None if index < 0 else index
            if index < 0:
                _info("subgraph %s does not bind to a NeuronCore Group", node.name)
            else:
                _info("subgraph %s binds to NeuronCore Group index %d", node.name, index)
    return bindings


def inline_neuron_ops(model_dir: str, new_model_dir: str) -> None:
    """Write a copy of a compiled SavedModel with every NeuronOp replaced by its embedded graph,
    so stock TensorFlow runs it (on CPU): how a compiled model's wiring is checked."""
    from backends.neuron.neuron_op import inline_neuron_op_nodes, renamed_outputs
    from backends.neuron.nhwc import nchw_ops_to_nhwc
    from frontends.tensorflow.loader import read_saved_model_proto
    from frontends.tensorflow.writer import check_new_model_dir, write_saved_model

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
    signature = _rename_signature_outputs(signature, renames, graph_def)
    write_saved_model(new_model_dir, graph_def, signature, model_dir)


def _require_written_by_nir(model_dir: str, meta_graph) -> None:
    """Refuse a TF2 SavedModel nir did not compile: there is nothing of nir's to inline or load."""
    from frontends.tensorflow.object_graph import written_by_nir

    if not written_by_nir(meta_graph):
        raise NirInputError(
            f"'{model_dir}' is not a model written by nir (its object graph holds no compiled "
            "model); pass the new_model_dir of nir.saved_model.compile"
        )


def _inline_keeping_object_graph(model_dir: str, proto, target: str) -> None:
    """inline_neuron_ops for a TF2 SavedModel: the NeuronOps live in its library's functions,
    which are rewritten in place; the object graph, variables and assets are copied as they
    are, so the result is called as the compiled model was."""
    from backends.neuron.neuron_op import inline_neuron_op_nodes
    from frontends.tensorflow.object_graph import copy_with_new_proto
    from frontends.tensorflow.writer import atomic_directory

    meta_graph = proto.meta_graphs[0]
    _require_written_by_nir(model_dir, meta_graph)
    meta_graph.graph_def.CopyFrom(inline_neuron_op_nodes(meta_graph.graph_def))
    with atomic_directory(target) as staging:
        copy_with_new_proto(model_dir, proto, staging)


def _tf2_meta_graph(proto):
    """The MetaGraphDef of a TF2 SavedModel (one, with an object graph), else None."""
    from frontends.tensorflow.object_graph import has_object_graph

    if len(proto.meta_graphs) == 1 and has_object_graph(proto.meta_graphs[0]):
        return proto.meta_graphs[0]
    return None


def read_compiled_model(model_dir: str):
    """The graph (NeuronOps included, weights as constants) and signature of a SavedModel nir
    wrote. Returns (graph_def, SignatureInfo)."""
    from frontends.tensorflow.loader import read_saved_model_proto

    return _compiled_model_of(model_dir, read_saved_model_proto(model_dir))


def _compiled_model_of(model_dir: str, proto):
    """read_compiled_model, for the SavedModel `proto` already read from `model_dir`."""
    from frontends.tensorflow.attrs import shape_proto_to_dims
    from frontends.tensorflow.importer import SignatureInfo, TensorSpec
    from frontends.tensorflow.loader import main_op_name
    from frontends.tensorflow.main_op import INIT_OP_SIGNATURE_KEY, asset_files
    from frontends.tensorflow.variables import variables_to_constants

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
    from backends.neuron.tensorflow_op import register_neuron_op
    from frontends.tensorflow.checkpoint import with_weights
    from frontends.tensorflow.loader import load_saved_model
    from frontends.tensorflow.object_graph import signatures_reaching

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
