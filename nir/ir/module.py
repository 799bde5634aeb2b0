"""Where a NIR module keeps its graph: the entry function named by the `tf.signature` attribute."""

from __future__ import annotations

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr

from nir.errors import NirInputError
from nir.ir.attr_names import ENTRY_FUNCTION_ATTR

# Argument and result attributes of the entry function: the signature's key of each input and
# output (passes read them, e.g. batch-specialize's input-shapes), set by the frontend.


def entry_function(module: ModuleOp) -> func.FuncOp:
    """The function of the chosen signature (the only non-private one without the attribute)."""
    name = module.attributes.get(ENTRY_FUNCTION_ATTR)
    for op in module.ops:
        if isinstance(op, func.FuncOp) and (
            op.sym_name == name if isinstance(name, StringAttr) else op.sym_visibility is None
        ):
            return op
    raise NirInputError(
        "the module has no entry function (a func.func named by the module attribute "
        f"'{ENTRY_FUNCTION_ATTR}'); was it made by nir's TensorFlow frontend?"
    )
