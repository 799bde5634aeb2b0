"""The neuron dialect: clusters of ops bound for the accelerator.

`neuron.cluster` holds, in its single-block region, the ops that one NeuronOp will run. Its
operands are the tensors flowing in from outside (the region's block arguments, one per
distinct outside tensor), and `neuron.yield` names the tensors flowing out (the cluster's
results). Keeping the boundary explicit makes emitting neuron-cc's inputs and restoring a
failed cluster to CPU ops purely local operations.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import StringAttr
from xdsl.ir import Attribute, Block, Dialect, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import HasParent, IsolatedFromAbove, IsTerminator, NoMemoryEffect, RecursiveMemoryEffect
from xdsl.utils.exceptions import VerifyException


@irdl_op_definition
class ClusterOp(IRDLOperation):
    """A subgraph to be compiled as one unit (one neuron-cc call, one NeuronOp)."""

    name = "neuron.cluster"

    inputs = var_operand_def()
    outputs = var_result_def()
    cluster_name = prop_def(StringAttr)
    body = region_def("single_block")

    traits = traits_def(IsolatedFromAbove(), RecursiveMemoryEffect())

    def __init__(
        self,
        cluster_name: str,
        inputs: Sequence[SSAValue],
        result_types: Sequence[Attribute],
        body: Region,
    ):
        super().__init__(
            operands=[inputs],
            result_types=[result_types],
            properties={"cluster_name": StringAttr(cluster_name)},
            regions=[body],
        )

    @property
    def block(self) -> Block:
        return self.body.block

    def verify_(self) -> None:
        block = self.body.block
        if len(block.args) != len(self.inputs):
            raise VerifyException(
                f"cluster {self.cluster_name.data}: {len(self.inputs)} inputs but "
                f"{len(block.args)} block arguments"
            )
        terminator = block.last_op
        if not isinstance(terminator, YieldOp):
            raise VerifyException(f"cluster {self.cluster_name.data} must end in neuron.yield")
        if len(terminator.values) != len(self.outputs):
            raise VerifyException(
                f"cluster {self.cluster_name.data}: yields {len(terminator.values)} values "
                f"for {len(self.outputs)} results"
            )


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Ends a cluster's region, naming the values it hands back to the enclosing graph."""

    name = "neuron.yield"

    values = var_operand_def()

    traits = traits_def(IsTerminator(), HasParent(ClusterOp), NoMemoryEffect())

    def __init__(self, values: Sequence[SSAValue]):
        super().__init__(operands=[values])


NEURON = Dialect("neuron", [ClusterOp, YieldOp], [])
