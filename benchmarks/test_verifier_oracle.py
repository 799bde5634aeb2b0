"""TensorFlow as the verifier's oracle, at scale: thousands of mutated graphs, each judged by
TensorFlow and by nir (tests/oracle.py), and the disagreements counted.

    NIR_ORACLE_EXAMPLES=5000 python -m pytest benchmarks/test_verifier_oracle.py --benchmark-enable

The count is recorded in benchmarks/README.md; any disagreement fails the run and lists the
cases (each is reproduced by `oracle.case(index)`).
"""

from __future__ import annotations

import collections
import os
import time

import oracle

EXAMPLES = int(os.environ.get("NIR_ORACLE_EXAMPLES", "2000"))


def test_verifier_agrees_with_tensorflow(benchmark):
    benchmark.group = "verifier oracle"
    oracle.seeds()  # built once, not timed
    outcome: dict = {}

    def run():
        started = time.perf_counter()
        verdicts = [oracle.judge(case) for case in oracle.cases(EXAMPLES)]
        outcome["seconds"] = time.perf_counter() - started
        outcome["verdicts"] = verdicts

    benchmark.pedantic(run, rounds=1, iterations=1)
    verdicts = outcome["verdicts"]
    disagreements = [v for v in verdicts if not v.agree]
    by_kind = collections.Counter((v.case.kind, v.tensorflow is not None) for v in verdicts)
    benchmark.extra_info.update({
        "cases": len(verdicts),
        "disagreements": len(disagreements),
        "refused_by_tensorflow": sum(v.tensorflow is not None for v in verdicts),
        "ms_per_case": round(1000 * outcome["seconds"] / len(verdicts), 1),
        "by_mutation": {f"{kind} ({'refused' if refused else 'accepted'})": n for (kind, refused), n in sorted(by_kind.items())},
    })
    assert not disagreements, "\n".join(map(str, disagreements))
