"""fold-identity: an example plug-in pass that removes tf.Identity ops.

Each Identity without control edges is replaced by its input, so chains fold from the front.
"""

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from nir.ir import TFNodeOp


@dataclass(frozen=True)
class FoldIdentityPass(ModulePass):
    """Replace tf.Identity ops without control edges by their input."""

    name = "fold-identity"

    keep_named: str = ""  # an Identity with this node name stays

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for identity in [o for o in op.walk() if isinstance(o, TFNodeOp) and o.tf_type == "Identity"]:
            if identity.node_name == self.keep_named or identity.control_operands or identity.control.uses:
                continue
            identity.data_results[0].replace_all_uses_with(identity.data_operands[0])
            identity.detach()
            identity.erase()
