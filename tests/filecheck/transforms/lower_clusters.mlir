// RUN: nir opt %s -p 'tf-lower-clusters{target=inferentia2 minimum-segment-size=2}' --split-input-file | filecheck %s
// RUN: nir opt %s -p 'tf-lower-clusters{target=inferentia}' --split-input-file | filecheck --check-prefix=GRAPHDEF %s

// A cluster tf2xla lowers stays as it is.
builtin.module attributes {tf.signature = "lowers", tf.tags = ["serve"]} {
  func.func @lowers(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %c = "neuron.cluster"(%x) <{cluster_name = "fine"}> ({
    ^bb0(%i: tensor<1x4xf32>):
      %a, %a_c = "tf.Relu"(%i) <{node_name = "a", nir.target = "inferentia2"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
      %b, %b_c = "tf.Tanh"(%a) <{node_name = "b", nir.target = "inferentia2"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
      "neuron.yield"(%b) : (tensor<1x4xf32>) -> ()
    }) : (tensor<1x4xf32>) -> tensor<1x4xf32>
    func.return %c : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @lowers
// CHECK:       "neuron.cluster"(%x) <{cluster_name = "fine"}>
// CHECK-NOT:   nir.cpu_reason
// GRAPHDEF-LABEL: func.func @lowers
// GRAPHDEF:       "neuron.cluster"(%x) <{cluster_name = "fine"}>

// -----

// A node tf2xla refuses (a shape that is no compile-time constant) goes to CPU with tf2xla's
// message; the rest of its cluster is clustered again.
builtin.module attributes {tf.signature = "refused", tf.tags = ["serve"]} {
  func.func @refused(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}, %s: tensor<2xi32> {tf.input_key = "s", tf.node_name = "s"}) -> (tensor<4x2xf32> {tf.output_key = "y"}) {
    %c = "neuron.cluster"(%x, %s) <{cluster_name = "mixed"}> ({
    ^bb0(%i: tensor<2x4xf32>, %shape: tensor<2xi32>):
      %a, %a_c = "tf.Relu"(%i) <{node_name = "a", nir.target = "inferentia2"}> {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
      %b, %b_c = "tf.Tanh"(%a) <{node_name = "b", nir.target = "inferentia2"}> {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
      %r, %r_c = "tf.Reshape"(%b, %shape) <{node_name = "reshape", nir.target = "inferentia2"}> {T = f32, Tshape = i32} : (tensor<2x4xf32>, tensor<2xi32>) -> (tensor<4x2xf32>, !tf.control)
      "neuron.yield"(%r) : (tensor<4x2xf32>) -> ()
    }) : (tensor<2x4xf32>, tensor<2xi32>) -> tensor<4x2xf32>
    func.return %c : tensor<4x2xf32>
  }
}

// CHECK-LABEL: func.func @refused
// CHECK:       "neuron.cluster"(%x)
// CHECK:         "tf.Relu"
// CHECK:         "tf.Tanh"
// CHECK:       %reshape, %reshape_c = "tf.Reshape"{{.*}}nir.cpu_reason = "tf2xla cannot lower it: {{.*}}compile-time constant
// GRAPHDEF-LABEL: func.func @refused
// GRAPHDEF:       "neuron.cluster"(%x, %s) <{cluster_name = "mixed"}>

// -----

// A cluster whose nodes all lower still goes when what is left is below minimum-segment-size
// after a refused node leaves.
builtin.module attributes {tf.signature = "too_small_after", tf.tags = ["serve"]} {
  func.func @too_small_after(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}, %s: tensor<2xi32> {tf.input_key = "s", tf.node_name = "s"}) -> (tensor<4x2xf32> {tf.output_key = "y"}) {
    %c = "neuron.cluster"(%x, %s) <{cluster_name = "pair"}> ({
    ^bb0(%i: tensor<2x4xf32>, %shape: tensor<2xi32>):
      %a, %a_c = "tf.Relu"(%i) <{node_name = "a", nir.target = "inferentia2"}> {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
      %r, %r_c = "tf.Reshape"(%a, %shape) <{node_name = "reshape", nir.target = "inferentia2"}> {T = f32, Tshape = i32} : (tensor<2x4xf32>, tensor<2xi32>) -> (tensor<4x2xf32>, !tf.control)
      "neuron.yield"(%r) : (tensor<4x2xf32>) -> ()
    }) : (tensor<2x4xf32>, tensor<2xi32>) -> tensor<4x2xf32>
    func.return %c : tensor<4x2xf32>
  }
}

// CHECK-LABEL: func.func @too_small_after
// CHECK-NOT:   "neuron.cluster"
// CHECK:       %a, %a_c = "tf.Relu"(%x) <{nir.cpu_reason = "in a cluster of 1 op(s), below minimum_segment_size=2"}>
// CHECK:       %reshape, %reshape_c = {{.*}}nir.cpu_reason = "tf2xla cannot lower it:
// GRAPHDEF-LABEL: func.func @too_small_after
// GRAPHDEF:       "neuron.cluster"(%x, %s) <{cluster_name = "pair"}>
