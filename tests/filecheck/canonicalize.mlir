// RUN: nir opt %s -p canonicalize | filecheck %s

// Identity chains fold away, pure control edges go, small shape arithmetic becomes a Const.
builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<2x4xf32> {tf.output_key = "y"}, tensor<8xf32> {tf.output_key = "flat"}) {
    %n = "tf.NoOp"() <{node_name = "deps"}> : () -> !tf.control
    %a, %a_c = "tf.Identity"(%x, %n) <{node_name = "a"}> {T = f32} : (tensor<2x4xf32>, !tf.control) -> (tensor<2x4xf32>, !tf.control)
    %b, %b_c = "tf.Identity"(%a) <{node_name = "b"}> {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    %r, %r_c = "tf.Relu"(%b) <{node_name = "relu"}> {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    %s, %s_c = "tf.Const"() <{node_name = "two"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [2]>} : () -> (tensor<i32>, !tf.control)
    %t, %t_c = "tf.Const"() <{node_name = "four"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [4]>} : () -> (tensor<i32>, !tf.control)
    %m, %m_c = "tf.Mul"(%s, %t) <{node_name = "eight"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    %p, %p_c = "tf.Pack"(%m) <{node_name = "shape"}> {N = 1 : i64, T = i32, axis = 0 : i64} : (tensor<i32>) -> (tensor<1xi32>, !tf.control)
    %f, %f_c = "tf.Reshape"(%r, %p) <{node_name = "flat"}> {T = f32, Tshape = i32} : (tensor<2x4xf32>, tensor<1xi32>) -> (tensor<8xf32>, !tf.control)
    func.return %r, %f : tensor<2x4xf32>, tensor<8xf32>
  }
}

// CHECK-NOT: "tf.Identity"
// CHECK-NOT: "tf.NoOp"
// CHECK:     "tf.Relu"(%x) <{node_name = "relu"}>
// CHECK:     "tf.Const"() <{node_name = "shape"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [8]>}
// CHECK-NOT: "tf.Mul"
// CHECK:     "tf.Reshape"
