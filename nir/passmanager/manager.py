"""The pass manager: an xDSL PassPipeline plus MLIR-style instrumentation.

With no instrumentation asked for, `run` is exactly `PassPipeline.apply`: nothing is timed,
cloned or printed, so the manager costs nothing. Each instrument (IR printing, dumps, timing,
verification, crash reproducers) hooks into the pipeline's between-pass callback.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.utils.arg_spec import ArgSpecParseError, parse_pipeline

from nir.errors import NirError
from nir.ir.context import make_context
from nir.ir.text import DEFAULT_ELIDE_ABOVE, payloads_beside, print_module
from nir.ir.verifier import verify_tf_module
from nir.passmanager.registry import PipelineError, canonical_pass_name, pass_from_spec, pass_spec_string


class PassFailedError(NirError):
    """A pass raised or left invalid IR. `reproducer` is the file that re-runs it, if written."""

    def __init__(self, message: str, reproducer: str | None = None):
        super().__init__(message + (f"\nreproducer: {reproducer}" if reproducer else ""))
        self.reproducer = reproducer


class AfterPassHook(Protocol):
    """Something to write beside a step's dump: `passes` says after which passes, `option` how
    the user asked for it (for error messages)."""

    passes: Iterable[str]
    option: str

    def __call__(self, pass_name: str, module: ModuleOp, dump_base: str) -> None: ...


@dataclass(frozen=True)
class PassTiming:
    name: str
    seconds: float
    ops_before: int
    ops_after: int


def count_ops(module: ModuleOp) -> int:
    return sum(1 for _ in module.walk()) - 1


def parse_pipeline_string(pipeline: str) -> list[ModulePass]:
    if not pipeline.strip():
        return []
    try:
        specs = list(parse_pipeline(pipeline))
    except ArgSpecParseError as err:
        raise PipelineError(f"invalid pipeline string '{pipeline}': {err}") from None
    return [pass_from_spec(spec) for spec in specs]


@dataclass
class PassManager:
    """Runs passes over a module. Build it from pass objects or `PassManager.parse(text)`.

    Instrumentation (all off by default but verification):
    print_ir_before / print_ir_after: pass names (or "all") whose IR is printed to `ir_stream`;
    print_ir_after_change: print after a pass only if it changed the IR;
    dump_dir: write `000-input.mlir`, `001-<pass>.mlir`, ... there, each re-parseable;
    timing: record a PassTiming per pass (see `timing_report()`);
    verify_each: verify the IR after every pass;
    reproducer_dir: on failure, write the IR before the failing pass and the pipeline to re-run;
    after_pass: hooks called after the passes they name (`hook.passes`: names or "all") with the
    pass's name, the module and the dump path of the step without its extension (needs
    dump_dir): `nir.partition_svg.DrawPartition` draws the partition there, beside the IR.
    """

    passes: Sequence[ModulePass] = ()
    print_ir_before: Iterable[str] = ()
    print_ir_after: Iterable[str] = ()
    print_ir_after_change: bool = False
    dump_dir: str | None = None
    timing: bool = False
    verify_each: bool = True
    reproducer_dir: str | None = None
    elide_above: int | None = DEFAULT_ELIDE_ABOVE
    ir_stream: TextIO | None = None
    after_pass: Sequence[AfterPassHook] = ()
    timings: list[PassTiming] = field(default_factory=list, init=False)
    # Time spent verifying (after every pass, and the input), which is no pass's own.
    verify_seconds: float = field(default=0.0, init=False)
    # Node name -> the last pass that made or changed that node (its operands, results or
    # attributes), as the verifier's re-checks see it: an error found later (TensorFlow refusing
    # the written graph) names the pass to look at.
    last_pass_of: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.passes = tuple(self.passes)
        self.print_ir_before = frozenset(map(canonical_pass_name, self.print_ir_before))
        self.print_ir_after = frozenset(map(canonical_pass_name, self.print_ir_after))
        self.after_pass = tuple(self.after_pass)
        for hook in self.after_pass:
            if not self.dump_dir:
                raise PipelineError(f"{hook.option} writes into the dump directory: give dump_dir (--dump-dir) too")
            _check_pass_names(frozenset(hook.passes), self.passes, hook.option)
        for option in ("print_ir_before", "print_ir_after"):
            _check_pass_names(getattr(self, option), self.passes, option)

    @staticmethod
    def parse(pipeline: str, **options) -> PassManager:
        return PassManager(parse_pipeline_string(pipeline), **options)

    def pipeline_string(self) -> str:
        return ",".join(pass_spec_string(p) for p in self.passes)

    __str__ = pipeline_string

    @property
    def _instrumented(self) -> bool:
        return bool(
            self.print_ir_before
            or self.print_ir_after
            or self.print_ir_after_change
            or self.dump_dir
            or self.timing
            or self.verify_each
            or self.reproducer_dir
            or self.after_pass
        )

    def run(self, module: ModuleOp, ctx: Context | None = None) -> ModuleOp:
        ctx = ctx or make_context()
        self.timings = []
        self.verify_seconds = 0.0
        if not self._instrumented:
            PassPipeline(self.passes).apply(ctx, module)
            return module
        run = _InstrumentedRun(self, module)
        try:
            PassPipeline(self.passes, run.between_passes).apply(ctx, module)
        except PassFailedError:
            raise
        except Exception as err:
            failing = run.next_pass
            reproducer = run.write_reproducer(error=f"{type(err).__name__}: {err}")
            name = failing.name if failing else "?"
            raise PassFailedError(f"pass '{name}' failed: {type(err).__name__}: {err}", reproducer) from err
        return module

    def timing_report(self, before: Sequence[PassTiming] = (), after: Sequence[PassTiming] = ()) -> str:
        """The passes' times, with the verifier's (when it ran) and the caller's own steps
        around the pipeline (`before`: parsing; `after`: printing), so the total is the run's."""
        verify = [PassTiming("(verify)", self.verify_seconds, 0, 0)] if self.verify_each else []
        rows = [*before, *self.timings, *verify, *after]
        total = sum(t.seconds for t in rows) or 1e-12
        lines = [
            "===" + "-" * 70 + "===",
            "  nir pass execution timing report",
            "===" + "-" * 70 + "===",
            f"  Total execution time: {total:.4f} seconds",
            "",
            f"  {'Wall time':>10}  {'share':>6}  {'ops before':>10}  {'ops after':>9}  name",
        ]
        for t in rows:
            lines.append(
                f"  {t.seconds:10.4f}  {100 * t.seconds / total:5.1f}%  {t.ops_before:10d}  "
                f"{t.ops_after:9d}  {t.name}"
            )
        lines.append(f"  {total:10.4f}  100.0%  {'':10}  {'':9}  Total")
        return "\n".join(lines) + "\n"


def _check_pass_names(names: frozenset[str], passes: Sequence[ModulePass], option: str) -> None:
    import difflib

    known = {p.name for p in passes}
    for name in sorted({canonical_pass_name(n) for n in names} - {"all"} - known):
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise PipelineError(f"{option} names '{name}', which is not a pass of this pipeline ({', '.join(sorted(known))}){hint}")


class _InstrumentedRun:
    """State of one instrumented pipeline run, driven by PassPipeline's callback."""

    def __init__(self, manager: PassManager, module: ModuleOp):
        self.manager = manager
        self.module = module
        self.next_pass: ModulePass | None = None
        self.before_text: str | None = None
        self.snapshot: ModuleOp | None = None
        self.started = 0.0
        self.ops_before = 0
        self.index = 0
        if manager.dump_dir:
            os.makedirs(manager.dump_dir, exist_ok=True)

    def _wants(self, names: frozenset[str], pass_: ModulePass) -> bool:
        return "all" in names or pass_.name in {canonical_pass_name(n) for n in names}

    def _emit(self, title: str, text: str) -> None:
        stream = self.manager.ir_stream or sys.stderr
        stream.write(f"// -----// IR Dump {title} //----- //\n{text}\n")

    def between_passes(self, previous: ModulePass | None, module: ModuleOp, upcoming: ModulePass | None) -> None:
        m = self.manager
        if previous is not None:
            self._after(previous, module)
        else:
            if m.dump_dir:
                self._dump("input", module)
            if m.verify_each:
                self._verify(module, None)
        self.next_pass = upcoming
        if upcoming is None:
            return
        if self._wants(m.print_ir_before, upcoming):
            self._emit(f"Before {upcoming.name}", print_module(module, m.elide_above))
        if m.print_ir_after_change:
            self.before_text = print_module(module, m.elide_above)
        if m.reproducer_dir:
            self.snapshot = module.clone()
        if m.timing:
            self.ops_before = count_ops(module)
        self.started = time.perf_counter()

    def _after(self, previous: ModulePass, module: ModuleOp) -> None:
        m = self.manager
        elapsed = time.perf_counter() - self.started
        if m.timing:
            m.timings.append(PassTiming(previous.name, elapsed, self.ops_before, count_ops(module)))
        if m.verify_each:
            self._verify(module, previous)
        text = None
        if self._wants(m.print_ir_after, previous):
            text = print_module(module, m.elide_above)
            self._emit(f"After {previous.name}", text)
        if m.print_ir_after_change:
            text = text or print_module(module, m.elide_above)
            if text != self.before_text:
                self._emit(f"After {previous.name} (changed)", text)
        for hook in m.after_pass:
            if self._wants(frozenset(hook.passes), previous):
                hook(previous.name, module, os.path.join(m.dump_dir, f"{self.index:03d}-{previous.name}"))
        if m.dump_dir:
            self._dump(previous.name, module)

    def _verify(self, module: ModuleOp, previous: ModulePass | None) -> None:
        """The TF-aware verifier; on failure the IR as the pass left it is dumped (MLIR's
        print-ir-after-failure) and the reproducer holds the IR before it and the error."""
        started = time.perf_counter()
        checked: list = []
        try:
            verify_tf_module(module, checked)
            if previous is not None:
                self.manager.last_pass_of.update((op.node_name, previous.name) for op in checked)
        except Exception as err:
            if previous is None:
                raise PassFailedError(f"the input IR is invalid, before any pass ran: {err}") from err
            message = f"pass '{previous.name}' left invalid IR: {err}"
            if self.manager.dump_dir:
                path = self._dump(f"{previous.name}-failed", module)
                message += f"\nIR after the failing pass: {path}"
            raise PassFailedError(message, self.write_reproducer(previous, str(err))) from err
        finally:
            self.manager.verify_seconds += time.perf_counter() - started

    def _dump(self, name: str, module: ModuleOp) -> str:
        """Write the module as the pass left it; its big constants go to the dump directory's
        payloads folder, so `nir opt` on this file re-runs with every weight."""
        path = os.path.join(self.manager.dump_dir, f"{self.index:03d}-{name}.mlir")
        self.index += 1
        text = print_module(module, self.manager.elide_above, payloads_beside(self.manager.dump_dir))
        with open(path, "w") as f:
            f.write(text)
        return path

    def write_reproducer(self, failing: ModulePass | None = None, error: str = "") -> str | None:
        failing = failing or self.next_pass
        if not self.manager.reproducer_dir or self.snapshot is None or failing is None:
            return None
        os.makedirs(self.manager.reproducer_dir, exist_ok=True)
        remaining = self.manager.passes[list(self.manager.passes).index(failing):]
        pipeline = ",".join(pass_spec_string(p) for p in remaining)
        path = os.path.join(self.manager.reproducer_dir, f"reproducer-{failing.name}.mlir")
        with open(path, "w") as f:
            f.write(f"// nir-reproducer: failing pass '{failing.name}'\n")
            for line in error.splitlines():
                f.write(f"// error: {line}\n")
            f.write(f"// re-run: nir opt {os.path.basename(path)} --pass-pipeline='{pipeline}'\n")
            f.write(print_module(self.snapshot, None))
        return path
