"""Print the README's per-target table from a `benchmarks/test_targets.py` JSON.

    python benchmarks/targets_table.py benchmarks/targets.json
"""

from __future__ import annotations

import json
import sys

from zoo_table import LABELS


def main(path: str) -> None:
    with open(path) as f:
        results = json.load(f)
    rows: dict[str, dict[str, dict]] = {}
    for bench in results["benchmarks"]:
        info = bench["extra_info"]
        rows.setdefault(info["model"], {})[info["target"]] = {**info, "seconds": bench["stats"]["min"]}
    print("| model | inferentia: clusters | OnNeuronRatio | compile s | inferentia2: clusters | OnNeuronRatio "
          "| compile s | of which tf2xla lowering s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, label in LABELS.items():
        if name not in rows:
            continue
        inf1, inf2 = rows[name].get("inferentia", {}), rows[name].get("inferentia2", {})

        def cells(info: dict) -> str:
            if not info:
                return "- | - | -"
            return f"{info['clusters']} | {info['on_neuron_ratio']:.3f} | {info['seconds']:.1f}"

        lowering = f"{inf2['lowering_seconds']:.1f}" if inf2 else "-"
        print(f"| {label} | {cells(inf1)} | {cells(inf2)} | {lowering} |")
    print(f"\n(commit {results['commit_info']['id'][:12]}{', dirty tree' if results['commit_info'].get('dirty') else ''}, "
          f"{results['datetime'][:10]})")


if __name__ == "__main__":
    main(sys.argv[1])
