"""What nir's Neuron targets share: the fused NeuronOp (its IR lowering, its TensorFlow
declaration, inlining it back), the compiler workdir's layout, and the placement rules every
Neuron compiler imposes. backends/inferentia (neuron-cc) and backends/neuronx (neuronx-cc)
build on it."""
