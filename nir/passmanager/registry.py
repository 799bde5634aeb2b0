"""The pass registry: built-in passes and plug-ins found through the `nir.passes` entry point group.

A plug-in package declares, in its pyproject.toml,

    [project.entry-points."nir.passes"]
    fold-identity = "my_package.fold_identity:FoldIdentityPass"

and its pass is then usable by name in pipeline strings and in `nir opt`, with no change to nir.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import logging
from importlib.metadata import entry_points

from xdsl.passes import ModulePass, get_pass_option_infos
from xdsl.utils.arg_spec import ArgSpec

from nir.errors import NirInputError

ENTRY_POINT_GROUP = "nir.passes"
_BUILTIN_MODULES = (
    "passes.shape_inference",
    "passes.batch_specialize",
    "passes.legalize",
    "passes.cluster",
    "passes.dce",
    "passes.canonicalize",
    "passes.inline_calls",
    "passes.constant_fold",
    "passes.sink_loop_constants",
    "passes.prune_clusters",
    "backends.neuronx.lower_clusters",
)

logger = logging.getLogger("nir")
_REGISTRY: dict[str, type[ModulePass]] = {}
_loaded = False


class PipelineError(NirInputError):
    """A pipeline string or pass option nir cannot use."""


def register_pass(cls: type[ModulePass]) -> type[ModulePass]:
    """Class decorator: make a ModulePass available by its `name`."""
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(
            f"two passes are named '{cls.name}': {existing.__module__}.{existing.__qualname__} "
            f"and {cls.__module__}.{cls.__qualname__}"
        )
    _REGISTRY[cls.name] = cls
    return cls


def load_plugins(builtin_modules, group: str, kind: str, register) -> None:
    """Import nir's own modules, then hand every `group` entry point to `register(name, obj)`;
    a plug-in that fails to load is a warning, never an error that breaks nir."""
    for module in builtin_modules:
        importlib.import_module(module)
    for entry in entry_points(group=group):
        try:
            loaded = entry.load()
        except Exception as err:
            logger.warning("could not load nir %s plug-in '%s': %s", kind, entry.name, err)
            continue
        register(entry.name, loaded)


def _register_plugin_pass(entry_name: str, loaded) -> None:
    if isinstance(loaded, type) and issubclass(loaded, ModulePass):
        if loaded.name != entry_name:
            logger.warning(
                "plug-in entry point '%s' names pass '%s'; registering it as '%s'",
                entry_name, loaded.name, loaded.name,
            )
        register_pass(loaded)


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    load_plugins(_BUILTIN_MODULES, ENTRY_POINT_GROUP, "pass", _register_plugin_pass)


def available_passes() -> dict[str, type[ModulePass]]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def pass_summary(cls: type[ModulePass]) -> str:
    doc = (cls.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def pass_options(cls: type[ModulePass]) -> list[tuple[str, str, str | None]]:
    """(kebab-case name, type, default) of each option a pass declares."""
    return [
        (info.name.replace("_", "-"), info.expected_type, info.default_value)
        for info in get_pass_option_infos(cls)
    ]


def pass_from_spec(spec: ArgSpec) -> ModulePass:
    passes = available_passes()
    cls = passes.get(spec.name)
    if cls is None:
        close = difflib.get_close_matches(spec.name, passes, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise PipelineError(
            f"unknown pass '{spec.name}'{hint}; available passes: {', '.join(passes)}"
        )
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    for option in spec.normalize_parameter_names().parameters:
        if option not in known:
            valid = ", ".join(o for o, _, _ in pass_options(cls)) or "none"
            raise PipelineError(
                f"pass '{spec.name}' has no option '{option.replace('_', '-')}'; its options: {valid}"
            )
    try:
        return cls.from_spec(spec)
    except (ValueError, TypeError) as err:
        raise PipelineError(f"pass '{spec.name}': {err}") from None


def pass_spec_string(pass_: ModulePass) -> str:
    """`name{opt-a=1 opt-b=x}` with only the options that differ from their defaults."""
    spec = pass_.spec()
    if not spec.parameters:
        return spec.name
    options = " ".join(
        ArgSpec._spec_parameter_list_type_str(k.replace("_", "-"), v)  # noqa: SLF001
        for k, v in spec.parameters.items()
    )
    return f"{spec.name}{{{options}}}"
