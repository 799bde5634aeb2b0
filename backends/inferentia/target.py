"""The Inferentia target: which TensorFlow ops neuron-cc accepts, and under what constraints.

The op table comes from `neuron-cc list-operators --framework TENSORFLOW` when neuron-cc is
installed (the compiler is the authority), else from the table shipped with nir, rebuilt from
the Neuron release notes.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources

from xdsl.dialects.builtin import Float64Type, IntegerType

from nir.errors import NirInputError

logger = logging.getLogger("nir")

# Ops that never go to the accelerator whatever the table says: graph inputs, and IdentityN,
# which nir uses to keep signature output names.
NEVER_ON_TARGET = frozenset({"Placeholder", "PlaceholderWithDefault", "IdentityN", "NeuronOp"})
# Ops that do not count towards a cluster's minimum size (they compute nothing).
FREE_OPS = frozenset({"Identity", "Snapshot", "StopGradient", "NoOp"})
# dtypes neuron-cc cannot take anywhere in a cluster.
UNSUPPORTED_DTYPES = frozenset({"string", "resource", "variant"})
# dtypes that may not cross a cluster boundary.
BOUNDARY_FORBIDDEN = frozenset({IntegerType(64), Float64Type()})


@dataclass(frozen=True)
class Target:
    name: str
    supported_ops: frozenset[str]
    source: str


def find_neuron_cc(explicit: str | None = None) -> str | None:
    """The absolute path of neuron-cc: `explicit` (a path, or a name looked up on PATH) when
    given -- an error if it is not an executable -- else neuron-cc on PATH, else None."""
    if not explicit:
        return shutil.which("neuron-cc")
    if os.sep in explicit or os.path.exists(explicit):
        path = explicit
    else:
        path = shutil.which(explicit)
        if path is None:
            raise NirInputError(
                f"neuron_cc='{explicit}' is not on PATH; pass the path of neuron-cc, or leave "
                "neuron_cc out to use the one on PATH"
            )
    if not os.path.isfile(path):
        raise NirInputError(f"neuron_cc='{explicit}' does not exist; pass the path of the neuron-cc executable")
    if not os.access(path, os.X_OK):
        raise NirInputError(f"neuron_cc='{explicit}' is not executable; `chmod +x` it or pass another path")
    # neuron-cc runs inside each cluster's folder: a relative path would not resolve there.
    return os.path.abspath(path)


def _shipped_ops() -> frozenset[str]:
    text = resources.files("backends.inferentia").joinpath("tensorflow_ops.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def _neuron_cc_ops(neuron_cc: str) -> frozenset[str] | None:
    try:
        result = subprocess.run(
            [neuron_cc, "list-operators", "--framework", "TENSORFLOW"],
            capture_output=True, text=True, timeout=120, check=True,
        )
    except (OSError, subprocess.SubprocessError) as err:
        said = (getattr(err, "stderr", None) or "").strip().splitlines()
        logger.warning("'%s list-operators' failed (%s%s); using nir's shipped op table",
                       neuron_cc, err, f": {said[-1]}" if said else "")
        return None
    ops = frozenset(line.strip() for line in result.stdout.splitlines() if line.strip())
    if not ops:
        logger.warning("'%s list-operators' printed no operator; using nir's shipped op table", neuron_cc)
    return ops or None


def inferentia_target(neuron_cc: str | None = None) -> Target:
    path = find_neuron_cc(neuron_cc)
    if path is None:
        return Target("inferentia", _shipped_ops(), "nir's shipped table (neuron-cc not installed)")
    # Keyed by the file's mtime too: a neuron-cc upgraded in place may support other ops.
    return _listed_target(path, os.stat(path).st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _listed_target(path: str, mtime_ns: int) -> Target:
    ops = _neuron_cc_ops(path)
    if ops is None:
        return Target("inferentia", _shipped_ops(), f"nir's shipped table ('{path} list-operators' failed)")
    return Target("inferentia", ops, f"{path} list-operators")


TARGETS = {"inferentia": inferentia_target}


def get_target(name: str, neuron_cc: str | None = None) -> Target:
    """The target `name`; `neuron_cc` is the compiler to ask for its op table (default: on PATH)."""
    try:
        make = TARGETS[name]
    except KeyError:
        raise ValueError(f"unknown target '{name}'; known targets: {sorted(TARGETS)}") from None
    return make(neuron_cc)
