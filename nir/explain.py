"""`nir explain`: why each op stayed on CPU, and what each cluster holds."""

from __future__ import annotations

import json
from collections import Counter

from xdsl.dialects.builtin import ModuleOp

from nir.ir.neuron_dialect import ClusterOp
from nir.ir.shapes import tf_shape
from nir.ir.tf_dialect import TFNodeOp


def explain_module(module: ModuleOp) -> dict:
    """{"cpu": [{op_type, reason, count}], "clusters": [{name, ops, inputs, outputs}]}."""
    from passes._util import cpu_reason, entry_function

    fn = entry_function(module)
    cpu: Counter = Counter()
    clusters = []
    for op in fn.body.block.ops:
        if isinstance(op, TFNodeOp):
            cpu[(op.tf_type, cpu_reason(op) or "not placed by legalize")] += 1
        elif isinstance(op, ClusterOp):
            inner = [o for o in op.block.ops if isinstance(o, TFNodeOp)]
            clusters.append({
                "name": op.cluster_name.data,
                "ops": len(inner),
                "op_types": dict(sorted(Counter(o.tf_type for o in inner).items())),
                "inputs": [_describe(v.type) for v in op.inputs],
                "outputs": [_describe(v.type) for v in op.outputs],
            })
    rows = [
        {"op_type": t, "reason": r, "count": c}
        for (t, r), c in sorted(cpu.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return {"cpu": rows, "clusters": clusters}


def _describe(ir_type) -> str:
    shape = tf_shape(ir_type)
    element = getattr(ir_type, "element_type", ir_type)
    dims = "?" if shape is None else "x".join("?" if d < 0 else str(d) for d in shape)
    return f"{dims}:{element}"


def format_report(report: dict) -> str:
    lines = ["Ops left on CPU:"]
    if not report["cpu"]:
        lines.append("  (none)")
    width = max([len(r["op_type"]) for r in report["cpu"]] + [7])
    for row in report["cpu"]:
        lines.append(f"  {row['op_type']:<{width}}  {row['count']:6d}  {row['reason']}")
    lines.append("")
    lines.append(f"Clusters ({len(report['clusters'])}):")
    for c in report["clusters"]:
        lines.append(f"  {c['name']}: {c['ops']} ops")
        lines.append(f"    inputs:  {', '.join(c['inputs']) or '-'}")
        lines.append(f"    outputs: {', '.join(c['outputs']) or '-'}")
    return "\n".join(lines) + "\n"


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=True)
