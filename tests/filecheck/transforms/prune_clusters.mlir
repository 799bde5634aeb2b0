// RUN: nir opt %s -p 'tf-cluster{minimum-segment-size=1},tf-prune-clusters{keep-largest-ratio=0.8}' --split-input-file | filecheck %s

// The largest cluster holds 5 of the 6 clustered ops (over 80%): it alone stays; the other
// cluster's op goes back to CPU with the rule that pruned it.
builtin.module attributes {tf.signature = "keep_largest", tf.tags = ["serve"]} {
  func.func @keep_largest(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %r1, %r1_c = "tf.Relu"(%x) <{node_name = "r1", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %r2, %r2_c = "tf.Relu"(%r1) <{node_name = "r2", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %r3, %r3_c = "tf.Relu"(%r2) <{node_name = "r3", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %r4, %r4_c = "tf.Relu"(%r3) <{node_name = "r4", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %r5, %r5_c = "tf.Relu"(%r4) <{node_name = "r5", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %t, %t_c = "tf.Tanh"(%r5) <{node_name = "t", nir.cpu_reason = "op type Tanh is not in the op table"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %r6, %r6_c = "tf.Relu"(%t) <{node_name = "r6", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %r6 : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @keep_largest
// CHECK:       "neuron.cluster"(%x)
// CHECK-COUNT-5: "tf.Relu"
// CHECK:       "neuron.yield"
// CHECK:       "tf.Tanh"
// CHECK:       %r6, %r6_c = "tf.Relu"(%t) <{nir.cpu_reason = "pruned: its cluster of 1 op(s) is small beside the largest, which holds 5 of 6 clustered ops (keep-largest-ratio=0.8)"}>
// CHECK-NOT:   "neuron.cluster"

// -----

// Two clusters of 2 ops each: the largest holds half of the clustered ops, so both stay.
builtin.module attributes {tf.signature = "balanced", tf.tags = ["serve"]} {
  func.func @balanced(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %a, %a_c = "tf.Relu"(%x) <{node_name = "a", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %b, %b_c = "tf.Sigmoid"(%a) <{node_name = "b", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %t, %t_c = "tf.Tanh"(%b) <{node_name = "t", nir.cpu_reason = "op type Tanh is not in the op table"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %c, %c_c = "tf.Relu"(%t) <{node_name = "c", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %d, %d_c = "tf.Sigmoid"(%c) <{node_name = "d", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %d : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @balanced
// CHECK:       "neuron.cluster"(%x)
// CHECK:       "tf.Tanh"
// CHECK:       "neuron.cluster"
// CHECK-NOT:   pruned

// -----

// One cluster holds a MatMul, the other only elementwise ops: the cheap one goes back to CPU,
// though it is the larger (drop-cheap runs first).
builtin.module attributes {tf.signature = "drop_cheap", tf.tags = ["serve"]} {
  func.func @drop_cheap(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %w, %w_c = "tf.Const"() <{node_name = "w", nir.target = "inferentia"}> {dtype = f32, value = #tf.tensor<tensor<4x4xf32>, splat 0.5>} : () -> (tensor<4x4xf32>, !tf.control)
    %m, %m_c = "tf.MatMul"(%x, %w) <{node_name = "m", nir.target = "inferentia"}> {T = f32, transpose_a = false, transpose_b = false} : (tensor<1x4xf32>, tensor<4x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %t, %t_c = "tf.Tanh"(%m) <{node_name = "t", nir.cpu_reason = "op type Tanh is not in the op table"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %a, %a_c = "tf.Relu"(%t) <{node_name = "a", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %b, %b_c = "tf.Sigmoid"(%a) <{node_name = "b", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %c, %c_c = "tf.Relu"(%b) <{node_name = "c", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %c : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @drop_cheap
// CHECK:       "neuron.cluster"(%x)
// CHECK:         "tf.MatMul"
// CHECK:       "tf.Tanh"
// CHECK:       %a, %a_c = "tf.Relu"(%t) <{nir.cpu_reason = "pruned: its cluster holds no MatMul or convolution while others do (drop-cheap)"}>
// CHECK:       "tf.Sigmoid"{{.*}}drop-cheap
// CHECK:       "tf.Relu"{{.*}}drop-cheap
// CHECK-NOT:   "neuron.cluster"
