"""`CompileOptions`: every option of a compile, in one frozen, keyword-only record, checked once.

`saved_model.compile`, `compile_many`, `simple_save`, `graph_util`, `nir.trace` and the
`nir` command all build one (the command's flags and their help are generated from it), so an
option is declared, defaulted, documented and checked in exactly one place:

    options = CompileOptions.of(target="inferentia2", minimum_segment_size=4)
    options.replace(strict=True)

Per-model values (the model's folder, the output, the batch size, the compiler workdir) are
not options: `compile_many` runs one set of options over many of those.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from nir.errors import NirInputError

DEFAULT_COMPILER_TIMEOUT = 18000
DEFAULT_MINIMUM_SEGMENT_SIZE = 2
VERBOSE_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")


def option(default: Any, help: str, **metadata) -> Any:  # noqa: A002 - argparse's word
    """A field of CompileOptions: its default and the help text `nir --help` shows."""
    return field(default=default, metadata={"help": help, **metadata})


@dataclass(frozen=True, kw_only=True)
class CompileOptions:
    """What a compile does; see each field's help (also `nir compile --help`)."""

    # Which graph, and its shapes.
    tags: tuple[str, ...] | str | None = option(
        None, "tag set of the MetaGraph to compile, or one comma-separated string (default: 'serve', else the first)")
    signature_def_key: str | None = option(None, "signature to compile (default: serving_default)")
    model_shape_feed_dict: Mapping | None = option(None, "input shapes by input name, for unknown dims")
    model_feed_dict: Mapping | None = option(None, "example inputs by input name; their shapes are used")
    dynamic_batch_size: bool | None = option(
        None, "dynamic batch: None decides (on when every cluster carries the batch on dim 0), True or False")
    # Placement.
    target: str = option("inferentia", "inferentia (inf1, neuron-cc), inferentia2 or trainium "
                                       "(neuronx-cc via XLA HLO), or a plug-in's")
    minimum_segment_size: int = option(DEFAULT_MINIMUM_SEGMENT_SIZE, "fewest ops a cluster may have")
    no_fuse_ops: tuple[str, ...] = option((), "node names kept on CPU")
    force_fuse_ops: tuple[str, ...] = option((), "node names placed on the accelerator even if their op type is not in the table")
    supported_op_types: tuple[str, ...] = option((), "op types replacing the target's op table")
    max_cluster_bytes: int | None = option(None, "most constant bytes one NeuronOp holds (default 1 GiB)")
    max_unrolled_ops: int | None = option(
        None, "most ops unrolling one loop with a known trip count may make (default 20000; 0 unrolls none)")
    keep_largest_ratio: float | None = option(
        None, "nir.trace's automatic placement: only the largest cluster stays when it holds this share of clustered ops")
    pipeline: Any = option(None, "a pass pipeline (string or PassManager) replacing the default one")
    # The compiler.
    neuron_cc: str | None = option(None, "path of the target's compiler (default: on PATH), also asked for its op table")
    compiler_args: tuple[str, ...] = option((), "extra arguments for the compiler")
    compiler_timeout: float = option(DEFAULT_COMPILER_TIMEOUT, "seconds one compile may take")
    compiler_recovery: bool = option(
        True, "a cluster that fails to compile stays on CPU; False fails the compile instead, as strict does")
    strict: bool | None = option(None, "fail unless every cluster compiles (default: NEURON_CC_FLAGS' --must-compile)")
    max_num_compilers: int | None = option(None, "compiler processes at once (default: by memory and cores)")
    executor: str = option("local", "where compiles run: local, or ray[:ADDRESS] (pip install 'nir[ray]')")
    compiler_memory_gb: float | None = option(None, "memory one compile asks the executor for, in GB (default 4)")
    cache_dir: str | None = option(None, "the compile cache's folder (default: NIR_CACHE_DIR, else ~/.cache/nir)")
    compile_cache: bool | None = option(None, "use and fill the compile cache (default: unless NIR_COMPILE_CACHE=off)")
    # The output.
    convert_constants_to_variables: bool = option(
        False, "the original's rule for CPU constants: variables when over constant_size_to_exclude elements")
    constant_size_to_exclude: int = option(1024, "with convert_constants_to_variables: elements a constant may have")
    # Watching it.
    dump_dir: str | None = option(None, "write the IR before and after every pass here (big weights in its payloads/)")
    no_elide: bool = option(False, "dumps print every weight in the text instead of in the dump directory's payloads/")
    print_ir_after_all: bool = option(False, "print the IR after every pass to stderr")
    progress: bool = option(True, "show the compile progress line")

    def __post_init__(self) -> None:
        for name in ("tags", "no_fuse_ops", "force_fuse_ops", "supported_op_types", "compiler_args"):
            _normalize_sequence(self, name)
        check_positive_int(self.minimum_segment_size, "minimum_segment_size")
        for name in ("max_num_compilers", "max_cluster_bytes"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), name)
        for name in ("compiler_memory_gb", "compiler_timeout"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise NirInputError(f"{name} must be a positive number, got {value!r}")
        if both := sorted(set(self.no_fuse_ops) & set(self.force_fuse_ops)):
            raise NirInputError(f"{both} are in both no_fuse_ops and force_fuse_ops; keep each name in one of them")
        if self.max_unrolled_ops is not None and (
                isinstance(self.max_unrolled_ops, bool) or not isinstance(self.max_unrolled_ops, int)
                or self.max_unrolled_ops < 0):
            raise NirInputError(f"max_unrolled_ops must be a whole number of ops (0 unrolls no loop), "
                                f"got {self.max_unrolled_ops!r}")
        if self.convert_constants_to_variables:
            size = self.constant_size_to_exclude
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise NirInputError(f"constant_size_to_exclude must be a whole number of elements, got {size!r}")
        if not isinstance(self.target, str) or not self.target:
            raise NirInputError(f"target must be a target's name, got {self.target!r}")

    @classmethod
    def of(cls, **kwargs) -> CompileOptions:
        """The options named in `kwargs`; an unknown name is an error that says which are known."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            hints = [h for name in unknown for h in difflib.get_close_matches(name, known, n=1)]
            raise NirInputError(
                f"unknown keyword argument(s) {unknown}" + (f" (did you mean {', '.join(hints)}?)" if hints else "")
                + "; the options are CompileOptions' fields (nir.options)"
            )
        return cls(**kwargs)

    def replace(self, **changes) -> CompileOptions:
        return dataclasses.replace(self, **changes)

    @property
    def variable_min_elements(self) -> int | None:
        """Elements over which a CPU constant becomes a variable (the original's rule), or None
        for nir's rule (by bytes)."""
        return self.constant_size_to_exclude if self.convert_constants_to_variables else None


def option_help(name: str) -> str:
    """`name`'s help text with its default, as the command line shows it."""
    (f,) = [f for f in fields(CompileOptions) if f.name == name]
    default = f.default
    shown = "" if default in (None, (), False) else f" (default: {default})"
    return f.metadata["help"] + shown


def _normalize_sequence(options: CompileOptions, name: str) -> None:
    value = getattr(options, name)
    if value is None:
        if name != "tags":
            object.__setattr__(options, name, ())
        return
    if isinstance(value, str):
        # A tag set may be one comma-separated string, as TF's CLI takes it; the other
        # sequences are names, and one string is a mistake (it would be read letter by letter).
        if name == "tags":
            return
        raise NirInputError(f"{name} takes a list of strings, got the string {value!r}")
    try:
        # A set has no order of its own; sorted, the pipeline string is the same every run.
        items = tuple(sorted(value)) if isinstance(value, (set, frozenset)) else tuple(value)
    except TypeError:
        raise NirInputError(f"{name} takes a list of strings, got {type(value).__name__}") from None
    if not all(isinstance(v, str) for v in items):
        raise NirInputError(f"{name} takes a list of strings, got {list(items)!r}")
    object.__setattr__(options, name, items)


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise NirInputError(f"{name} must be a positive integer, got {value!r}")
    return value




@dataclass(frozen=True)
class NeuronCcFlags:
    """NEURON_CC_FLAGS, read as the original reads it: --must-compile, --workdir DIR and
    --verbose LEVEL (also as --opt=value) are nir's; every other token goes to the compiler
    after compiler_args, as the original passes them."""

    must_compile: bool = False
    workdir: str | None = None
    verbose: str | None = None
    extra_args: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls) -> NeuronCcFlags:
        return cls.parse(os.environ.get("NEURON_CC_FLAGS", ""))

    @classmethod
    def parse(cls, text: str) -> NeuronCcFlags:
        try:
            tokens = shlex.split(text)
        except ValueError as err:
            raise NirInputError(f"NEURON_CC_FLAGS cannot be split into arguments ({err}); check its quotes") from None
        must_compile, workdir, verbose, extra = False, None, None, []
        i = 0
        while i < len(tokens):
            name, has_value, value = tokens[i].partition("=")
            if name == "--must-compile" and not has_value:
                must_compile = True
            elif name in ("--workdir", "--verbose"):
                if not has_value:
                    if i + 1 >= len(tokens):
                        raise NirInputError(f"NEURON_CC_FLAGS: {name} needs a value")
                    value = tokens[i + 1]
                    i += 1
                if name == "--workdir":
                    workdir = value
                else:
                    verbose = _verbose_level(value)
            else:
                extra.append(tokens[i])
            i += 1
        return cls(must_compile, workdir, verbose, tuple(extra))

    def compiler_args(self, given: Iterable[str]) -> tuple[str, ...]:
        """The compiler's arguments: `given` (compiler_args), then NEURON_CC_FLAGS' own."""
        verbose = ("--verbose", self.verbose) if self.verbose is not None else ()
        return (*given, *self.extra_args, *verbose)


def _verbose_level(value: str) -> str:
    if value.upper() in VERBOSE_LEVELS or value.isdigit():
        return value
    raise NirInputError(
        f"NEURON_CC_FLAGS: --verbose takes one of {', '.join(VERBOSE_LEVELS)} or a number "
        f"(neuron-cc's log level), got '{value}'"
    )
