"""TensorFlow is the verifier's oracle: on graphs made by mutating real ones, nir refuses exactly
what TensorFlow refuses (see `oracle.py` for the seeds, the mutations and both verdicts).

The suite runs a few hundred cases; the benchmark runs thousands:

    NIR_ORACLE_EXAMPLES=5000 python -m pytest benchmarks/test_verifier_oracle.py --benchmark-enable
"""

from __future__ import annotations

import collections
import os

import oracle

EXAMPLES = int(os.environ.get("NIR_ORACLE_EXAMPLES", "400"))


def test_nir_refuses_exactly_what_tensorflow_refuses():
    verdicts = [oracle.judge(case) for case in oracle.cases(EXAMPLES)]
    disagreements = [v for v in verdicts if not v.agree]
    assert not disagreements, f"{len(disagreements)} of {len(verdicts)} cases:\n" + "\n".join(map(str, disagreements))
    # Both verdicts are common, or agreeing would say little.
    refused = sum(v.tensorflow is not None for v in verdicts)
    assert 0.3 * len(verdicts) < refused < 0.8 * len(verdicts), refused


def test_every_seed_is_valid_and_every_mutation_is_drawn():
    for seed in oracle.seeds():
        assert oracle.tensorflow_verdict(seed.graph_def) is None, seed.name
    drawn = collections.Counter(case.kind for case in oracle.cases(EXAMPLES))
    assert set(drawn) == {m.__name__ for m in oracle.MUTATIONS} | {"unchanged"}, drawn


def test_a_case_is_the_same_graph_every_time():
    """A disagreement found in a long run is reproduced by its number alone."""
    a, b = oracle.case(1234), oracle.case(1234)
    assert a.mutation == b.mutation
    assert a.graph_def.SerializeToString(deterministic=True) == b.graph_def.SerializeToString(deterministic=True)


def test_tensorflow_refuses_what_only_its_mlir_verifier_checks():
    """TensorFlow's classic importer builds a While whose body takes an extra argument (and even
    runs it); its MLIR verifier refuses it, and so does nir."""
    case = next(c for c in oracle.cases(20000) if c.seed.name == "control_flow"
                and "takes an extra argument" in c.mutation and "body" in c.mutation)
    verdicts = oracle.judge(case)
    assert verdicts.tensorflow is not None and verdicts.tensorflow.startswith("MLIR importer"), verdicts
    assert "[call-arity]" in verdicts.nir, verdicts
