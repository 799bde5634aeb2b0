"""`nir verify-clusters`: check each cluster's HLO lowering without Neuron hardware.

Every cluster is lowered as for neuronx-cc (tf2xla), run through XLA on CPU, and compared with
TensorFlow's own executor running the cluster's GraphDef on the same random inputs of the
cluster's shapes. The largest difference per cluster is reported, relative to the largest
magnitude of TensorFlow's outputs (at least 1), so that one number reads the same for logits
and for probabilities.
"""

from __future__ import annotations

import numpy as np

from backends.neuron.neuron_op import neuron_ops
from backends.neuronx.emit import lowered_node
from backends.neuronx.lowering import input_specs, run_both
from nir.compile_driver import export_with_neuron_ops


def random_feeds(graph_def: bytes, input_names: tuple[str, ...], rng: np.random.RandomState) -> list[np.ndarray]:
    import tensorflow as tf


    feeds = []
    for spec in input_specs(tf.compat.v1.GraphDef.FromString(graph_def), input_names):
        shape, dtype = spec.shape.as_list(), spec.dtype
        if dtype.is_bool:
            feeds.append(rng.rand(*shape) > 0.5)
        elif dtype.is_integer:
            # Small non-negative ints: valid indices for the lookups a cluster may hold.
            feeds.append(rng.randint(0, 8, size=shape).astype(dtype.as_numpy_dtype))
        else:
            feeds.append(rng.standard_normal(shape).astype(dtype.as_numpy_dtype))
    return feeds


def verify_clusters(module, target: str = "inferentia2", seed: int = 0) -> list[dict]:
    """[{cluster, outputs, max_abs_diff, max_rel_diff}] for every cluster of the module, which
    the pipeline has already partitioned."""
    graph_def, _ = export_with_neuron_ops(module, False, target)
    rng = np.random.RandomState(seed)
    rows = []
    for node in neuron_ops(graph_def):
        graph, inputs, outputs = lowered_node(node)
        xla, reference = run_both(graph, inputs, outputs, random_feeds(graph, inputs, rng))
        abs_diff = max((float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))) if np.size(b) else 0.0
                        for a, b in zip(xla, reference)), default=0.0)
        scale = max((float(np.max(np.abs(np.asarray(b, np.float64)))) if np.size(b) else 0.0 for b in reference), default=0.0)
        rows.append({"cluster": node.name, "outputs": len(reference), "max_abs_diff": abs_diff,
                     "max_rel_diff": abs_diff / max(1.0, scale)})
    return rows


def format_rows(rows: list[dict], rtol: float) -> str:
    lines = [f"{'cluster':<60}  {'outputs':>7}  {'max |xla - tf|':>14}  {'relative':>10}"]
    for row in rows:
        flag = "" if row["max_rel_diff"] <= rtol else f"  > rtol {rtol:g}"
        lines.append(f"{row['cluster'][-60:]:<60}  {row['outputs']:>7}  {row['max_abs_diff']:>14.3g}  {row['max_rel_diff']:>10.3g}{flag}")
    if not rows:
        lines.append("(no cluster)")
    return "\n".join(lines) + "\n"
