"""The seed's API: compile a SavedModel for Inferentia (`compile`, `compile_many`,
`simple_save`), finish a compile whose NEFFs were built elsewhere (`relift`), turn NeuronOps
back into TensorFlow (`inline_neuron_ops`), and bind NeuronOps to NeuronCore groups.

    import nir as tfn
    tfn.saved_model.compile("resnet50/", "resnet50_neuron/")

The work is done by nir.options (what a compile may be asked), nir.compile_driver (running
it), nir.relift (after the compiler) and nir.report (what the user is told).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping

from frontends.tensorflow.session import feed_by_name, save_session
from frontends.tensorflow.writer import check_new_model_dir
from nir.compile_driver import CompileFailedError, CompileSetup, Job, compile_jobs
from nir.core_binding import inspect_core_binding, set_core_binding
from nir.errors import NirInputError
from nir.options import DEFAULT_COMPILER_TIMEOUT, CompileOptions, check_positive_int
from nir.relift import inline_neuron_ops, read_compiled_model, relift

__all__ = [
    "DEFAULT_COMPILER_TIMEOUT",
    "CompileFailedError",
    "CompileOptions",
    "compile",
    "compile_many",
    "inline_neuron_ops",
    "inspect_core_binding",
    "read_compiled_model",
    "relift",
    "set_core_binding",
    "simple_save",
]


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
    **options,
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

    Every other option (supported_op_types=, target=, neuron_cc=, executor=, ...) is a field
    of `nir.options.CompileOptions`, which says what each does and checks it.

    Returns {"OnNeuronRatio", "OperatorCountInSession", "OperatorCountAfterOptimization",
    "OperatorCountOnNeuron", "NumClusters", "NumCompiledClusters", "NumClustersFromCache",
    "CompilerWorkdir"}.
    """
    options = CompileOptions.of(
        model_shape_feed_dict=model_shape_feed_dict, model_feed_dict=model_feed_dict, tags=tags,
        signature_def_key=signature_def_key, minimum_segment_size=minimum_segment_size,
        no_fuse_ops=no_fuse_ops, compiler_args=compiler_args, **options,
    )
    check_positive_int(batch_size, "batch_size")
    setup = CompileSetup.of(options)
    workdir = compiler_workdir or setup.flags.workdir
    return compile_jobs([Job(model_dir, new_model_dir, batch_size, workdir)], setup)[0].report


def simple_save(sess, export_dir: str, inputs: Mapping, outputs: Mapping, batch_size: int = 1, **kwargs) -> dict:
    """The original's `tfn.saved_model.simple_save`: what `tf.compat.v1.saved_model.simple_save`
    writes of a TF1 session, compiled for Neuron into `export_dir` (which must not exist).

    `inputs` and `outputs` map signature keys to tensors of `sess.graph`. As the original, it
    takes `feed_dict` / `shape_feed_dict` keyed by tensor (or tensor name) for the shapes;
    every other keyword is `compile`'s. Returns compile's report."""
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
        check_positive_int(batch_size, "batch_size")
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
    setup = CompileSetup.of(CompileOptions.of(**options))
    jobs = []
    for model_dir, name in zip(model_dirs, names):
        for batch_size in batch_sizes:
            variant = f"{name}_b{batch_size}"
            workdir = os.path.join(compiler_workdir, variant) if compiler_workdir else None
            jobs.append(Job(model_dir, os.path.join(output_dir, variant), batch_size, workdir))
    made_output_dir = not os.path.exists(output_dir)
    if made_output_dir:
        os.makedirs(output_dir)
    try:
        reports = [p.report for p in compile_jobs(jobs, setup)]
    except BaseException:
        if made_output_dir and not os.listdir(output_dir):
            os.rmdir(output_dir)  # all or nothing: no empty folder left behind by a failure
        raise
    return {job.new_model_dir: report for job, report in zip(jobs, reports)}
