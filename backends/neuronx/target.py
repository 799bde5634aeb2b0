"""The Inferentia2 and Trainium targets: clusters go to neuronx-cc as XLA HLO.

Which TensorFlow ops may join a cluster is TensorFlow's answer, not a list of nir's: an op type
is legal when tf2xla has a kernel for it (the XLA_CPU_JIT kernels of TensorFlow's registry,
read once per process). Control-flow and call ops are left out on purpose: nir clusters the
bodies of loops and branches separately, and the loop itself stays on the host.

Which HLO opcodes neuronx-cc takes is neuronx-cc's answer (`list-operators --framework XLA`)
when it is installed, else the approximate table shipped in xla_ops.txt, whose sources its
header names. The `lower-clusters` pass holds each lowered cluster to it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources

from backends.compile_cache import default_cache_root
from backends.neuron.rules import NEURON_RULES
from backends.neuronx.lowering import forget_lowerings
from nir.ir.control_flow import CALL_OPS, CONTROL_FLOW_OPS
from nir.target import Target, find_compiler, list_operators

COMPILER = "neuronx-cc"
# nir's target name -> neuronx-cc's --target.
COMPILER_TARGETS = {"inferentia2": "inf2", "trainium": "trn1"}
_STRUCTURAL = CONTROL_FLOW_OPS | CALL_OPS | {"NeuronOp"}


@functools.lru_cache(maxsize=1)
def xla_op_types() -> frozenset[str]:
    """The TensorFlow op types tf2xla can lower: those with an XLA_CPU_JIT kernel. Asked once
    per TensorFlow version and kept in nir's cache folder (NIR_CACHE_DIR, default
    ~/.cache/nir), since the answer changes only with TensorFlow."""
    import tensorflow as tf

    path = os.path.join(cache_dir(), f"tf2xla-ops-{tf.__version__}.json")
    try:
        with open(path) as f:
            return frozenset(json.load(f)) - _STRUCTURAL
    except (OSError, ValueError):
        pass
    found = _probe_xla_op_types()
    _write_atomically(path, json.dumps(sorted(found)))
    return found - _STRUCTURAL


def _probe_xla_op_types() -> frozenset[str]:
    import tensorflow as tf
    from tensorflow.python.framework import kernels

    # tf2xla registers its kernels when the first XLA device starts.
    tf.function(lambda x: x + 1, jit_compile=True, autograph=False)(tf.constant(1.0))
    return frozenset(
        name for name in dir(tf.raw_ops)
        if not name.startswith("_")
        and any(k.device_type == "XLA_CPU_JIT" for k in kernels.get_registered_kernels_for_op(name).kernel)
    )


def cache_dir() -> str:
    return default_cache_root()


def _write_atomically(path: str, text: str) -> None:
    """Best effort: a cache nir cannot write is only a slower next start."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(path), delete=False, suffix=".tmp") as f:
            f.write(text)
        os.replace(f.name, path)
    except OSError:
        pass


def _shipped_opcodes() -> frozenset[str]:
    text = resources.files("backends.neuronx").joinpath("xla_ops.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def find_neuronx_cc(explicit: str | None = None) -> str | None:
    return find_compiler(COMPILER, explicit)


@functools.lru_cache(maxsize=8)
def _compiler_opcodes(path: str | None, mtime_ns: int) -> tuple[frozenset[str], str]:
    if path is not None:
        ops = list_operators(path, "XLA")
        if ops is not None:
            return ops, f"{path} list-operators --framework XLA"
    why = "neuronx-cc not installed" if path is None else f"'{path} list-operators' failed"
    return _shipped_opcodes(), f"nir's shipped HLO table backends/neuronx/xla_ops.txt ({why})"


@dataclass(frozen=True)
class NeuronxTarget(Target):
    """inf2 and trn1: each cluster is lowered to XLA HLO by tf2xla, checked by the
    lower-clusters pass against the opcodes neuronx-cc takes, and compiled into model.neff.
    compiler_target: neuronx-cc's `--target`; compiler_ops: the HLO opcodes it takes, and
    compiler_ops_source where that list came from."""

    compiler_target: str = ""
    compiler_ops: frozenset[str] = frozenset()
    compiler_ops_source: str = ""

    rules = NEURON_RULES
    neff_file = "model.neff"
    compiler_name = COMPILER

    @classmethod
    def make(cls, name: str, compiler: str | None) -> Target:
        path = find_neuronx_cc(compiler)
        opcodes, source = _compiler_opcodes(path, os.stat(path).st_mtime_ns if path else 0)
        return cls(
            name, xla_op_types(), "TensorFlow's tf2xla kernel registry", compiler=COMPILER,
            compiler_target=COMPILER_TARGETS[name], compiler_ops=opcodes, compiler_ops_source=source,
        )

    @classmethod
    def pipeline_step(cls, name: str, minimum_segment_size: int, cluster_options: str, compiler: str | None) -> str:
        quoted = f' neuron-cc="{compiler}"' if compiler else ""
        return f"tf-lower-clusters{{target={name} minimum-segment-size={minimum_segment_size}{cluster_options}{quoted}}},"

    def emit(self, graph_def, workdir: str, compiler: str, compiler_args: Sequence[str]) -> list:
        # Imported here: emission loads TensorFlow, which registering the target must not.
        from backends.neuronx.emit import emit_hlo_clusters

        return emit_hlo_clusters(graph_def, workdir, compiler, compiler_args, self)

    @contextlib.contextmanager
    def compile_scope(self) -> Iterator[None]:
        """HLO lowerings (which hold the weights) live as long as one compile, whatever its end."""
        try:
            yield
        finally:
            forget_lowerings()
