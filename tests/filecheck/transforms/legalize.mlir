// RUN: nir opt %s -p 'tf-legalize{no-fuse-ops="keep" force-fuse-ops="compiled","forced" supported-op-types="Add","Relu","Tanh","Identity","Sub","Erf","Const","BatchMatMul","MatMul","Transpose","Reshape","Exp","Sum","Select","BroadcastTo"}' --split-input-file | filecheck %s

// Every op is placed, or stays on CPU with the reason nir explain reports.
builtin.module attributes {tf.signature = "reasons", tf.tags = ["serve"]} {
  func.func @reasons(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}, %u: tensor<?x4xf32> {tf.input_key = "u", tf.node_name = "u"}, %s: tensor<2x!tf.dtype<"string">> {tf.input_key = "s", tf.node_name = "s"}) -> (tensor<1x4xf32> {tf.output_key = "y"}, tensor<?x4xf32> {tf.output_key = "z"}, tensor<2x!tf.dtype<"string">> {tf.output_key = "w"}) {
    %a, %a_c = "tf.Relu"(%x) <{node_name = "on_target"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %b, %b_c = "tf.Softsign"(%a) <{node_name = "no_kernel"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %c, %c_c = "tf.Tanh"(%b) <{node_name = "keep"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %d, %d_c = "tf.Relu"(%u) <{node_name = "dynamic"}> {T = f32} : (tensor<?x4xf32>) -> (tensor<?x4xf32>, !tf.control)
    %e, %e_c = "tf.Identity"(%s) <{node_name = "text"}> {T = !tf.dtype<"string">} : (tensor<2x!tf.dtype<"string">>) -> (tensor<2x!tf.dtype<"string">>, !tf.control)
    %f, %f_c = "tf.Exp"(%c, %d_c) <{node_name = "ordered"}> {T = f32} : (tensor<1x4xf32>, !tf.control) -> (tensor<1x4xf32>, !tf.control)
    func.return %f, %d, %e : tensor<1x4xf32>, tensor<?x4xf32>, tensor<2x!tf.dtype<"string">>
  }
}

// CHECK-LABEL: func.func @reasons
// CHECK: %on_target, %on_target_c = {{.*}}nir.target = "inferentia"
// CHECK: %no_kernel, %no_kernel_c = {{.*}}nir.cpu_reason = "op type Softsign not supported by inferentia"
// CHECK: %keep, %keep_c = {{.*}}nir.cpu_reason = "listed in no_fuse_ops"
// CHECK: %dynamic, %dynamic_c = {{.*}}nir.cpu_reason = "shape not fully static"
// CHECK: %text, %text_c = {{.*}}nir.cpu_reason = "dtype string"
// CHECK: %ordered, %ordered_c = {{.*}}nir.cpu_reason = "control edge"

// -----

// Ops the target lacks are rewritten into exact equivalents it has: AddV2 is Add, Erfc(x) is
// 1 - Erf(x); the new ops are placed like any other.
builtin.module attributes {tf.signature = "rewrites", tf.tags = ["serve"]} {
  func.func @rewrites(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %add, %add_c = "tf.AddV2"(%x, %x) <{node_name = "add"}> {T = f32} : (tensor<1x4xf32>, tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %erfc, %erfc_c = "tf.Erfc"(%add) <{node_name = "erfc"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %erfc : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @rewrites
// CHECK:      %add, %add_c = "tf.Add"(%x, %x) <{nir.target = "inferentia"}>
// CHECK:      %erfc.one, %erfc.one_c = "tf.Const"() <{nir.target = "inferentia"}> {dtype = f32, value = #tf.tensor<tensor<f32>, [1.0]>}
// CHECK:      %erfc.erf, %erfc.erf_c = "tf.Erf"(%add) <{nir.target = "inferentia"}>
// CHECK:      %erfc, %erfc_c = "tf.Sub"(%erfc.one, %erfc.erf) <{nir.target = "inferentia"}>
// CHECK-NOT:  "tf.Erfc"

// -----

// A rewrite that does not apply says why, in the op's reason; an einsum it handles becomes
// Transpose/Reshape/BatchMatMul.
builtin.module attributes {tf.signature = "einsums", tf.tags = ["serve"]} {
  func.func @einsums(%a: tensor<2x3x4xf32> {tf.input_key = "a", tf.node_name = "a"}, %b: tensor<2x4x5xf32> {tf.input_key = "b", tf.node_name = "b"}) -> (tensor<2x3x5xf32> {tf.output_key = "y"}, tensor<2x3x5xf32> {tf.output_key = "z"}) {
    %y, %y_c = "tf.Einsum"(%a, %b) <{node_name = "batched"}> {N = 2 : i64, T = f32, equation = "bij,bjk->bik"} : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> (tensor<2x3x5xf32>, !tf.control)
    %z, %z_c = "tf.Einsum"(%a, %b) <{node_name = "ellipsis"}> {N = 2 : i64, T = f32, equation = "...ij,...jk->...ik"} : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> (tensor<2x3x5xf32>, !tf.control)
    func.return %y, %z : tensor<2x3x5xf32>, tensor<2x3x5xf32>
  }
}

// CHECK-LABEL: func.func @einsums
// CHECK:     %batched.matmul, %batched.matmul_c = "tf.BatchMatMul"{{.*}}nir.target = "inferentia"
// CHECK:     %batched, %batched_c = "tf.Reshape"{{.*}}nir.target = "inferentia"
// CHECK:     %ellipsis, %ellipsis_c = "tf.Einsum"(%a, %b) <{{{.*}}nir.cpu_reason = "op type Einsum not supported by inferentia (einsum with an ellipsis, so it was not rewritten)"}>

// -----

// force-fuse-ops vouches for an op type the table lacks; it cannot put a NeuronOp (a model
// compiled before) into another one, which the target's rules exclude.
builtin.module attributes {tf.signature = "forced", tf.tags = ["serve"]} {
  func.func @forced(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %compiled, %compiled_c = "tf.NeuronOp"(%x) {executable = "", graph_def = "", input_batch_axis = #tf.list<[0 : i64]>, input_dtypes = #tf.list<[f32]>, input_names = #tf.list<["x"]>, input_shapes = #tf.list<[#tf.shape<[1, 4]>]>, model_config = #tf.list<[]>, output_batch_axis = #tf.list<[0 : i64]>, output_dtypes = #tf.list<[f32]>, output_names = #tf.list<["y"]>, output_shapes = #tf.list<[#tf.shape<[1, 4]>]>} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %forced, %forced_c = "tf.Softsign"(%compiled) {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %forced : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @forced
// CHECK:       %compiled, %compiled_c = "tf.NeuronOp"(%x) <{nir.cpu_reason = "NeuronOp is never placed on inferentia (force_fuse_ops cannot override this)"}>
// CHECK:       %forced, %forced_c = "tf.Softsign"(%compiled) <{nir.target = "inferentia"}>

// -----

// BatchMatMulV2 is BatchMatMul when neither side broadcasts its batch dims (grad_x and grad_y,
// which BatchMatMul lacks, go); one that broadcasts stays, and says why.
builtin.module attributes {tf.signature = "batch_matmul_v2", tf.tags = ["serve"]} {
  func.func @batch_matmul_v2(%a: tensor<2x3x4xf32> {tf.input_key = "a", tf.node_name = "a"}, %b: tensor<2x4x5xf32> {tf.input_key = "b", tf.node_name = "b"}, %c: tensor<1x4x5xf32> {tf.input_key = "c", tf.node_name = "c"}) -> (tensor<2x3x5xf32> {tf.output_key = "y"}, tensor<2x3x5xf32> {tf.output_key = "z"}) {
    %y, %y_c = "tf.BatchMatMulV2"(%a, %b) <{node_name = "same_batch"}> {T = f32, adj_x = false, adj_y = false, grad_x = false, grad_y = false} : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> (tensor<2x3x5xf32>, !tf.control)
    %z, %z_c = "tf.BatchMatMulV2"(%a, %c) <{node_name = "broadcast_batch"}> {T = f32, adj_x = false, adj_y = false, grad_x = false, grad_y = false} : (tensor<2x3x4xf32>, tensor<1x4x5xf32>) -> (tensor<2x3x5xf32>, !tf.control)
    func.return %y, %z : tensor<2x3x5xf32>, tensor<2x3x5xf32>
  }
}

// CHECK-LABEL: func.func @batch_matmul_v2
// CHECK:       %same_batch, %same_batch_c = "tf.BatchMatMul"(%a, %b) <{nir.target = "inferentia"}> {T = f32, adj_x = false, adj_y = false} :
// CHECK:       %broadcast_batch, %broadcast_batch_c = "tf.BatchMatMulV2"(%a, %c) <{{{.*}}nir.cpu_reason = "op type BatchMatMulV2 not supported by inferentia (it broadcasts its batch dimensions, so it was not rewritten)"}>

// -----

// A SelectV2 none of whose operands has the result's shape to read it from is Select of all
// three broadcast to it, each by a constant target.
builtin.module attributes {tf.signature = "select_broadcast", tf.tags = ["serve"]} {
  func.func @select_broadcast(%m: tensor<2x1xi1> {tf.input_key = "m", tf.node_name = "m"}, %t: tensor<1x3xf32> {tf.input_key = "t", tf.node_name = "t"}, %e: tensor<f32> {tf.input_key = "e", tf.node_name = "e"}) -> (tensor<2x3xf32> {tf.output_key = "y"}) {
    %y, %y_c = "tf.SelectV2"(%m, %t, %e) <{node_name = "masked"}> {T = f32} : (tensor<2x1xi1>, tensor<1x3xf32>, tensor<f32>) -> (tensor<2x3xf32>, !tf.control)
    func.return %y : tensor<2x3xf32>
  }
}

// CHECK-LABEL: func.func @select_broadcast
// CHECK:       %masked.condition_broadcast.shape, {{.*}} = "tf.Const"() {{.*}}value = #tf.tensor<tensor<2xi32>, [2, 3]>}
// CHECK-NEXT:  %masked.condition_broadcast, {{.*}} = "tf.BroadcastTo"(%m, %masked.condition_broadcast.shape) <{nir.target = "inferentia"}> {{.*}} -> (tensor<2x3xi1>, !tf.control)
// CHECK-NEXT:  %masked.t_broadcast.shape, {{.*}} = "tf.Const"() {{.*}}value = #tf.tensor<tensor<2xi32>, [2, 3]>}
// CHECK-NEXT:  %masked.t_broadcast, {{.*}} = "tf.BroadcastTo"(%t, %masked.t_broadcast.shape) {{.*}} -> (tensor<2x3xf32>, !tf.control)
// CHECK-NEXT:  %masked.e_broadcast.shape, {{.*}} = "tf.Const"() {{.*}}value = #tf.tensor<tensor<2xi32>, [2, 3]>}
// CHECK-NEXT:  %masked.e_broadcast, {{.*}} = "tf.BroadcastTo"(%e, %masked.e_broadcast.shape) {{.*}} -> (tensor<2x3xf32>, !tf.control)
// CHECK-NEXT:  %masked, %masked_c = "tf.Select"(%masked.condition_broadcast, %masked.t_broadcast, %masked.e_broadcast) <{nir.target = "inferentia"}>
// CHECK-NOT:   "tf.SelectV2"
