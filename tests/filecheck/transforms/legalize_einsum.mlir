// RUN: nir opt %s -p tf-legalize --split-input-file | filecheck %s

// MultiHeadAttention's two einsums become Transpose/Reshape/BatchMatMul; the op keeps its node name.
builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%q: tensor<2x5x4x8xf32> {tf.input_key = "q", tf.node_name = "q"}, %k: tensor<2x6x4x8xf32> {tf.input_key = "k", tf.node_name = "k"}, %w: tensor<8x3xf32> {tf.input_key = "w", tf.node_name = "w"}, %m: tensor<3x3xf32> {tf.input_key = "m", tf.node_name = "m"}) -> (tensor<2x4x5x6xf32> {tf.output_key = "scores"}, tensor<2x5x4x3xf32> {tf.output_key = "proj"}, tensor<*xf32> {tf.output_key = "diag"}) {
    %s, %s_c = "tf.Einsum"(%q, %k) <{node_name = "scores"}> {N = 2 : i64, T = f32, equation = "BTNH,BSNH->BNTS"} : (tensor<2x5x4x8xf32>, tensor<2x6x4x8xf32>) -> (tensor<2x4x5x6xf32>, !tf.control)
    %p, %p_c = "tf.Einsum"(%q, %w) <{node_name = "proj"}> {N = 2 : i64, T = f32, equation = "abcd,de->abce"} : (tensor<2x5x4x8xf32>, tensor<8x3xf32>) -> (tensor<2x5x4x3xf32>, !tf.control)
    %d, %d_c = "tf.Einsum"(%m) <{node_name = "diag"}> {N = 1 : i64, T = f32, equation = "ii->i"} : (tensor<3x3xf32>) -> (tensor<*xf32>, !tf.control)
    func.return %s, %p, %d : tensor<2x4x5x6xf32>, tensor<2x5x4x3xf32>, tensor<*xf32>
  }
}

// CHECK:      %scores.transpose_a, %scores.transpose_a_c = "tf.Transpose"(%q, %{{[^)]*}})
// CHECK-SAME: -> (tensor<2x4x5x8xf32>
// CHECK:      %scores.transpose_b, %scores.transpose_b_c = "tf.Transpose"(%k, %{{[^)]*}})
// CHECK-SAME: -> (tensor<2x4x8x6xf32>
// CHECK:      %scores.reshape_a, %scores.reshape_a_c = "tf.Reshape"({{[^)]*}})
// CHECK-SAME: -> (tensor<8x5x8xf32>
// CHECK:      %scores.reshape_b, %scores.reshape_b_c = "tf.Reshape"({{[^)]*}})
// CHECK-SAME: -> (tensor<8x8x6xf32>
// CHECK:      %scores.matmul, %scores.matmul_c = "tf.BatchMatMul"({{[^)]*}})
// CHECK-SAME: -> (tensor<8x5x6xf32>
// CHECK:      %scores, %scores_c = "tf.Reshape"({{[^)]*}})
// CHECK-SAME: -> (tensor<2x4x5x6xf32>
// CHECK:      %proj.reshape_a, %proj.reshape_a_c = "tf.Reshape"(%q, %{{[^)]*}})
// CHECK-SAME: -> (tensor<40x8xf32>
// CHECK:      %proj.matmul, %proj.matmul_c = "tf.MatMul"({{[^)]*}}, %w)
// CHECK:      %proj, %proj_c = "tf.Reshape"({{[^)]*}})
// CHECK-SAME: -> (tensor<2x5x4x3xf32>
// A diagonal is not handled: it stays, and the reason says why.
// CHECK:      %diag, %diag_c = "tf.Einsum"(%m) <{{{.*}}nir.cpu_reason = "op type Einsum not supported by inferentia (einsum with a repeated letter in 'ii' (diagonal or trace), so it was not rewritten)"

// -----

// An operand that carries the model's batch on dimension 0: every Reshape target says -1 for the
// group of letters holding the batch letter (here 'b'), so the rewrite holds at any batch size
// (dynamic batch, or the graph inlined and run at another batch).
builtin.module attributes {tf.signature = "batched", tf.tags = ["serve"]} {
  func.func @batched(%x: tensor<2x5x8xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64}, %q: tensor<2x5x4x8xf32> {tf.input_key = "q", tf.node_name = "q", nir.batch_axis = 0 : i64}, %k: tensor<2x6x4x8xf32> {tf.input_key = "k", tf.node_name = "k", nir.batch_axis = 0 : i64}, %w: tensor<8x3xf32> {tf.input_key = "w", tf.node_name = "w"}) -> (tensor<2x5x3xf32> {tf.output_key = "dense"}, tensor<2x4x5x6xf32> {tf.output_key = "scores"}) {
    %d, %d_c = "tf.Einsum"(%x, %w) <{node_name = "dense"}> {N = 2 : i64, T = f32, equation = "btf,fh->bth"} : (tensor<2x5x8xf32>, tensor<8x3xf32>) -> (tensor<2x5x3xf32>, !tf.control)
    %s, %s_c = "tf.Einsum"(%q, %k) <{node_name = "scores"}> {N = 2 : i64, T = f32, equation = "BTNH,BSNH->BNTS"} : (tensor<2x5x4x8xf32>, tensor<2x6x4x8xf32>) -> (tensor<2x4x5x6xf32>, !tf.control)
    func.return %d, %s : tensor<2x5x3xf32>, tensor<2x4x5x6xf32>
  }
}

// CHECK-LABEL: func.func @batched
// CHECK:       "tf.Const"() {{.*}}value = #tf.tensor<tensor<2xi32>, [-1, 8]>
// CHECK:       %dense.reshape_a, %dense.reshape_a_c = "tf.Reshape"(%x, %{{[^)]*}})
// CHECK-SAME:  -> (tensor<10x8xf32>
// CHECK:       "tf.Const"() {{.*}}value = #tf.tensor<tensor<3xi32>, [-1, 5, 3]>
// CHECK:       %dense, %dense_c = "tf.Reshape"
// CHECK:       "tf.Const"() {{.*}}value = #tf.tensor<tensor<3xi32>, [-1, 5, 8]>
// CHECK:       %scores.reshape_a, %scores.reshape_a_c = "tf.Reshape"
// CHECK:       "tf.Const"() {{.*}}value = #tf.tensor<tensor<3xi32>, [-1, 8, 6]>
// CHECK:       %scores.reshape_b, %scores.reshape_b_c = "tf.Reshape"
// CHECK:       "tf.Const"() {{.*}}value = #tf.tensor<tensor<4xi32>, [-1, 4, 5, 6]>
// CHECK:       %scores, %scores_c = "tf.Reshape"
