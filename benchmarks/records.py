"""The committed benchmark records as a bar: a rerun that partitions a model worse fails.

A survey records each model's clusters and on-accelerator share in its JSON (pytest-benchmark's
`extra_info`); the README quotes them. A rerun must match the cluster count exactly (fewer is
progress, and the record is rerun and committed with it), see every cluster compiled by the
stand-in, and keep at least the recorded share.

A rerun that is to become the new record (new models, a change that improves some) runs with
NIR_NEW_RECORD=1: it still requires every cluster compiled, but does not hold the figures to
the old record; pytest-benchmark drops a failed test's figures, so the rerun must pass to record
anything. Compare the two with `python benchmarks/quality_table.py` before committing.
"""

from __future__ import annotations

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def recorded_rows(*files: str) -> dict[tuple, dict]:
    """(params as sorted items) -> extra_info, over the committed JSON files named."""
    rows = {}
    for name in files:
        with open(os.path.join(HERE, name)) as f:
            rows.update({tuple(sorted(b["params"].items())): b["extra_info"] for b in json.load(f)["benchmarks"]})
    return rows


def assert_no_worse_than_recorded(report: dict, recorded: dict | None, what: str) -> None:
    assert report["NumCompiledClusters"] == report["NumClusters"], f"{what}: the stand-in refused a cluster"
    if os.environ.get("NIR_NEW_RECORD") == "1":
        return
    assert recorded is not None, f"{what} has no committed record: run the survey and commit its JSON"
    assert report["NumClusters"] == recorded["clusters"], \
        f"{what}: {report['NumClusters']} clusters, the record has {recorded['clusters']}"
    assert round(report["OnNeuronRatio"], 4) >= recorded["on_neuron_ratio"], \
        f"{what}: OnNeuronRatio {report['OnNeuronRatio']:.4f}, the record has {recorded['on_neuron_ratio']}"
