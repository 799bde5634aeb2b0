"""What no Neuron compiler takes, whatever its op table says."""

from xdsl.dialects.builtin import Float64Type, IntegerType

from nir.target import PlacementRules

NEURON_RULES = PlacementRules(
    # A model compiled before: its NeuronOps cannot be nested into new ones.
    never_on_target=frozenset({"NeuronOp"}),
    # No Neuron compiler takes these anywhere in a cluster.
    unsupported_dtypes=frozenset({"string", "resource", "variant"}),
    # The runtime does not move 64-bit tensors between host and device.
    boundary_forbidden=frozenset({IntegerType(64), Float64Type()}),
)
