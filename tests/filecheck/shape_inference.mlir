// RUN: nir opt %s -p 'batch-specialize{batch-size=4},shape-inference' | filecheck %s

// The unknown batch becomes 4 and flows through conv (SAME, stride 2), pooling, reshape with -1,
// matmul and a Shape -> StridedSlice -> Pack chain; data tensors record that dim 0 is the batch,
// shape metadata does not.
builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%img: tensor<?x32x32x3xf32> {tf.input_key = "img", tf.node_name = "img"}) -> (tensor<*xf32> {tf.output_key = "out"}) {
    %w, %w_c = "tf.Const"() <{node_name = "w"}> {dtype = f32, value = #tf.tensor<tensor<3x3x3x8xf32>, __elided__>} : () -> (tensor<3x3x3x8xf32>, !tf.control)
    %conv, %conv_c = "tf.Conv2D"(%img, %w) <{node_name = "conv"}> {T = f32, data_format = "NHWC", dilations = #tf.list<[1 : i64, 1 : i64, 1 : i64, 1 : i64]>, padding = "SAME", strides = #tf.list<[1 : i64, 2 : i64, 2 : i64, 1 : i64]>} : (tensor<?x32x32x3xf32>, tensor<3x3x3x8xf32>) -> (tensor<*xf32>, !tf.control)
    %pool, %pool_c = "tf.MaxPool"(%conv) <{node_name = "pool"}> {T = f32, data_format = "NHWC", ksize = #tf.list<[1 : i64, 2 : i64, 2 : i64, 1 : i64]>, padding = "VALID", strides = #tf.list<[1 : i64, 2 : i64, 2 : i64, 1 : i64]>} : (tensor<*xf32>) -> (tensor<*xf32>, !tf.control)
    %shape, %shape_c = "tf.Shape"(%pool) <{node_name = "shape"}> {T = f32, out_type = i32} : (tensor<*xf32>) -> (tensor<*xi32>, !tf.control)
    %b0, %b0_c = "tf.Const"() <{node_name = "b0"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [0]>} : () -> (tensor<1xi32>, !tf.control)
    %b1, %b1_c = "tf.Const"() <{node_name = "b1"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [1]>} : () -> (tensor<1xi32>, !tf.control)
    %batch, %batch_c = "tf.StridedSlice"(%shape, %b0, %b1, %b1) <{node_name = "batch"}> {Index = i32, T = i32, begin_mask = 0 : i64, ellipsis_mask = 0 : i64, end_mask = 0 : i64, new_axis_mask = 0 : i64, shrink_axis_mask = 1 : i64} : (tensor<*xi32>, tensor<1xi32>, tensor<1xi32>, tensor<1xi32>) -> (tensor<*xi32>, !tf.control)
    %minus1, %minus1_c = "tf.Const"() <{node_name = "minus1"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [-1]>} : () -> (tensor<i32>, !tf.control)
    %target, %target_c = "tf.Pack"(%batch, %minus1) <{node_name = "target"}> {N = 2 : i64, T = i32, axis = 0 : i64} : (tensor<*xi32>, tensor<i32>) -> (tensor<*xi32>, !tf.control)
    %flat, %flat_c = "tf.Reshape"(%pool, %target) <{node_name = "flat"}> {T = f32, Tshape = i32} : (tensor<*xf32>, tensor<*xi32>) -> (tensor<*xf32>, !tf.control)
    %k, %k_c = "tf.Const"() <{node_name = "k"}> {dtype = f32, value = #tf.tensor<tensor<512x10xf32>, __elided__>} : () -> (tensor<512x10xf32>, !tf.control)
    %out, %out_c = "tf.MatMul"(%flat, %k) <{node_name = "logits"}> {T = f32, transpose_a = false, transpose_b = false} : (tensor<*xf32>, tensor<512x10xf32>) -> (tensor<*xf32>, !tf.control)
    func.return %out : tensor<*xf32>
  }
}

// CHECK: func.func @main(%img: tensor<4x32x32x3xf32>
// CHECK-SAME: -> (tensor<4x10xf32>
// CHECK: "tf.Conv2D"(%img, %w) <{node_name = "conv", nir.batch_axes = [0 : i64]}>{{.*}} -> (tensor<4x16x16x8xf32>, !tf.control)
// CHECK: "tf.MaxPool"{{.*}} -> (tensor<4x8x8x8xf32>, !tf.control)
// CHECK: "tf.Shape"(%pool) <{node_name = "shape"}>{{.*}} -> (tensor<4xi32>, !tf.control)
// CHECK: "tf.StridedSlice"{{.*}} -> (tensor<i32>, !tf.control)
// CHECK: "tf.Pack"{{.*}} -> (tensor<2xi32>, !tf.control)
// CHECK: "tf.Reshape"{{.*}} -> (tensor<4x512xf32>, !tf.control)
// CHECK: "tf.MatMul"(%flat, %k) <{node_name = "logits", nir.batch_axes = [0 : i64]}>{{.*}} -> (tensor<4x10xf32>, !tf.control)
