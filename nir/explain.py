"""`nir explain`: why each op stayed on CPU, and what each cluster holds -- as a report, as
JSON, or as a picture (`svg`).

First come the ops that cut the graph: CPU ops downstream of one cluster and upstream of
another (through data or control edges). They are why a model has N clusters rather than one,
so they are listed by node name. The other CPU ops (before the first cluster or after the last)
cost a host round trip at most and are counted by op type and reason.
"""

from __future__ import annotations

import json
from collections import Counter

from xdsl.dialects.builtin import DictionaryAttr, ModuleOp, StringAttr

from nir.ir.attr_names import NOT_UNROLLED, UNROLLED_LOOPS
from nir.ir.control_flow import WHILE_OPS, graph_functions
from nir.ir.module import entry_function
from nir.ir.neuron_dialect import ClusterOp
from nir.ir.queries import stated_cpu_reason
from nir.ir.shapes import describe_type
from nir.ir.tf_dialect import TFNodeOp
from nir.partition_svg import partition_svg
from nir.pipeline import default_pipeline, import_saved_model, run_pipeline


def ops_between_clusters(block) -> list:
    """CPU ops that a cluster reaches and that reach a cluster, in block order."""
    ops = [op for op in block.ops if isinstance(op, (TFNodeOp, ClusterOp))]
    after_cluster: set = set()
    for op in ops:
        if any(isinstance(v.owner, ClusterOp) or v.owner in after_cluster for v in op.operands):
            after_cluster.add(op)
    before_cluster: set = set()
    for op in reversed(ops):
        if any(isinstance(u.operation, ClusterOp) or u.operation in before_cluster
               for r in op.results for u in r.uses):
            before_cluster.add(op)
    return [op for op in ops if isinstance(op, TFNodeOp) and op in after_cluster and op in before_cluster]


def explain_loops(module: ModuleOp) -> list[dict]:
    """Every functional loop the model had: those unroll-loops unrolled, with their trip
    counts, then those left loops, with why."""
    unrolled = module.attributes.get(UNROLLED_LOOPS)
    loops = [{"loop": name, "unrolled": True, "trips": trips.value.data}
             for name, trips in (unrolled.data.items() if isinstance(unrolled, DictionaryAttr) else ())]
    entry = entry_function(module)
    for fn in graph_functions(module):
        for op in fn.body.block.ops:
            if isinstance(op, TFNodeOp) and op.tf_type in WHILE_OPS:
                why = op.properties.get(NOT_UNROLLED)
                loops.append({
                    "loop": op.node_name if fn is entry else f"{fn.sym_name.data}/{op.node_name}", "unrolled": False,
                    "reason": why.data if isinstance(why, StringAttr) else "unroll-loops did not run",
                })
    return loops


def explain_module(module: ModuleOp) -> dict:
    """{"cuts": [{node, op_type, reason}], "cpu": [{op_type, reason, count, nodes}],
    "clusters": [{name, ops, op_types, inputs, outputs}], "loops": [{loop, unrolled, trips or
    reason}]}."""
    entry = entry_function(module)
    cpu: Counter = Counter()
    nodes: dict = {}
    clusters = []
    cuts = []
    for fn in graph_functions(module):
        where = "" if fn is entry else fn.sym_name.data
        _explain_block(fn.body.block, where, cpu, nodes, clusters)
        cuts.extend(
            {"node": op.node_name, "op_type": op.tf_type, "reason": stated_cpu_reason(op),
             **({"function": where} if where else {})}
            for op in ops_between_clusters(fn.body.block)
        )
    rows = [
        {"op_type": t, "reason": r, "count": c, "nodes": nodes[(t, r)]}
        for (t, r), c in sorted(cpu.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return {"cuts": cuts, "cpu": rows, "clusters": clusters, "loops": explain_loops(module)}


def _explain_block(block, where: str, cpu: Counter, nodes: dict, clusters: list) -> None:
    for op in block.ops:
        if isinstance(op, TFNodeOp):
            key = (op.tf_type, stated_cpu_reason(op))
            cpu[key] += 1
            nodes.setdefault(key, []).append(op.node_name)
        elif isinstance(op, ClusterOp):
            inner = [o for o in op.block.ops if isinstance(o, TFNodeOp)]
            clusters.append({
                "name": op.cluster_name.data,
                **({"function": where} if where else {}),
                "ops": len(inner),
                "op_types": dict(sorted(Counter(o.tf_type for o in inner).items())),
                "inputs": [describe_type(v.type) for v in op.inputs],
                "outputs": [describe_type(v.type) for v in op.outputs],
            })



def format_report(report: dict, show_nodes: bool = False) -> str:
    lines = []
    if report["cuts"]:
        lines.append(f"CPU ops between clusters ({len(report['cuts'])}; each one splits the graph):")
        for cut in report["cuts"]:
            where = f" [in {cut['function']}]" if "function" in cut else ""
            lines.append(f"  {cut['node']}  ({cut['op_type']}){where}: {cut['reason']}")
        lines.append("")
    lines.append("Ops left on CPU:")
    if not report["cpu"]:
        lines.append("  (none)")
    width = max([len(r["op_type"]) for r in report["cpu"]] + [7])
    for row in report["cpu"]:
        lines.append(f"  {row['op_type']:<{width}}  {row['count']:6d}  {row['reason']}")
        if show_nodes:
            lines.extend(f"      {node}" for node in row["nodes"])
    lines.append("")
    lines.append(f"Clusters ({len(report['clusters'])}):")
    for c in report["clusters"]:
        where = f" (in loop/branch body {c['function']})" if "function" in c else ""
        lines.append(f"  {c['name']}: {c['ops']} ops{where}")
        lines.append(f"    inputs:  {', '.join(c['inputs']) or '-'}")
        lines.append(f"    outputs: {', '.join(c['outputs']) or '-'}")
    loops = report.get("loops", [])
    if loops:
        lines.append("")
        lines.append(f"Loops ({len(loops)}):")
        for loop in loops:
            if loop["unrolled"]:
                lines.append(f"  {loop['loop']}: unrolled, {loop['trips']} iteration{'s' * (loop['trips'] != 1)}")
            else:
                lines.append(f"  {loop['loop']}: kept as a loop, {loop['reason']}")
    return "\n".join(lines) + "\n"


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=True)


def svg(source, *, layout: str = "auto", title: str | None = None, pipeline: str | None = None,
        batch_size: int = 1, tags=None, signature_def_key: str | None = None) -> str:
    """The partition as SVG text. `source` is a module the pipeline already ran on, or a
    SavedModel directory, which is imported and run through `pipeline` (default: the default
    pipeline at `batch_size`). layout: "auto" (Graphviz dot when installed), "dot" or "python"."""
    if isinstance(source, ModuleOp):
        return partition_svg(source, layout, title or "")

    module, _ = import_saved_model(source, tags, signature_def_key)
    run_pipeline(module, pipeline or default_pipeline(batch_size))
    return partition_svg(module, layout, title if title is not None else picture_title(source, module))


def picture_title(model_dir: str, module: ModuleOp) -> str:
    import os

    clusters = len(explain_module(module)["clusters"])
    return f"{os.path.basename(os.path.normpath(model_dir))}: {clusters} cluster{'' if clusters == 1 else 's'}"
