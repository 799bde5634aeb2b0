"""lower-clusters{target=inferentia2}: make sure every cluster lowers to HLO its compiler takes.

For targets whose compiler takes XLA HLO (inferentia2, trainium), legalize's op table says
what tf2xla has kernels for, but a kernel can still refuse a particular node (an input that
must be a compile-time constant, a dtype the kernel lacks), and the lowered HLO can hold an
opcode neuronx-cc does not take. This pass lowers each cluster with TensorFlow's tf2xla (the
lowering is cached, so emitting the workdir later costs nothing more) and, for a cluster that
fails:

- the nodes tf2xla's message names go to CPU with that message as their reason, the cluster
  is dissolved and its block clustered again, so the rest still reaches the accelerator;
- when the message names no node of the cluster, or the HLO holds opcodes outside the
  compiler's table, the whole cluster goes to CPU with that reason.

It repeats until every cluster lowers. On other targets it does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block
from xdsl.passes import ModulePass

from backends.neuronx.lowering import LoweringError, lower_cluster
from backends.neuronx.target import NeuronxTarget
from nir.ir.control_flow import graph_functions, loop_conditions
from nir.ir.module import entry_function
from nir.ir.neuron_dialect import ClusterOp
from nir.ir.queries import set_cpu_reason
from nir.ir.tf_dialect import TFNodeOp
from nir.passmanager.registry import register_pass
from nir.target import Target, get_target
from passes.cluster import DEFAULT_MAX_CLUSTER_BYTES, ClusterPass, dissolve


@dataclass(frozen=True)
class Failure:
    reason: str
    nodes: frozenset[str]  # the nodes to blame; empty: the whole cluster


def lowering_failure(cluster: ClusterOp, target: Target) -> Failure | None:
    # Imported here: NeuronOp's graph is TensorFlow's, which listing the passes (nir opt) must not load.
    from backends.neuron.neuron_op import cluster_graph

    # Placeholders named input_<i> and no versions: already the canonical form emission uses.
    inner, inputs, outputs = cluster_graph(cluster, [f"input_{i}" for i in range(len(cluster.inputs))])
    graph = inner.SerializeToString(deterministic=True)
    try:
        lowered = lower_cluster(graph, tuple(inputs), tuple(outputs))
    except LoweringError as err:
        members = {op.node_name for op in cluster.block.ops if isinstance(op, TFNodeOp)}
        return Failure(f"tf2xla cannot lower it: {err.message}", frozenset(err.nodes) & members)
    refused = sorted(lowered.opcodes - target.compiler_ops)
    if refused:
        return Failure(
            f"its cluster lowers to HLO {', '.join(refused)}, which {target.compiler} does not take "
            f"({target.compiler_ops_source})", frozenset(),
        )
    return None


@register_pass
@dataclass(frozen=True)
class LowerClustersPass(ModulePass):
    """Lower every cluster to HLO with tf2xla; send what does not lower to CPU, with tf2xla's reason."""

    name = "tf-lower-clusters"
    aliases = ("lower-clusters",)  # the name until nir 0.1; dropped in 0.3

    target: str = "inferentia2"
    neuron_cc: str = ""
    minimum_segment_size: int = 2
    max_cluster_bytes: int = DEFAULT_MAX_CLUSTER_BYTES

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = get_target(self.target, self.neuron_cc or None)
        if not isinstance(target, NeuronxTarget):
            return
        entry = entry_function(op)
        conditions = loop_conditions(op)
        for fn in graph_functions(op):
            if fn.sym_name.data not in conditions:
                self.lower_block(fn, target, "" if fn is entry else fn.sym_name.data)

    def lower_block(self, fn: func.FuncOp, target: Target, scope: str) -> None:
        block: Block = fn.body.block
        clusterer = ClusterPass(self.minimum_segment_size, self.max_cluster_bytes)
        # Each round sends at least one op to CPU for good, so this ends.
        while True:
            failures = [(c, f) for c in list(block.ops) if isinstance(c, ClusterOp)
                        if (f := lowering_failure(c, target)) is not None]
            if not failures:
                return
            for cluster, failure in failures:
                ops = [o for o in cluster.block.ops if isinstance(o, TFNodeOp)]
                blamed = [o for o in ops if o.node_name in failure.nodes] or ops
                for member in blamed:
                    set_cpu_reason(member, failure.reason)
                dissolve(cluster)
            clusterer.cluster_block(block, scope)
