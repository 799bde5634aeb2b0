"""The stages of a compile as plain functions: SavedModel -> module -> pipeline -> backend."""

from __future__ import annotations

from collections.abc import Iterable

from nir.passmanager import PassManager
from nir.target import target_class

DEFAULT_PIPELINE = (
    "tf-inline-calls,tf-batch-specialize{{batch-size={batch_size}{input_shapes}}},tf-shape-inference,"
    "tf-unroll-loops{unroll_options},{prove}tf-canonicalize,tf-sink-loop-constants,tf-constant-fold{constant_fold_options},"
    "tf-legalize{{target={target}{legalize_options}}},tf-narrow-int64-inputs,"
    "tf-cluster{{minimum-segment-size={minimum_segment_size}{cluster_options}}},{target_step}{pruning}tf-dce"
)
# {target_step}: what the target runs after cluster (Target.pipeline_step; lower-clusters for
# the HLO targets). {pruning}: nir.trace's automatic placement, as the original's: small and
# cheap clusters back to CPU. {prove}: with dynamic batch, which tensors the runtime may cut along
# the batch, proved at a second batch size on the model's own ops, before any rewrite.
PRUNING_PASS = "tf-prune-clusters{{keep-largest-ratio={ratio}}},"


def default_pipeline(
    batch_size: int = 1,
    input_shapes: str = "",
    minimum_segment_size: int = 2,
    no_fuse_ops: Iterable[str] = (),
    force_fuse_ops: Iterable[str] = (),
    supported_op_types: Iterable[str] = (),
    dynamic_batch: bool | None = False,
    neuron_cc: str | None = None,
    target: str = "inferentia",
    max_cluster_bytes: int | None = None,
    max_unrolled_ops: int | None = None,
    keep_largest_ratio: float | None = None,
) -> str:
    """The pipeline `compile` runs, as a string (`nir opt -p` takes it as is). With
    `keep_largest_ratio`, prune-clusters runs after clustering (what `nir.trace` does).
    `dynamic_batch` None is the automatic choice: the batch axes are proved, and shapes that
    hold the batch are folded for the one batch size."""
    def quoted(values: Iterable[str]) -> str:
        return ",".join(f'"{v}"' for v in values)

    legalize = ""
    for option, values in (
        ("no-fuse-ops", list(no_fuse_ops)),
        ("force-fuse-ops", list(force_fuse_ops)),
        ("supported-op-types", list(supported_op_types)),
    ):
        if values:
            legalize += f" {option}={quoted(values)}"
    if neuron_cc:
        legalize += f' neuron-cc="{neuron_cc}"'
    cluster_options = f" max-cluster-bytes={max_cluster_bytes}" if max_cluster_bytes is not None else ""
    unroll = ([f"max-unrolled-ops={max_unrolled_ops}"] if max_unrolled_ops is not None else []) + \
        (["dynamic-batch=true"] if dynamic_batch else [])
    unroll_options = f"{{{' '.join(unroll)}}}" if unroll else ""
    return DEFAULT_PIPELINE.format(
        target=target,
        target_step=target_class(target).pipeline_step(target, minimum_segment_size, cluster_options, neuron_cc),
        pruning=PRUNING_PASS.format(ratio=keep_largest_ratio) if keep_largest_ratio is not None else "",
        batch_size=batch_size,
        input_shapes=f' input-shapes="{input_shapes}"' if input_shapes else "",
        legalize_options=legalize,
        unroll_options=unroll_options,
        minimum_segment_size=minimum_segment_size,
        cluster_options=cluster_options,
        constant_fold_options="{dynamic-batch=true}" if dynamic_batch else "",
        prove="" if dynamic_batch is False else "tf-prove-batch-axes,",
    )


def import_saved_model(model_dir: str, tags=None, signature_def_key: str | None = None):
    """Load, freeze and lower a SavedModel; returns (module, LoadedModel)."""
    # Imported here: the frontend loads TensorFlow; building or running a pipeline (nir opt) does not.
    from frontends.tensorflow.importer import import_graph_def
    from frontends.tensorflow.loader import load_saved_model

    loaded = load_saved_model(model_dir, tags, signature_def_key)
    return import_graph_def(loaded.graph_def, loaded.signature, loaded.weights), loaded


def run_pipeline(module, pipeline: str | PassManager, **instrumentation):
    manager = pipeline if isinstance(pipeline, PassManager) else PassManager.parse(pipeline, **instrumentation)
    manager.run(module)
    return manager
