"""What TensorFlow's OpDefs say about op types that passes need without loading TensorFlow.

Passes that only move ops (`dce`, say) must not cost `nir opt` TensorFlow's start-up of
seconds. When TensorFlow is already loaded (any compile), its live OpDef registry answers, which
also knows custom ops a user loaded; otherwise a snapshot of TensorFlow's registry shipped with
nir (`tf_op_facts.json`, regenerated with `python -m nir.ir.op_facts --write`) does. An op type
neither knows (a custom op) counts as stateful, so nothing removes it.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from importlib import resources

FACTS_FILE = "tf_op_facts.json"


@functools.lru_cache(maxsize=1)
def _snapshot() -> tuple[frozenset[str], frozenset[str]]:
    facts = json.loads(resources.files("nir.ir").joinpath(FACTS_FILE).read_text())
    return frozenset(facts["stateful"]), frozenset(facts["stateless"])


@functools.lru_cache(maxsize=None)
def _live_is_stateful(op_type: str) -> bool:
    from tensorflow.python.framework import op_def_registry

    op_def = op_def_registry.get(op_type)
    return op_def is None or op_def.is_stateful


def is_stateful(op_type: str) -> bool:
    """Whether ops of this type have side effects (variables, queues, prints, random ops) or
    are unknown: either way, passes must keep them."""
    if "tensorflow" in sys.modules:
        return _live_is_stateful(op_type)
    stateful, stateless = _snapshot()
    return op_type not in stateless or op_type in stateful


def write_snapshot(path: str) -> tuple[int, int]:
    """Regenerate the snapshot from the installed TensorFlow's registry."""
    import tensorflow as tf
    from tensorflow.python.framework import op_def_registry

    stateful, stateless = [], []
    for name in sorted(dir(tf.raw_ops)):
        op_def = None if name.startswith("_") else op_def_registry.get(name)
        if op_def is not None:
            (stateful if op_def.is_stateful else stateless).append(name)
    with open(path, "w") as f:
        json.dump({"tensorflow": tf.__version__, "generated_by": "python -m nir.ir.op_facts --write",
                   "stateful": stateful, "stateless": stateless}, f, indent=0)
    return len(stateful), len(stateless)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"regenerate {FACTS_FILE} from this TensorFlow")
    args = parser.parse_args(argv)
    if args.write:
        path = str(resources.files("nir.ir").joinpath(FACTS_FILE))
        stateful, stateless = write_snapshot(path)
        print(f"wrote {path}: {stateful} stateful and {stateless} stateless op types")
    return 0


if __name__ == "__main__":
    sys.exit(main())
