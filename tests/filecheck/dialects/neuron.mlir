// RUN: nir opt %s --split-input-file --verify-diagnostics | filecheck %s

// A neuron.cluster holds the ops bound for one NeuronOp; its block's arguments are the tensors
// entering it, and neuron.yield the ones leaving it.
builtin.module attributes {tf.signature = "cluster", tf.tags = ["serve"]} {
  func.func @cluster(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %y = "neuron.cluster"(%x) <{cluster_name = "neuron_op_1"}> ({
    ^bb0(%in: tensor<1x4xf32>):
      %a, %a_c = "tf.Relu"(%in) <{node_name = "a", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
      "neuron.yield"(%a) : (tensor<1x4xf32>) -> ()
    }) : (tensor<1x4xf32>) -> tensor<1x4xf32>
    func.return %y : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @cluster
// CHECK:       %y = "neuron.cluster"(%x) <{cluster_name = "neuron_op_1"}> ({
// CHECK-NEXT:  ^{{.*}}(%in: tensor<1x4xf32>):
// CHECK-NEXT:    "tf.Relu"(%in) <{nir.target = "inferentia"}>
// CHECK-NEXT:    "neuron.yield"(%a) : (tensor<1x4xf32>) -> ()

// -----

// The block's arguments match the cluster's operands, one for one.
builtin.module attributes {tf.signature = "arity", tf.tags = ["serve"]} {
  func.func @arity(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    // expected-error {{cluster neuron_op_2: 1 inputs but}}
    %y = "neuron.cluster"(%x) <{cluster_name = "neuron_op_2"}> ({
    ^bb0:
      %c, %c_c = "tf.Const"() <{node_name = "c"}> {dtype = f32, value = #tf.tensor<tensor<1x4xf32>, [1.0, 2.0, 3.0, 4.0]>} : () -> (tensor<1x4xf32>, !tf.control)
      "neuron.yield"(%c) : (tensor<1x4xf32>) -> ()
    }) : (tensor<1x4xf32>) -> tensor<1x4xf32>
    func.return %y : tensor<1x4xf32>
  }
}

// -----

// What the cluster yields is what it returns, in number and type.
builtin.module attributes {tf.signature = "yields", tf.tags = ["serve"]} {
  func.func @yields(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    // expected-error {{cluster neuron_op_3: yields 2 values}}
    %y = "neuron.cluster"(%x) <{cluster_name = "neuron_op_3"}> ({
    ^bb0(%in: tensor<1x4xf32>):
      "neuron.yield"(%in, %in) : (tensor<1x4xf32>, tensor<1x4xf32>) -> ()
    }) : (tensor<1x4xf32>) -> tensor<1x4xf32>
    func.return %y : tensor<1x4xf32>
  }
}
