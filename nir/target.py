"""The target interface: what a target tells the passes and the driver, and the registry that
finds targets by name.

A target is registered with `register_target(name, factory)`; the factory gets the path of the
compiler the user named (or None) and returns a `Target`. nir's own targets register this way
(`inferentia` in backends/inferentia, `inferentia2` and `trainium` in backends/neuronx), and so
can a plug-in, through the `nir.targets` entry point group:

    [project.entry-points."nir.targets"]
    my-chip = "my_package.target:make_target"
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

from xdsl.ir import Attribute

from nir.errors import NirInputError

logger = logging.getLogger("nir")
ENTRY_POINT_GROUP = "nir.targets"
_BUILTIN_MODULES = ("backends.inferentia.target", "backends.neuronx.target")


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
    """name: as in `--target`; supported_ops: TensorFlow op types legalize may place on it, and
    source: where that table came from. compiler: the executable that compiles a cluster;
    lowering: what it takes ("graphdef": the cluster's GraphDef, as neuron-cc; "hlo": XLA HLO
    from tf2xla, as neuronx-cc); compiler_target: neuronx-cc's `--target`; compiler_ops: the HLO
    opcodes the compiler takes, and compiler_ops_source where that list came from."""

    name: str
    supported_ops: frozenset[str]
    source: str
    compiler: str = "neuron-cc"
    lowering: str = "graphdef"
    compiler_target: str = ""
    compiler_ops: frozenset[str] = frozenset()
    compiler_ops_source: str = ""

    @property
    def neff_file(self) -> str:
        return "graph_def.neff" if self.lowering == "graphdef" else "model.neff"

    @property
    def log_file(self) -> str:
        return f"graph_def.{self.compiler}.log" if self.lowering == "graphdef" else f"model.{self.compiler}.log"


TargetFactory = Callable[[str | None], Target]
_FACTORIES: dict[str, TargetFactory] = {}
_LOWERINGS: dict[str, str] = {}
_RULES: dict[str, PlacementRules] = {}
_loaded = False


def register_target(name: str, factory: TargetFactory, lowering: str = "graphdef",
                    rules: PlacementRules = PlacementRules()) -> None:
    """Make target `name` available; `lowering` is what its factory's Target will say, and
    `rules` what it never takes, both known here so passes can plan without asking the compiler
    for its tables."""
    existing = _FACTORIES.get(name)
    if existing is not None and existing is not factory:
        raise ValueError(f"two targets are named '{name}'")
    _FACTORIES[name] = factory
    _LOWERINGS[name] = lowering
    _RULES[name] = rules


def placement_rules(name: str) -> PlacementRules:
    target_lowering(name)  # the same error for an unknown name
    return _RULES[name]


def target_lowering(name: str) -> str:
    _load_all()
    if name not in _LOWERINGS:
        raise NirInputError(f"unknown target '{name}'; known targets: {', '.join(target_names())}")
    return _LOWERINGS[name]


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    # Imported here: nir.passmanager's package imports the IR verifier, which imports this module.
    from nir.passmanager.registry import load_plugins

    load_plugins(_BUILTIN_MODULES, ENTRY_POINT_GROUP, "target", register_target)


def load_targets() -> None:
    """Register nir's targets and the plug-ins' (idempotent); registering also declares the op
    types a backend introduces (NeuronOp) to the verifier."""
    _load_all()


def target_names() -> list[str]:
    _load_all()
    return sorted(_FACTORIES)


def get_target(name: str, compiler: str | None = None) -> Target:
    """The target `name`; `compiler` is the compiler to ask for its op table (default: on PATH)."""
    _load_all()
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise NirInputError(f"unknown target '{name}'; known targets: {', '.join(target_names())}") from None
    return factory(compiler)


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
