"""Why an op stays on CPU: the kinds of reason, in one place.

A pass that keeps an op off the target records a sentence (`nir.ir.queries.set_cpu_reason`),
which dumps, `nir explain` and compile warnings show as written. Tools that group or act on
reasons (the partition picture's legend, explain's summary, legalize's force_fuse_ops rule)
ask `CpuReason.of(sentence)` for its kind instead of matching words of their own, so a change
of wording is made here once.
"""

from __future__ import annotations

from enum import Enum


class CpuReason(Enum):
    """key: stable, for tools and the SVG's CSS; title: a kind's name in legends and
    summaries; marker: the words every sentence of this kind contains (kinds are tried in
    order, so a sentence belongs to the first kind whose marker it contains)."""

    NO_FUSE_OPS = ("no-fuse-ops", "user's no_fuse_ops", "listed in no_fuse_ops")
    NOT_INLINED = ("call", "function call not inlined", "function call not inlined")
    NOT_UNROLLED = ("loop", "loop not unrolled", "loop not unrolled")
    IO_STAND_IN = ("io-stand-in", "graph input/output stand-in", "graph input or output stand-in")
    NEVER_ON_TARGET = ("never-on-target", "never placed on the target", " is never placed on ")
    UNSUPPORTED_OP = ("unsupported-op", "op type not supported", "op type ")
    DTYPE = ("dtype", "dtype not supported", "dtype ")
    BOUNDARY_DTYPE_IN = ("boundary-dtype", "int64/float64 crossing a cluster boundary", "tensor entering its cluster")
    BOUNDARY_DTYPE_OUT = ("boundary-dtype", "int64/float64 crossing a cluster boundary", "tensor leaving its cluster")
    DYNAMIC_SHAPE = ("dynamic-shape", "shape not fully static", "shape not fully static")
    CONTROL_EDGE = ("control-edge", "control edge", "control edge")
    LOOP_CONDITION = ("loop-condition", "loop condition", "in a loop condition")
    SMALL_CLUSTER = ("small-cluster", "cluster below minimum_segment_size", "in a cluster of")
    CONSTANT_ONLY = ("constant-only", "computes from constants only", "computes from constants alone")
    SHARED_CONSTANT = ("shared-constant", "constant also read on CPU", "Const also read outside")
    NOT_PLACED = ("not-legalized", "not placed by legalize", "not placed by legalize")
    OTHER = ("other", "other", None)

    def __init__(self, key: str, title: str, marker: str | None):
        self.key, self.title, self.marker = key, title, marker

    @classmethod
    def of(cls, sentence: str | None) -> CpuReason:
        """The kind of a recorded reason; None (no reason recorded) is NOT_PLACED."""
        if sentence is None:
            return cls.NOT_PLACED
        return next((kind for kind in cls if kind.marker is not None and kind.marker in sentence), cls.OTHER)


# What explain and the picture say of an op no pass placed or refused.
NOT_PLACED_SENTENCE = CpuReason.NOT_PLACED.marker
