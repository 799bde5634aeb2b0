"""Print the zoo-quality table (markdown) from pytest-benchmark JSONs of test_zoo_quality.py
(one, or several from runs over parts of the zoo, in the order given).

    python benchmarks/quality_table.py benchmarks/zoo_quality.json
"""

from __future__ import annotations

import json
import sys


def rows(results: dict) -> list[str]:
    lines = [
        "| model | input | clusters | OnNeuronRatio | ops on CPU (by reason) | compile s |",
        "|---|---|---|---|---|---|",
    ]
    for bench in results["benchmarks"]:
        info = bench["extra_info"]
        name = bench["params"]["name"]
        side = info.get("input_side")
        size = f"{side}x{side}" if side else "-"
        clusters = str(info["clusters"])
        if info.get("body_clusters"):
            clusters += f" ({info['body_clusters']} in loop bodies)"
        cpu = ", ".join(f"{reason} x{count}" for reason, count in info["cpu_by_reason"].items()) or "none"
        lines.append(
            f"| {name} | {size} | {clusters} | {info['on_neuron_ratio']:.3f} | {cpu} | {bench['stats']['min']:.1f} |"
        )
    return lines


def main(paths: list[str]) -> None:
    merged: dict = {"benchmarks": []}
    for path in paths:
        with open(path) as f:
            merged["benchmarks"].extend(json.load(f)["benchmarks"])
    print("\n".join(rows(merged)))


if __name__ == "__main__":
    main(sys.argv[1:])
