"""batch-specialize: give the signature inputs static shapes.

Neuron compiles for fixed shapes, so every input needs one. Following the original
tensorflow-neuron, the sources of a shape are, by priority: an explicit shape for the input
(`input-shapes`, which `model_shape_feed_dict` / `model_feed_dict` become), then `batch-size`
filling an unknown dimension 0. A known dimension is never changed, and any other unknown
dimension is an error naming the input. The inputs' new types then flow through the graph
with shape-inference, which runs after this pass in the default pipeline.

Which inputs carry the batch on dimension 0 is recorded on the function arguments
(`nir.batch_axis = 0`), for dynamic batch later.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import DictionaryAttr, FunctionType, IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.passes import ModulePass

from nir.errors import NirInputError
from nir.ir.attr_names import BATCH_AXIS, INPUT_KEY
from nir.ir.module import entry_function
from nir.ir.shapes import element_type, retype, tensor_type, tf_shape
from nir.passmanager.registry import register_pass

_HINT = (
    "batch_size is not sufficient to determine the shape of input tensor '{key}' (shape {shape}); "
    "pass model_shape_feed_dict={{'{key}': [...]}} (nir: input-shapes) with its full shape"
)


def parse_input_shapes(text: str) -> dict[str, tuple[int, ...]]:
    """'x:1x224x224x3;ids:1x128' -> {'x': (1, 224, 224, 3), 'ids': (1, 128)}; '' for a scalar."""
    shapes: dict[str, tuple[int, ...]] = {}
    for entry in filter(None, (e.strip() for e in text.split(";"))):
        key, sep, dims = entry.rpartition(":")
        if not sep or not key:
            raise NirInputError(f"input-shapes entry '{entry}' must look like 'name:1x224x224x3'")
        try:
            shapes[key] = tuple(int(d) for d in dims.split("x")) if dims else ()
        except ValueError:
            raise NirInputError(f"input-shapes entry '{entry}': dimensions must be integers") from None
    return shapes


def format_input_shapes(shapes: dict[str, tuple[int, ...]]) -> str:
    return ";".join(f"{k}:{'x'.join(str(d) for d in v)}" for k, v in sorted(shapes.items()))


def specialize_shape(key: str, shape, batch_size: int, override) -> tuple[int, ...]:
    if override is not None:
        override = tuple(override)
        if any(d < 0 for d in override):
            raise NirInputError(f"shape {list(override)} for input '{key}' has a negative dimension")
        if shape is not None:
            if len(shape) != len(override):
                raise NirInputError(
                    f"shape {list(override)} for input '{key}' has rank {len(override)}, but the "
                    f"model's input has rank {len(shape)} (shape {list(shape)})"
                )
            for d, o in zip(shape, override):
                if d >= 0 and d != o:
                    raise NirInputError(
                        f"shape {list(override)} for input '{key}' disagrees with the model's "
                        f"known shape {list(shape)}"
                    )
        return override
    if shape is None or any(d < 0 for d in shape[1:]):
        raise NirInputError(_HINT.format(key=key, shape="unknown" if shape is None else list(shape)))
    if shape and shape[0] < 0:
        return (batch_size, *shape[1:])
    return tuple(shape)


@register_pass
@dataclass(frozen=True)
class BatchSpecializePass(ModulePass):
    """Fix the signature inputs' shapes: unknown dim 0 := batch-size, or input-shapes."""

    name = "tf-batch-specialize"
    aliases = ("batch-specialize",)  # the name until nir 0.1; dropped in 0.3

    batch_size: int = 1
    input_shapes: str = ""  # "name:1x224x224x3;other:1x128"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not isinstance(self.batch_size, int) or self.batch_size <= 0:
            raise NirInputError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        overrides = parse_input_shapes(self.input_shapes)
        fn = entry_function(op)
        arg_attrs = list(fn.arg_attrs.data) if fn.arg_attrs else [DictionaryAttr({})] * len(fn.args)
        keys = [str(a.data.get(INPUT_KEY, StringAttr(f"arg{i}")).data) for i, a in enumerate(arg_attrs)]
        unknown = set(overrides) - set(keys)
        if unknown:
            raise NirInputError(
                f"input shapes given for {sorted(unknown)}, which are not inputs of the "
                f"signature; its inputs are {keys}"
            )
        for index, (arg, key) in enumerate(zip(fn.args, keys)):
            old = tf_shape(arg.type)
            new = specialize_shape(key, old, self.batch_size, overrides.get(key))
            retype(arg, tensor_type(element_type(arg.type), new))
            # An unknown dim 0 is the batch, whether batch-size or an explicit shape fills it.
            carries_batch = old is not None and len(old) > 0 and old[0] < 0
            entries = dict(arg_attrs[index].data)
            entries[BATCH_AXIS] = IntegerAttr(0 if carries_batch else -1, i64)
            arg_attrs[index] = DictionaryAttr(entries)
        fn.arg_attrs = fn.arg_attrs.__class__(arg_attrs) if fn.arg_attrs else None
        fn.function_type = FunctionType.from_lists(
            [a.type for a in fn.args], list(fn.function_type.outputs.data)
        )
