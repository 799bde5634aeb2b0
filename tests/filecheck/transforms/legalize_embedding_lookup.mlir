// RUN: nir opt %s -p tf-legalize | filecheck %s

// A GatherV2 on a constant table becomes a one-hot matmul; int64 ids are cast to int32 first.
builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%ids: tensor<2x3xi64> {tf.input_key = "ids", tf.node_name = "ids"}) -> (tensor<2x3x2xf32> {tf.output_key = "y"}) {
    %t, %t_c = "tf.Const"() <{node_name = "table"}> {dtype = f32, value = #tf.tensor<tensor<4x2xf32>, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]>} : () -> (tensor<4x2xf32>, !tf.control)
    %a, %a_c = "tf.Const"() <{node_name = "axis"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)
    %g, %g_c = "tf.GatherV2"(%t, %ids, %a) <{node_name = "lookup"}> {Taxis = i32, Tindices = i64, Tparams = f32, batch_dims = 0 : i64} : (tensor<4x2xf32>, tensor<2x3xi64>, tensor<i32>) -> (tensor<2x3x2xf32>, !tf.control)
    func.return %g : tensor<2x3x2xf32>
  }
}

// CHECK:      %lookup.ids_int32, %lookup.ids_int32_c = "tf.Cast"(%ids)
// CHECK-SAME: -> (tensor<2x3xi32>
// The row count and the result's batch are -1 in the targets: the rewrite holds at any batch.
// CHECK:      %lookup.ids_column.shape, %lookup.ids_column.shape_c = "tf.Const"() <{{{.*}}[-1, 1]>
// CHECK:      %lookup.ids_column, %lookup.ids_column_c = "tf.Reshape"({{[^)]*}})
// CHECK-SAME: -> (tensor<6x1xi32>
// CHECK:      %lookup.rows, %lookup.rows_c = "tf.Const"() <{{{.*}}[0, 1, 2, 3]
// CHECK:      %lookup.one_hot_mask, %lookup.one_hot_mask_c = "tf.Equal"({{[^)]*}})
// CHECK-SAME: -> (tensor<6x4xi1>
// CHECK:      %lookup.one_hot, %lookup.one_hot_c = "tf.Cast"({{[^)]*}})
// CHECK-SAME: -> (tensor<6x4xf32>
// CHECK:      %lookup.matmul, %lookup.matmul_c = "tf.MatMul"({{[^)]*}})
// CHECK-SAME: -> (tensor<6x2xf32>
// CHECK:      %lookup.shape, %lookup.shape_c = "tf.Const"() <{{{.*}}[-1, 3, 2]>
// CHECK:      %lookup, %lookup_c = "tf.Reshape"({{[^)]*}})
// CHECK-SAME: -> (tensor<2x3x2xf32>
// CHECK-NOT:  "tf.GatherV2"
