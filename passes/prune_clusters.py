"""prune-clusters{keep-largest-ratio=0.8 drop-cheap=true}: return small or cheap clusters to CPU.

The original tensorflow-neuron's `trace`, when it places ops by itself, does not send every
cluster to the accelerator: each NeuronOp costs a host/device round trip, so a few cheap ops
on the device can be slower than on the CPU. It prunes in two steps, which this pass repeats
over each block that holds more than one cluster (the entry function and each loop or branch
body on its own):

- with `drop-cheap`, when some clusters hold an arithmetic-intensive op (MatMul, convolutions,
  BatchMatMul, Einsum) and others hold none, the others go back to CPU;
- when the largest cluster holds more than `keep-largest-ratio` of the ops of all clusters, only
  it stays (0 turns this off).

The ops of a pruned cluster get a CPU reason that says which rule pruned them, for
`nir explain`. `saved_model.compile` does not run this pass (the original's compile did not
prune either); `nir.trace` does unless a `subgraph_builder_function` places the ops.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block
from xdsl.passes import ModulePass

from nir.ir.control_flow import graph_functions
from nir.ir.neuron_dialect import ClusterOp
from nir.ir.queries import set_cpu_reason
from nir.ir.tf_dialect import TFNodeOp
from nir.passmanager.registry import register_pass
from passes.cluster import dissolve, effective_size

EXPENSIVE_OP_TYPES = frozenset({
    "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D", "Conv2DBackpropFilter",
    "Conv2DBackpropInput", "Conv3D", "Conv3DBackpropFilterV2", "Conv3DBackpropInputV2",
    "DepthwiseConv2dNative", "DepthwiseConv2dNativeBackpropFilter",
    "DepthwiseConv2dNativeBackpropInput", "Einsum", "MatMul",
})


def cluster_size(cluster: ClusterOp) -> int:
    """Its ops as minimum-segment-size counts them, constants included (the original's size)."""
    ops = list(cluster.block.ops)
    return effective_size(range(len(ops)), ops)


def is_expensive(cluster: ClusterOp) -> bool:
    return any(isinstance(op, TFNodeOp) and op.tf_type in EXPENSIVE_OP_TYPES for op in cluster.block.ops)


def return_to_cpu(cluster: ClusterOp, reason: str) -> None:
    for op in cluster.block.ops:
        if isinstance(op, TFNodeOp):
            set_cpu_reason(op, reason)
    dissolve(cluster)


def drop_cheap_clusters(clusters: list[ClusterOp]) -> list[ClusterOp]:
    """The clusters left after sending those without an expensive op to CPU, when some have one."""
    expensive = [c for c in clusters if is_expensive(c)]
    if not expensive or len(expensive) == len(clusters):
        return clusters
    for cluster in clusters:
        if cluster not in expensive:
            return_to_cpu(cluster, "pruned: its cluster holds no MatMul or convolution while others do (drop-cheap)")
    return expensive


def keep_largest_cluster(clusters: list[ClusterOp], ratio: float) -> None:
    sizes = [cluster_size(c) for c in clusters]
    total, largest = sum(sizes), max(sizes)
    if not total or largest / total <= ratio:
        return
    keep = sizes.index(largest)
    for i, cluster in enumerate(clusters):
        if i != keep:
            return_to_cpu(
                cluster,
                f"pruned: its cluster of {sizes[i]} op(s) is small beside the largest, which holds "
                f"{largest} of {total} clustered ops (keep-largest-ratio={ratio:g})",
            )


def prune_block(block: Block, keep_largest_ratio: float, drop_cheap: bool) -> None:
    clusters = [op for op in block.ops if isinstance(op, ClusterOp)]
    if len(clusters) < 2:
        return
    if drop_cheap:
        clusters = drop_cheap_clusters(clusters)
    if len(clusters) > 1 and keep_largest_ratio > 0:
        keep_largest_cluster(clusters, keep_largest_ratio)


@register_pass
@dataclass(frozen=True)
class PruneClustersPass(ModulePass):
    """Send small and cheap clusters back to CPU, as the original's automatic trace does."""

    name = "tf-prune-clusters"
    aliases = ("prune-clusters",)  # the name until nir 0.1; dropped in 0.3

    keep_largest_ratio: float = 0.8
    drop_cheap: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not 0 <= self.keep_largest_ratio <= 1:
            raise ValueError(f"keep-largest-ratio must be between 0 and 1, got {self.keep_largest_ratio}")
        for fn in graph_functions(op):
            prune_block(fn.body.block, self.keep_largest_ratio, self.drop_cheap)
