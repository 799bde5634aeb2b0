"""The pass registry: every pass is found through the `nir.passes` entry point group, nir's
own (declared in nir's pyproject.toml) as a plug-in's.

A plug-in package declares, in its pyproject.toml,

    [project.entry-points."nir.passes"]
    fold-identity = "my_package.fold_identity:FoldIdentityPass"

and its pass is then usable by name in pipeline strings and in `nir opt`, with no change to nir.
A pass defined in a script or a test registers itself with `@register_pass` instead.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import warnings
from importlib.metadata import entry_points

from xdsl.passes import ModulePass, get_pass_option_infos
from xdsl.utils.arg_spec import ArgSpec

from nir.errors import NirInputError

ENTRY_POINT_GROUP = "nir.passes"

logger = logging.getLogger("nir")
_REGISTRY: dict[str, type[ModulePass]] = {}
# A pass's former names (its `aliases`), still accepted in pipelines for one release.
_ALIASES: dict[str, str] = {}
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
    for alias in getattr(cls, "aliases", ()):
        _ALIASES[alias] = cls.name
    return cls


def load_entry_points(group: str, kind: str, register) -> None:
    """Hand every `group` entry point to `register(name, obj)`. nir's own come first (a
    plug-in may not take a built-in's name) and must be there: without them nir was run from
    a source tree that was never installed. A plug-in that fails to load is a warning, never
    an error that breaks nir."""
    found = sorted(entry_points(group=group), key=lambda e: not _is_nirs(e))
    if not any(_is_nirs(e) for e in found):
        raise NirInputError(
            f"nir's own {kind}s are not registered: nir is not installed (its entry points come with "
            "the package); run `python -m pip install -e .` in nir's source tree"
        )
    for entry in found:
        try:
            register(entry.name, entry.load())
        except Exception as err:
            if _is_nirs(entry):
                raise
            logger.warning("could not load nir %s plug-in '%s': %s", kind, entry.name, err)


def _is_nirs(entry) -> bool:
    return entry.dist is not None and entry.dist.name == "nir"


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
    load_entry_points(ENTRY_POINT_GROUP, "pass", _register_plugin_pass)
    _loaded = True  # only once it worked: a failure is raised again, not hidden by an empty registry


def available_passes() -> dict[str, type[ModulePass]]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def canonical_pass_name(name: str) -> str:
    """`name`, or the current name of the pass formerly called `name`."""
    _load_all()
    return _ALIASES.get(name, name)


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
    if spec.name not in passes and spec.name in _ALIASES:
        current = _ALIASES[spec.name]
        warnings.warn(f"pass '{spec.name}' is now named '{current}'; the old name goes in nir 0.3",
                      DeprecationWarning, stacklevel=2)
        spec = dataclasses.replace(spec, name=current)
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
