// RUN: nir opt %s -p 'tf-batch-specialize{batch-size=4}' --split-input-file --verify-diagnostics | filecheck %s

// An unknown dimension 0 becomes the batch size, and the argument records that it carries the
// batch; shapes downstream are shape-inference's job.
builtin.module attributes {tf.signature = "unknown_batch", tf.tags = ["serve"]} {
  func.func @unknown_batch(%x: tensor<?x8xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<?x8xf32> {tf.output_key = "y"}) {
    %r, %r_c = "tf.Relu"(%x) <{node_name = "relu"}> {T = f32} : (tensor<?x8xf32>) -> (tensor<?x8xf32>, !tf.control)
    func.return %r : tensor<?x8xf32>
  }
}

// CHECK-LABEL: func.func @unknown_batch
// CHECK-SAME:  (%x: tensor<4x8xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64})
// CHECK:       %relu, %relu_c = "tf.Relu"(%x) {T = f32} : (tensor<4x8xf32>) -> (tensor<?x8xf32>, !tf.control)

// -----

// A known dimension 0 is never changed, and then it does not carry a batch nir may change.
builtin.module attributes {tf.signature = "static_batch", tf.tags = ["serve"]} {
  func.func @static_batch(%x: tensor<2x8xf32> {tf.input_key = "x", tf.node_name = "x"}, %n: tensor<i32> {tf.input_key = "n", tf.node_name = "n"}) -> (tensor<2x8xf32> {tf.output_key = "y"}) {
    %r, %r_c = "tf.Relu"(%x) <{node_name = "relu"}> {T = f32} : (tensor<2x8xf32>) -> (tensor<2x8xf32>, !tf.control)
    func.return %r : tensor<2x8xf32>
  }
}

// CHECK-LABEL: func.func @static_batch
// CHECK-SAME:  (%x: tensor<2x8xf32> {{{.*}}nir.batch_axis = -1 : i64}, %n: tensor<i32> {{{.*}}nir.batch_axis = -1 : i64})

// -----

// Any other unknown dimension has no size to take: an error naming the input.
// expected-error {{'x'}}
builtin.module attributes {tf.signature = "unknown_width", tf.tags = ["serve"]} {
  func.func @unknown_width(%x: tensor<?x?xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<?x?xf32> {tf.output_key = "y"}) {
    %r, %r_c = "tf.Relu"(%x) <{node_name = "relu"}> {T = f32} : (tensor<?x?xf32>) -> (tensor<?x?xf32>, !tf.control)
    func.return %r : tensor<?x?xf32>
  }
}

// CHECK-NOT: @unknown_width
