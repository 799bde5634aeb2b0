// RUN: nir opt %s --allow-elided -p 'tf-batch-specialize{batch-size=4},tf-shape-inference' --split-input-file | filecheck %s

// The unknown batch becomes 4 and flows through conv (SAME, stride 2), pooling, reshape with -1,
// matmul and a Shape -> StridedSlice -> Pack chain; data tensors record that dim 0 is the batch,
// shape metadata does not.
builtin.module attributes {tf.signature = "conv_net", tf.tags = ["serve"]} {
  func.func @conv_net(%img: tensor<?x32x32x3xf32> {tf.input_key = "img", tf.node_name = "img"}) -> (tensor<*xf32> {tf.output_key = "out"}) {
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

// CHECK-LABEL: func.func @conv_net(%img: tensor<4x32x32x3xf32>
// CHECK-SAME: -> (tensor<4x10xf32>
// CHECK: %conv, %conv_c = "tf.Conv2D"(%img, %w) <{nir.batch_axes = [0 : i64]}>{{.*}} -> (tensor<4x16x16x8xf32>, !tf.control)
// CHECK: "tf.MaxPool"{{.*}} -> (tensor<4x8x8x8xf32>, !tf.control)
// CHECK: %shape, %shape_c = "tf.Shape"(%pool) {{.*}} -> (tensor<4xi32>, !tf.control)
// CHECK: "tf.StridedSlice"{{.*}} -> (tensor<i32>, !tf.control)
// CHECK: "tf.Pack"{{.*}} -> (tensor<2xi32>, !tf.control)
// CHECK: "tf.Reshape"{{.*}} -> (tensor<4x512xf32>, !tf.control)
// CHECK: %logits, %logits_c = "tf.MatMul"(%flat, %k) <{nir.batch_axes = [0 : i64]}>{{.*}} -> (tensor<4x10xf32>, !tf.control)

// -----

// Broadcasting elementwise ops take the broadcast shape; Transpose reads its constant perm.
builtin.module attributes {tf.signature = "broadcast", tf.tags = ["serve"]} {
  func.func @broadcast(%a: tensor<?x1xf32> {tf.input_key = "a", tf.node_name = "a"}, %b: tensor<1x3xf32> {tf.input_key = "b", tf.node_name = "b"}) -> (tensor<*xf32> {tf.output_key = "y"}) {
    %s, %s_c = "tf.AddV2"(%a, %b) <{node_name = "sum"}> {T = f32} : (tensor<?x1xf32>, tensor<1x3xf32>) -> (tensor<*xf32>, !tf.control)
    %p, %p_c = "tf.Const"() <{node_name = "perm"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [1, 0]>} : () -> (tensor<2xi32>, !tf.control)
    %t, %t_c = "tf.Transpose"(%s, %p) <{node_name = "t"}> {T = f32, Tperm = i32} : (tensor<*xf32>, tensor<2xi32>) -> (tensor<*xf32>, !tf.control)
    func.return %t : tensor<*xf32>
  }
}

// CHECK-LABEL: func.func @broadcast
// CHECK-SAME:  -> (tensor<3x4xf32>
// CHECK:       "tf.AddV2"(%a, %b){{.*}} -> (tensor<4x3xf32>, !tf.control)
// CHECK:       "tf.Transpose"(%sum, %perm){{.*}} -> (tensor<3x4xf32>, !tf.control)

// -----

// ConcatV2 on a constant axis adds up that dimension; Shape of a static tensor is known, and
// shape metadata does not carry the batch.
builtin.module attributes {tf.signature = "concat", tf.tags = ["serve"]} {
  func.func @concat(%a: tensor<?x2xf32> {tf.input_key = "a", tf.node_name = "a"}, %b: tensor<?x5xf32> {tf.input_key = "b", tf.node_name = "b"}) -> (tensor<*xf32> {tf.output_key = "y"}, tensor<*xi32> {tf.output_key = "s"}) {
    %axis, %axis_c = "tf.Const"() <{node_name = "axis"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %c, %c_c = "tf.ConcatV2"(%a, %b, %axis) <{node_name = "cat"}> {N = 2 : i64, T = f32, Tidx = i32} : (tensor<?x2xf32>, tensor<?x5xf32>, tensor<i32>) -> (tensor<*xf32>, !tf.control)
    %shape, %shape_c = "tf.Shape"(%c) <{node_name = "shape"}> {T = f32, out_type = i32} : (tensor<*xf32>) -> (tensor<*xi32>, !tf.control)
    func.return %c, %shape : tensor<*xf32>, tensor<*xi32>
  }
}

// CHECK-LABEL: func.func @concat
// CHECK:       %cat, %cat_c = "tf.ConcatV2"(%a, %b, %axis) <{nir.batch_axes = [0 : i64]}>{{.*}} -> (tensor<4x7xf32>, !tf.control)
// CHECK:       %shape, %shape_c = "tf.Shape"(%cat) {{.*}} -> (tensor<2xi32>, !tf.control)

// -----

// MatMul's transpose attributes decide which dimensions meet: [2,3] x [5,3]^T is [2,5], and
// [3,2]^T x [3,5] is [2,5].
builtin.module attributes {tf.signature = "transposed_matmul", tf.tags = ["serve"]} {
  func.func @transposed_matmul(%a: tensor<2x3xf32> {tf.input_key = "a", tf.node_name = "a"}, %b: tensor<5x3xf32> {tf.input_key = "b", tf.node_name = "b"}, %c: tensor<3x2xf32> {tf.input_key = "c", tf.node_name = "c"}, %d: tensor<3x5xf32> {tf.input_key = "d", tf.node_name = "d"}) -> (tensor<*xf32> {tf.output_key = "ab"}, tensor<*xf32> {tf.output_key = "cd"}) {
    %ab, %ab_c = "tf.MatMul"(%a, %b) <{node_name = "ab"}> {T = f32, transpose_a = false, transpose_b = true} : (tensor<2x3xf32>, tensor<5x3xf32>) -> (tensor<*xf32>, !tf.control)
    %cd, %cd_c = "tf.MatMul"(%c, %d) <{node_name = "cd"}> {T = f32, transpose_a = true, transpose_b = false} : (tensor<3x2xf32>, tensor<3x5xf32>) -> (tensor<*xf32>, !tf.control)
    func.return %ab, %cd : tensor<*xf32>, tensor<*xf32>
  }
}

// CHECK-LABEL: func.func @transposed_matmul
// CHECK:       %ab, %ab_c = "tf.MatMul"(%a, %b) {{.*}} -> (tensor<2x5xf32>, !tf.control)
// CHECK:       %cd, %cd_c = "tf.MatMul"(%c, %d) {{.*}} -> (tensor<2x5xf32>, !tf.control)

// -----

// A lookup gives one value per key: a static hash table's values are scalars (TensorFlow leaves
// the result unranked: the table's handle carries no shapes), a table of tensors' values have its
// value_shape. A handle from outside the function says nothing.
builtin.module attributes {tf.signature = "lookups", tf.tags = ["serve"]} {
  func.func @lookups(%words: tensor<?x3x!tf.dtype<"string">> {tf.input_key = "words", tf.node_name = "words"}, %h: tensor<!tf.dtype<"resource">> {tf.input_key = "h", tf.node_name = "h"}) -> (tensor<*xi64> {tf.output_key = "ids"}, tensor<*xf32> {tf.output_key = "vectors"}, tensor<*xi64> {tf.output_key = "unknown"}) {
    %table, %table_c = "tf.HashTableV2"() <{node_name = "table"}> {container = "", key_dtype = !tf.dtype<"string">, shared_name = "t", use_node_name_sharing = false, value_dtype = i64} : () -> (tensor<!tf.dtype<"resource">>, !tf.control)
    %through, %through_c = "tf.Identity"(%table) <{node_name = "through"}> {T = !tf.dtype<"resource">} : (tensor<!tf.dtype<"resource">>) -> (tensor<!tf.dtype<"resource">>, !tf.control)
    %d, %d_c = "tf.Const"() <{node_name = "default"}> {dtype = i64, value = #tf.tensor<tensor<i64>, [-1]>} : () -> (tensor<i64>, !tf.control)
    %ids, %ids_c = "tf.LookupTableFindV2"(%through, %words, %d) <{node_name = "ids"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<?x3x!tf.dtype<"string">>, tensor<i64>) -> (tensor<*xi64>, !tf.control)
    %vt, %vt_c = "tf.MutableHashTableOfTensorsV2"() <{node_name = "vector_table"}> {container = "", key_dtype = !tf.dtype<"string">, shared_name = "v", use_node_name_sharing = false, value_dtype = f32, value_shape = #tf.shape<[5]>} : () -> (tensor<!tf.dtype<"resource">>, !tf.control)
    %dv, %dv_c = "tf.Const"() <{node_name = "default_vector"}> {dtype = f32, value = #tf.tensor<tensor<5xf32>, [0.0, 0.0, 0.0, 0.0, 0.0]>} : () -> (tensor<5xf32>, !tf.control)
    %vectors, %vectors_c = "tf.LookupTableFindV2"(%vt, %words, %dv) <{node_name = "vectors"}> {Tin = !tf.dtype<"string">, Tout = f32} : (tensor<!tf.dtype<"resource">>, tensor<?x3x!tf.dtype<"string">>, tensor<5xf32>) -> (tensor<*xf32>, !tf.control)
    %unknown, %unknown_c = "tf.LookupTableFindV2"(%h, %words, %d) <{node_name = "unknown"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<?x3x!tf.dtype<"string">>, tensor<i64>) -> (tensor<*xi64>, !tf.control)
    func.return %ids, %vectors, %unknown : tensor<*xi64>, tensor<*xf32>, tensor<*xi64>
  }
}

// CHECK-LABEL: func.func @lookups
// CHECK:       %ids, %ids_c = "tf.LookupTableFindV2"{{.*}} -> (tensor<4x3xi64>, !tf.control)
// CHECK:       %vectors, %vectors_c = "tf.LookupTableFindV2"{{.*}} -> (tensor<4x3x5xf32>, !tf.control)
// CHECK:       %unknown, %unknown_c = "tf.LookupTableFindV2"{{.*}} -> (tensor<*xi64>, !tf.control)

// -----

// A ragged tensor padded to a dense one (TextVectorization's output_sequence_length): the shape
// input's dims where it sets them, the rows from the first partition where it does not: the
// number of strings split (dense_shape[0] of StringSplitV2), or the row splits' length less one.
builtin.module attributes {tf.signature = "padded", tf.tags = ["serve"]} {
  func.func @padded(%text: tensor<?x!tf.dtype<"string">> {tf.input_key = "text", tf.node_name = "text"}, %splits: tensor<6xi64> {tf.input_key = "splits", tf.node_name = "splits"}, %flat: tensor<?xi64> {tf.input_key = "flat", tf.node_name = "flat"}, %sep: tensor<!tf.dtype<"string">> {tf.input_key = "sep", tf.node_name = "sep"}) -> (tensor<*xi64> {tf.output_key = "by_rowids"}, tensor<*xi64> {tf.output_key = "by_splits"}) {
    %idx, %tokens, %dense, %split_c = "tf.StringSplitV2"(%text, %sep) <{node_name = "split"}> {maxsplit = -1 : i64} : (tensor<?x!tf.dtype<"string">>, tensor<!tf.dtype<"string">>) -> (tensor<?x2xi64>, tensor<?x!tf.dtype<"string">>, tensor<2xi64>, !tf.control)
    %b0, %b0_c = "tf.Const"() <{node_name = "b0"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [0]>} : () -> (tensor<1xi32>, !tf.control)
    %b1, %b1_c = "tf.Const"() <{node_name = "b1"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [1]>} : () -> (tensor<1xi32>, !tf.control)
    %rows, %rows_c = "tf.StridedSlice"(%dense, %b0, %b1, %b1) <{node_name = "rows"}> {Index = i32, T = i64, begin_mask = 0 : i64, ellipsis_mask = 0 : i64, end_mask = 0 : i64, new_axis_mask = 0 : i64, shrink_axis_mask = 1 : i64} : (tensor<2xi64>, tensor<1xi32>, tensor<1xi32>, tensor<1xi32>) -> (tensor<i64>, !tf.control)
    %shape, %shape_c = "tf.Const"() <{node_name = "shape"}> {dtype = i64, value = #tf.tensor<tensor<2xi64>, [-1, 12]>} : () -> (tensor<2xi64>, !tf.control)
    %pad, %pad_c = "tf.Const"() <{node_name = "pad"}> {dtype = i64, value = #tf.tensor<tensor<i64>, [0]>} : () -> (tensor<i64>, !tf.control)
    %rowids, %rowids_c = "tf.Const"() <{node_name = "rowids"}> {dtype = i64, value = #tf.tensor<tensor<2xi64>, [0, 0]>} : () -> (tensor<2xi64>, !tf.control)
    %by_rowids, %by_rowids_c = "tf.RaggedTensorToTensor"(%shape, %flat, %pad, %rows, %rowids) <{node_name = "by_rowids"}> {T = i64, Tindex = i64, Tshape = i64, num_row_partition_tensors = 2 : i64, row_partition_types = #tf.list<["FIRST_DIM_SIZE", "VALUE_ROWIDS"]>} : (tensor<2xi64>, tensor<?xi64>, tensor<i64>, tensor<i64>, tensor<2xi64>) -> (tensor<*xi64>, !tf.control)
    %by_splits, %by_splits_c = "tf.RaggedTensorToTensor"(%shape, %flat, %pad, %splits) <{node_name = "by_splits"}> {T = i64, Tindex = i64, Tshape = i64, num_row_partition_tensors = 1 : i64, row_partition_types = #tf.list<["ROW_SPLITS"]>} : (tensor<2xi64>, tensor<?xi64>, tensor<i64>, tensor<6xi64>) -> (tensor<*xi64>, !tf.control)
    func.return %by_rowids, %by_splits : tensor<*xi64>, tensor<*xi64>
  }
}

// CHECK-LABEL: func.func @padded
// CHECK:       %by_rowids, %by_rowids_c = "tf.RaggedTensorToTensor"{{.*}} -> (tensor<4x12xi64>, !tf.control)
// CHECK:       %by_splits, %by_splits_c = "tf.RaggedTensorToTensor"{{.*}} -> (tensor<5x12xi64>, !tf.control)

// -----

// Branch functions two Ifs share are left general: specialized to the first If's operands
// (4x4), they would be wrong for the second's (2x4). Both Ifs' results stay unknown. (In the
// default pipeline inline-calls has given each If its own copies before this pass runs.)
builtin.module attributes {tf.signature = "shared_branches", tf.tags = ["serve"]} {
  func.func @shared_branches(%p: tensor<i1> {tf.input_key = "p", tf.node_name = "p"}, %x: tensor<?x4xf32> {tf.input_key = "x", tf.node_name = "x"}, %w: tensor<2x4xf32> {tf.input_key = "w", tf.node_name = "w"}) -> (tensor<*xf32> {tf.output_key = "y"}, tensor<*xf32> {tf.output_key = "z"}) {
    %y, %y_c = "tf.StatelessIf"(%p, %x) <{node_name = "first"}> {Tcond = i1, Tin = #tf.list<[f32]>, Tout = #tf.list<[f32]>, then_branch = #tf.func<@then, {}>, else_branch = #tf.func<@else, {}>, output_shapes = #tf.list<[]>} : (tensor<i1>, tensor<?x4xf32>) -> (tensor<*xf32>, !tf.control)
    %z, %z_c = "tf.StatelessIf"(%p, %w) <{node_name = "second"}> {Tcond = i1, Tin = #tf.list<[f32]>, Tout = #tf.list<[f32]>, then_branch = #tf.func<@then, {}>, else_branch = #tf.func<@else, {}>, output_shapes = #tf.list<[]>} : (tensor<i1>, tensor<2x4xf32>) -> (tensor<*xf32>, !tf.control)
    func.return %y, %z : tensor<*xf32>, tensor<*xf32>
  }
  func.func private @then(%a: tensor<*xf32> {tf.input_key = "a"}) -> (tensor<*xf32> {tf.output_key = "out"}) {
    %r, %r_c = "tf.Relu"(%a) <{node_name = "relu"}> {T = f32} : (tensor<*xf32>) -> (tensor<*xf32>, !tf.control)
    func.return %r : tensor<*xf32>
  }
  func.func private @else(%a: tensor<*xf32> {tf.input_key = "a"}) -> (tensor<*xf32> {tf.output_key = "out"}) {
    %r, %r_c = "tf.Neg"(%a) <{node_name = "neg"}> {T = f32} : (tensor<*xf32>) -> (tensor<*xf32>, !tf.control)
    func.return %r : tensor<*xf32>
  }
}

// CHECK-LABEL: func.func @shared_branches
// CHECK:       %first, %first_c = "tf.StatelessIf"(%p, %x) {{.*}} : (tensor<i1>, tensor<4x4xf32>) -> (tensor<*xf32>, !tf.control)
// CHECK:       %second, %second_c = "tf.StatelessIf"(%p, %w) {{.*}} : (tensor<i1>, tensor<2x4xf32>) -> (tensor<*xf32>, !tf.control)
// CHECK:       func.func private @then(%a: tensor<*xf32> {tf.input_key = "a"}) -> (tensor<*xf32> {tf.output_key = "out"})
// CHECK-NEXT:  "tf.Relu"(%a) {T = f32} : (tensor<*xf32>) -> (tensor<*xf32>, !tf.control)
// CHECK:       func.func private @else(%a: tensor<*xf32> {tf.input_key = "a"}) -> (tensor<*xf32> {tf.output_key = "out"})
