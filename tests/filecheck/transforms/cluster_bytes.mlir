// RUN: nir opt %s -p 'tf-cluster{minimum-segment-size=2 max-cluster-bytes=64}' | filecheck %s

// max-cluster-bytes cuts a cluster whose weights pass it: each 4x4 weight is 64 bytes, so the
// two MatMuls cannot share a cluster. The first piece is a lone MatMul, below
// minimum-segment-size; its reason names the byte limit, the setting the user can change.
builtin.module attributes {tf.signature = "two_weights", tf.tags = ["serve"]} {
  func.func @two_weights(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %w1, %w1_c = "tf.Const"() <{node_name = "w1", nir.target = "inferentia"}> {dtype = f32, value = #tf.tensor<tensor<4x4xf32>, splat 1.0>} : () -> (tensor<4x4xf32>, !tf.control)
    %w2, %w2_c = "tf.Const"() <{node_name = "w2", nir.target = "inferentia"}> {dtype = f32, value = #tf.tensor<tensor<4x4xf32>, splat 2.0>} : () -> (tensor<4x4xf32>, !tf.control)
    %m1, %m1_c = "tf.MatMul"(%x, %w1) <{node_name = "m1", nir.target = "inferentia"}> {T = f32, transpose_a = false, transpose_b = false} : (tensor<1x4xf32>, tensor<4x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %m2, %m2_c = "tf.MatMul"(%m1, %w2) <{node_name = "m2", nir.target = "inferentia"}> {T = f32, transpose_a = false, transpose_b = false} : (tensor<1x4xf32>, tensor<4x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %t, %t_c = "tf.Tanh"(%m2) <{node_name = "t", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %t : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @two_weights
// CHECK:       %m1, %m1_c = "tf.MatMul"(%x, %w1) <{nir.cpu_reason = "in a cluster of 1 op(s), below minimum_segment_size=2 (cut to that size by max-cluster-bytes=64: its weights and its neighbours' pass the limit together)"
// CHECK:       "neuron.cluster"(%m1)
// CHECK:         %w2.neuron_op_{{.*}} = "tf.Const"() {{.*}} splat 2.0
// CHECK-NEXT:    "tf.MatMul"
// CHECK-NEXT:    "tf.Tanh"
// CHECK-NOT:   "neuron.cluster"
