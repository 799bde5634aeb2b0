"""Two example plug-in passes, registered through entry points:

- fold-identity, a pattern pass: each tf.Identity without control edges is replaced by its input;
- count-ops, a module pass: it counts ops by type into a module attribute.
"""

from collections import Counter
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass

from nir.ir import PatternPass, TFNodeOp, TFRewritePattern, forward


class FoldIdentity(TFRewritePattern):
    """Identity(x) -> x, unless the Identity has control edges or is named `keep_named`."""

    op_types = frozenset({"Identity"})

    def __init__(self, keep_named: str = ""):
        self.keep_named = keep_named

    def rewrite(self, op, rewriter):
        if op.node_name != self.keep_named:
            forward(rewriter, op, op.data_operands)  # refuses when a control edge would be lost


@dataclass(frozen=True)
class FoldIdentityPass(PatternPass):
    """Replace tf.Identity ops without control edges by their input."""

    name = "fold-identity"
    keep_named: str = ""  # an Identity with this node name stays

    def patterns(self):
        return [FoldIdentity(self.keep_named)]


@dataclass(frozen=True)
class CountOpsPass(ModulePass):
    """Record how many ops of each TF type the module has, as the attribute `nir.op_counts`."""

    name = "count-ops"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        counts = Counter(o.tf_type for o in op.walk() if isinstance(o, TFNodeOp))
        op.attributes["nir.op_counts"] = DictionaryAttr({k: IntegerAttr(v, i64) for k, v in sorted(counts.items())})
