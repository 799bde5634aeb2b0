"""Print the zoo-quality table (markdown) from a pytest-benchmark JSON of test_zoo_quality.py.

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


def main(path: str) -> None:
    with open(path) as f:
        results = json.load(f)
    print("\n".join(rows(results)))


if __name__ == "__main__":
    main(sys.argv[1])
