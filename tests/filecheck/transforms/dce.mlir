// RUN: nir opt %s -p tf-dce --split-input-file | filecheck %s

// A chain nobody reads goes in one pass, last op first.
builtin.module attributes {tf.signature = "dead_chain", tf.tags = ["serve"]} {
  func.func @dead_chain(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %a, %a_c = "tf.Exp"(%x) <{node_name = "a"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%a) <{node_name = "b"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %c, %c_c = "tf.Neg"(%b) <{node_name = "c"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %r, %r_c = "tf.Relu"(%x) <{node_name = "relu"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %r : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @dead_chain
// CHECK-NOT: "tf.Exp"
// CHECK-NOT: "tf.Tanh"
// CHECK-NOT: "tf.Neg"
// CHECK:     "tf.Relu"(%x)

// -----

// Stateful ops stay without readers (the OpDef says so); so does an op whose control token
// another op waits on.
builtin.module attributes {tf.signature = "side_effects", tf.tags = ["serve"]} {
  func.func @side_effects(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}, %s: tensor<1xi32> {tf.input_key = "s", tf.node_name = "s"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %rnd, %rnd_c = "tf.RandomUniform"(%s) <{node_name = "rnd"}> {T = i32, dtype = f32, seed = 0 : i64, seed2 = 0 : i64} : (tensor<1xi32>) -> (tensor<4xf32>, !tf.control)
    %e, %e_c = "tf.Exp"(%x) <{node_name = "ordered"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %r, %r_c = "tf.Relu"(%x, %e_c) <{node_name = "relu"}> {T = f32} : (tensor<4xf32>, !tf.control) -> (tensor<4xf32>, !tf.control)
    func.return %r : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @side_effects
// CHECK:     %rnd, %rnd_c = "tf.RandomUniform"(%s) {
// CHECK:     "tf.Exp"(%x) <{node_name = "ordered"}>
// CHECK:     "tf.Relu"

// -----

// A cluster whose results nobody reads goes with everything in it; a used one stays.
builtin.module attributes {tf.signature = "dead_cluster", tf.tags = ["serve"]} {
  func.func @dead_cluster(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %d = "neuron.cluster"(%x) <{cluster_name = "dead"}> ({
    ^bb0(%i: tensor<4xf32>):
      %e, %e_c = "tf.Exp"(%i) <{node_name = "e"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
      "neuron.yield"(%e) : (tensor<4xf32>) -> ()
    }) : (tensor<4xf32>) -> tensor<4xf32>
    %l = "neuron.cluster"(%x) <{cluster_name = "live"}> ({
    ^bb0(%i: tensor<4xf32>):
      %t, %t_c = "tf.Tanh"(%i) <{node_name = "t"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
      "neuron.yield"(%t) : (tensor<4xf32>) -> ()
    }) : (tensor<4xf32>) -> tensor<4xf32>
    func.return %l : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @dead_cluster
// CHECK-NOT: cluster_name = "dead"
// CHECK:     cluster_name = "live"
