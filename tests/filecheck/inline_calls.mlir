// RUN: nir opt %s -p 'inline-calls,legalize' | filecheck %s

// A call Grappler left (Keras marks some layers _noinline) is replaced by its body, node names
// prefixed with the call's; the function goes. A call to a function the model lacks stays,
// and legalize says why.
builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}, tensor<1x4xf32> {tf.output_key = "z"}) {
    %w, %w_c = "tf.Const"() <{node_name = "w"}> {dtype = f32, value = #tf.tensor<tensor<4x4xf32>, __elided__>} : () -> (tensor<4x4xf32>, !tf.control)
    %y, %y_c = "tf.StatefulPartitionedCall"(%w, %x) <{node_name = "dense/call"}> {Tin = #tf.list<[f32, f32]>, Tout = #tf.list<[f32]>, config = "", config_proto = "", executor_type = "", f = #tf.func<@dense_body, {}>} : (tensor<4x4xf32>, tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %z, %z_c = "tf.PartitionedCall"(%y) <{node_name = "lost/call"}> {Tin = #tf.list<[f32]>, Tout = #tf.list<[f32]>, config = "", config_proto = "", executor_type = "", f = #tf.func<@not_there, {}>} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %y, %z : tensor<1x4xf32>, tensor<1x4xf32>
  }
  func.func private @dense_body(%kernel: tensor<4x4xf32> {tf.input_key = "kernel"}, %inputs: tensor<1x4xf32> {tf.input_key = "inputs"}) -> (tensor<1x4xf32> {tf.output_key = "identity"}) {
    %m, %m_c = "tf.MatMul"(%inputs, %kernel) <{node_name = "MatMul"}> {T = f32, transpose_a = false, transpose_b = false} : (tensor<1x4xf32>, tensor<4x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %r, %r_c = "tf.Relu"(%m) <{node_name = "Relu"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %r : tensor<1x4xf32>
  }
}

// CHECK:      "tf.MatMul"(%x, %w) <{node_name = "dense/call/MatMul"
// CHECK:      %[[RELU:.*]], %{{.*}} = "tf.Relu"({{.*}}) <{node_name = "dense/call/Relu"
// CHECK:      "tf.PartitionedCall"(%[[RELU]]) <{node_name = "lost/call", {{.*}}nir.cpu_reason = "function call not inlined: function 'not_there' is not in the model's function library"
// CHECK:      func.return %[[RELU]],
// CHECK-NOT:  @dense_body
