"""Print the zoo-quality table (markdown) from pytest-benchmark JSONs of test_zoo_quality.py
(one, or several from runs over parts of the zoo, in the order given).

    python benchmarks/quality_table.py benchmarks/zoo_quality.json
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


MOST_REASONS = 3  # the rest is in the JSON


def _cpu_summary(by_reason: dict) -> str:
    ordered = sorted(by_reason.items(), key=lambda kv: -kv[1])
    shown = [f"{reason} x{count}" for reason, count in ordered[:MOST_REASONS]]
    if len(ordered) > MOST_REASONS:
        shown.append(f"{sum(c for _, c in ordered[MOST_REASONS:])} more")
    return "; ".join(shown) or "none"


def rows(results: dict) -> list[str]:
    from test_zoo_quality import KERAS_APPLICATIONS, NIR_MODELS

    order = {name: i for i, name in enumerate([*KERAS_APPLICATIONS, *NIR_MODELS])}
    lines = [
        "| model | input | clusters | OnNeuronRatio | dynamic batch: clusters | OnNeuronRatio | answers (rtol) | "
        "ops on CPU (most common reasons) | compile s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for bench in sorted(results["benchmarks"], key=lambda b: order.get(b["params"]["name"], len(order))):
        info = bench["extra_info"]
        name = bench["params"]["name"]
        side = info.get("input_side")
        size = f"{side}x{side}" if side else "-"
        clusters = str(info["clusters"])
        if info.get("body_clusters"):
            clusters += f" ({info['body_clusters']} in loop bodies)"
        cpu = _cpu_summary(info["cpu_by_reason"])
        dynamic = (f"{info['dynamic_clusters']} | {info['dynamic_on_neuron_ratio']:.3f}"
                   if "dynamic_clusters" in info else "- | -")
        lines.append(f"| {name} | {size} | {clusters} | {info['on_neuron_ratio']:.3f} | {dynamic} | {_answers(info)} | "
                     f"{cpu} | {bench['stats']['min']:.1f} |")
    return lines


def _answers(info: dict) -> str:
    """How closely the dynamic-batch model, inlined, answered at batch 1, 3 and 8."""
    if "dynamic_answer_rtol" not in info:
        return "≤ 1e-4" if "dynamic_clusters" in info else "-"  # runs before the figure was kept
    text = f"{info['dynamic_answer_rtol']:.1e}"
    if "dynamic_noise_rtol" in info:
        text += f" (TF's own: {info['dynamic_noise_rtol']:.1e})"
    if info.get("dynamic_answers_without_grappler"):
        text += " (without Grappler)"
    return text


def main(paths: list[str]) -> None:
    merged: dict = {"benchmarks": []}
    for path in paths:
        with open(path) as f:
            merged["benchmarks"].extend(json.load(f)["benchmarks"])
    print("\n".join(rows(merged)))


if __name__ == "__main__":
    main(sys.argv[1:])
