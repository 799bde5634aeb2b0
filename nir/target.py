"""The target interface: everything nir knows about a target lives in its `Target` subclass,
and the registry finds targets by name.

A target is a package with one entry point in the `nir.targets` group, naming its Target
subclass; nir's own targets are registered that way too (pyproject.toml):

    [project.entry-points."nir.targets"]
    my-chip = "my_package.target:MyChipTarget"

The subclass says, as class attributes, what passes need before any compiler is asked (its
placement rules, the pass it adds after clustering, its NEFF file name), and builds itself with
`make(name, compiler)` once a compile needs its op table. Nothing outside a target's package
compares target names.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from xdsl.ir import Attribute

from nir.errors import NirInputError

logger = logging.getLogger("nir")
ENTRY_POINT_GROUP = "nir.targets"


@dataclass(frozen=True)
class PlacementRules:
    """What a target never takes, whatever its op table says: op types (`never_on_target`; graph
    inputs and outputs are never placed on any target), tensor dtypes anywhere in a cluster
    (`unsupported_dtypes`, by name: "string"), and element types that may not cross a cluster's
    boundary (`boundary_forbidden`)."""

    never_on_target: frozenset[str] = frozenset()
    unsupported_dtypes: frozenset[str] = frozenset()
    boundary_forbidden: frozenset[Attribute] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Target:
    """One target, as a compile sees it. name: as in `--target`; supported_ops: the TensorFlow op
    types legalize may place on it, and source: where that table came from; compiler: the
    executable that compiles a cluster, whose NEFF is `neff_file` in the cluster's folder.

    A subclass sets the class attributes and implements `make` and `emit`; the others have
    defaults that fit a compiler taking each cluster's GraphDef."""

    name: str
    supported_ops: frozenset[str]
    source: str
    compiler: str = "neuron-cc"

    rules: ClassVar[PlacementRules] = PlacementRules()
    neff_file: ClassVar[str] = "graph_def.neff"
    # The executable looked for on PATH when the user names no compiler.
    compiler_name: ClassVar[str] = "neuron-cc"

    @property
    def log_file(self) -> str:
        return f"{os.path.splitext(self.neff_file)[0]}.{self.compiler}.log"

    @classmethod
    def make(cls, name: str, compiler: str | None) -> Target:
        """The target `name` (one class may serve several names), its op table asked of
        `compiler` (a path, or None: the compiler on PATH) where the compiler can say."""
        raise NotImplementedError(f"{cls.__qualname__} does not implement Target.make")

    @classmethod
    def pipeline_step(cls, name: str, minimum_segment_size: int, cluster_options: str, compiler: str | None) -> str:
        """Passes (a pipeline-string fragment ending in ",") this target runs after `cluster`:
        what its compiler needs checked before emission. Nothing by default."""
        return ""

    def emit(self, graph_def, workdir: str, compiler: str, compiler_args: Sequence[str]) -> list:
        """Write each NeuronOp's compiler inputs and command into its folder under `workdir`;
        returns the compile jobs (backends.compile_jobs.EmittedCluster), one per NeuronOp
        that can be compiled."""
        raise NotImplementedError(f"{type(self).__qualname__} does not implement Target.emit")

    @contextlib.contextmanager
    def compile_scope(self) -> Iterator[None]:
        """Around one compile, whatever its end: where a target frees what it kept between
        its pipeline step and emission."""
        yield


_CLASSES: dict[str, type[Target]] = {}
_loaded = False


def register_target(name: str, cls: type[Target]) -> None:
    """Make target `name` available (what the entry point loader does for each entry)."""
    if not (isinstance(cls, type) and issubclass(cls, Target)):
        raise TypeError(f"target '{name}' must be registered as a nir.target.Target subclass, got {cls!r}")
    existing = _CLASSES.get(name)
    if existing is not None and existing is not cls:
        raise ValueError(f"two targets are named '{name}'")
    _CLASSES[name] = cls


def target_class(name: str) -> type[Target]:
    """The class of target `name`: what passes and the pipeline ask before a compiler is."""
    _load_all()
    try:
        return _CLASSES[name]
    except KeyError:
        raise NirInputError(f"unknown target '{name}'; known targets: {', '.join(target_names())}") from None


def placement_rules(name: str) -> PlacementRules:
    return target_class(name).rules


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    # Imported here: nir.passmanager's package imports the IR verifier, which imports this module.
    from nir.passmanager.registry import load_entry_points

    load_entry_points(ENTRY_POINT_GROUP, "target", register_target)
    _loaded = True  # only once it worked: a failure is raised again, not hidden by an empty registry


def load_targets() -> None:
    """Register every target (idempotent); registering also declares the op types a backend
    introduces (NeuronOp) to the verifier."""
    _load_all()


def target_names() -> list[str]:
    _load_all()
    return sorted(_CLASSES)


def get_target(name: str, compiler: str | None = None) -> Target:
    """The target `name`; `compiler` is the compiler to ask for its op table (default: on PATH)."""
    return target_class(name).make(name, compiler)


def find_compiler(executable: str, explicit: str | None = None) -> str | None:
    """The absolute path of the compiler: `explicit` (a path, or a name looked up on PATH) when
    given -- an error if it is not an executable -- else `executable` on PATH, else None."""
    if not explicit:
        return shutil.which(executable)
    if os.sep in explicit or os.path.exists(explicit):
        path = explicit
    else:
        path = shutil.which(explicit)
        if path is None:
            raise NirInputError(
                f"neuron_cc='{explicit}' is not on PATH; pass the path of {executable}, or leave "
                f"neuron_cc out to use the {executable} on PATH"
            )
    if not os.path.isfile(path):
        raise NirInputError(f"neuron_cc='{explicit}' does not exist; pass the path of the {executable} executable")
    if not os.access(path, os.X_OK):
        raise NirInputError(f"neuron_cc='{explicit}' is not executable; `chmod +x` it or pass another path")
    # The compiler runs inside each cluster's folder: a relative path would not resolve there.
    return os.path.abspath(path)


def list_operators(compiler: str, framework: str) -> frozenset[str] | None:
    """`compiler list-operators --framework FRAMEWORK`, one name a line; None (with a warning
    that says why) when it fails or prints nothing."""
    import subprocess

    try:
        result = subprocess.run(
            [compiler, "list-operators", "--framework", framework],
            capture_output=True, text=True, timeout=120, check=True,
        )
    except (OSError, subprocess.SubprocessError) as err:
        said = (getattr(err, "stderr", None) or "").strip().splitlines()
        logger.warning("'%s list-operators' failed (%s%s); using nir's shipped op table",
                       compiler, err, f": {said[-1]}" if said else "")
        return None
    ops = frozenset(line.strip() for line in result.stdout.splitlines() if line.strip())
    if not ops:
        logger.warning("'%s list-operators' printed no operator; using nir's shipped op table", compiler)
    return ops or None
