// RUN: nir opt %s -p tf-canonicalize --split-input-file | filecheck %s

// Identity chains fold away, pure control edges go, small shape arithmetic becomes a Const.
builtin.module attributes {tf.signature = "fold_chains", tf.tags = ["serve"]} {
  func.func @fold_chains(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<2x4xf32> {tf.output_key = "y"}, tensor<8xf32> {tf.output_key = "flat"}) {
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

// CHECK-LABEL: func.func @fold_chains
// CHECK-NOT: "tf.Identity"
// CHECK-NOT: "tf.NoOp"
// CHECK:     %relu, %relu_c = "tf.Relu"(%x)
// CHECK:     %shape, %shape_c = "tf.Const"() {dtype = i32, value = #tf.tensor<tensor<1xi32>, [8]>}
// CHECK-NOT: "tf.Mul"
// CHECK:     "tf.Reshape"

// -----

// An Identity that waits on a stateful op keeps its control edge, and so stays; one that carries
// a more precise shape than its input stays too.
builtin.module attributes {tf.signature = "keep_ordered", tf.tags = ["serve"]} {
  func.func @keep_ordered(%x: tensor<?x4xf32> {tf.input_key = "x", tf.node_name = "x"}, %s: tensor<2xi32> {tf.input_key = "s", tf.node_name = "s"}) -> (tensor<?x4xf32> {tf.output_key = "y"}, tensor<2x4xf32> {tf.output_key = "z"}) {
    %rnd, %rnd_c = "tf.RandomUniform"(%s) <{node_name = "rnd"}> {T = i32, dtype = f32, seed = 0 : i64, seed2 = 0 : i64} : (tensor<2xi32>) -> (tensor<2x4xf32>, !tf.control)
    %a, %a_c = "tf.Identity"(%x, %rnd_c) <{node_name = "after_random"}> {T = f32} : (tensor<?x4xf32>, !tf.control) -> (tensor<?x4xf32>, !tf.control)
    %b, %b_c = "tf.Identity"(%x) <{node_name = "refined"}> {T = f32} : (tensor<?x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    func.return %a, %b : tensor<?x4xf32>, tensor<2x4xf32>
  }
}

// CHECK-LABEL: func.func @keep_ordered
// CHECK:     %[[RND:.*]], %[[RND_C:.*]] = "tf.RandomUniform"
// CHECK:     %after_random, %after_random_c = "tf.Identity"(%x, %[[RND_C]])
// CHECK:     %refined, %refined_c = "tf.Identity"(%x)

// -----

// Readers of an IdentityN read its inputs; the function's results still name the IdentityN
// (it stands for the signature's outputs). Dead ops go.
builtin.module attributes {tf.signature = "identity_n", tf.tags = ["serve"]} {
  func.func @identity_n(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}, tensor<4xf32> {tf.output_key = "z"}) {
    %sig, %sig_c = "tf.Sigmoid"(%x) <{node_name = "sig"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %n:2, %n_c = "tf.IdentityN"(%sig, %x) <{node_name = "swish/IdentityN"}> {T = #tf.list<[f32, f32]>} : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, !tf.control)
    %t, %t_c = "tf.Tanh"(%n#0) <{node_name = "tanh"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %dead, %dead_c = "tf.Exp"(%x) <{node_name = "unused"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %t, %n#1 : tensor<4xf32>, tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @identity_n
// CHECK:     %[[SIG:.*]], %{{.*}} = "tf.Sigmoid"(%x)
// CHECK:     %{{[^,]*}}, %[[N1:[^,]*]], %{{.*}} = "tf.IdentityN"(%[[SIG]], %x)
// CHECK:     "tf.Tanh"(%[[SIG]])
// CHECK-NOT: "tf.Exp"
// CHECK:     func.return %{{.*}}, %[[N1]] :

// -----

// A call's control inputs gate every tensor it reads (function inlining): here a lookup table's
// initialisation gates the table and a weight. The edge into the weight orders nothing (no side
// effect reads it) and goes, so the weight is a constant again; the edge into the table's handle
// stays (the lookup must see the table filled), and with it the initialisation.
builtin.module attributes {tf.signature = "gated_weight", tf.tags = ["serve"]} {
  func.func @gated_weight(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}, %words: tensor<2x!tf.dtype<"string">> {tf.input_key = "words", tf.node_name = "words"}, %keys: tensor<3x!tf.dtype<"string">> {tf.input_key = "keys", tf.node_name = "keys"}) -> (tensor<2x4xf32> {tf.output_key = "y"}, tensor<2xi64> {tf.output_key = "ids"}) {
    %table, %table_c = "tf.HashTableV2"() <{node_name = "table"}> {container = "", key_dtype = !tf.dtype<"string">, shared_name = "t", use_node_name_sharing = false, value_dtype = i64} : () -> (tensor<!tf.dtype<"resource">>, !tf.control)
    %values, %values_c = "tf.Const"() <{node_name = "values"}> {dtype = i64, value = #tf.tensor<tensor<3xi64>, [2, 3, 4]>} : () -> (tensor<3xi64>, !tf.control)
    %init = "tf.LookupTableImportV2"(%table, %keys, %values) <{node_name = "init"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<3x!tf.dtype<"string">>, tensor<3xi64>) -> !tf.control
    %gate = "tf.NoOp"(%init) <{node_name = "gate"}> : (!tf.control) -> !tf.control
    %w, %w_c = "tf.Const"() <{node_name = "w"}> {dtype = f32, value = #tf.tensor<tensor<4x4xf32>, [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]>} : () -> (tensor<4x4xf32>, !tf.control)
    %wi, %wi_c = "tf.Identity"(%w, %gate) <{node_name = "gated_w"}> {T = f32} : (tensor<4x4xf32>, !tf.control) -> (tensor<4x4xf32>, !tf.control)
    %ti, %ti_c = "tf.Identity"(%table, %gate) <{node_name = "gated_table"}> {T = !tf.dtype<"resource">} : (tensor<!tf.dtype<"resource">>, !tf.control) -> (tensor<!tf.dtype<"resource">>, !tf.control)
    %d, %d_c = "tf.Const"() <{node_name = "default"}> {dtype = i64, value = #tf.tensor<tensor<i64>, [-1]>} : () -> (tensor<i64>, !tf.control)
    %ids, %ids_c = "tf.LookupTableFindV2"(%ti, %words, %d) <{node_name = "lookup"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<2x!tf.dtype<"string">>, tensor<i64>) -> (tensor<2xi64>, !tf.control)
    %y, %y_c = "tf.MatMul"(%x, %wi) <{node_name = "matmul"}> {T = f32, transpose_a = false, transpose_b = false} : (tensor<2x4xf32>, tensor<4x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    func.return %y, %ids : tensor<2x4xf32>, tensor<2xi64>
  }
}

// CHECK-LABEL: func.func @gated_weight
// CHECK:     %init = "tf.LookupTableImportV2"
// CHECK:     %gate = "tf.NoOp"(%init)
// CHECK-NOT: "gated_w"
// CHECK:     %gated_table, %gated_table_c = "tf.Identity"(%table, %gate)
// CHECK:     "tf.LookupTableFindV2"(%gated_table,
// CHECK:     "tf.MatMul"(%x, %w)

// -----

// The same gate, read only by the weight: dropping the edge would leave the initialisation
// unread, and a SavedModel's session runs only what its outputs need, so it stays.
builtin.module attributes {tf.signature = "only_reader", tf.tags = ["serve"]} {
  func.func @only_reader(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}, %keys: tensor<3x!tf.dtype<"string">> {tf.input_key = "keys", tf.node_name = "keys"}) -> (tensor<2x4xf32> {tf.output_key = "y"}) {
    %table, %table_c = "tf.HashTableV2"() <{node_name = "table"}> {container = "", key_dtype = !tf.dtype<"string">, shared_name = "t", use_node_name_sharing = false, value_dtype = i64} : () -> (tensor<!tf.dtype<"resource">>, !tf.control)
    %values, %values_c = "tf.Const"() <{node_name = "values"}> {dtype = i64, value = #tf.tensor<tensor<3xi64>, [2, 3, 4]>} : () -> (tensor<3xi64>, !tf.control)
    %init = "tf.LookupTableImportV2"(%table, %keys, %values) <{node_name = "init"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<3x!tf.dtype<"string">>, tensor<3xi64>) -> !tf.control
    %gate = "tf.NoOp"(%init) <{node_name = "gate"}> : (!tf.control) -> !tf.control
    %w, %w_c = "tf.Const"() <{node_name = "w"}> {dtype = f32, value = #tf.tensor<tensor<4x4xf32>, [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]>} : () -> (tensor<4x4xf32>, !tf.control)
    %wi, %wi_c = "tf.Identity"(%w, %gate) <{node_name = "gated_w"}> {T = f32} : (tensor<4x4xf32>, !tf.control) -> (tensor<4x4xf32>, !tf.control)
    %y, %y_c = "tf.MatMul"(%x, %wi) <{node_name = "matmul"}> {T = f32, transpose_a = false, transpose_b = false} : (tensor<2x4xf32>, tensor<4x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    %nothing = "tf.NoOp"() <{node_name = "nothing"}> : () -> !tf.control
    %vi, %vi_c = "tf.Identity"(%w, %nothing) <{node_name = "after_nothing"}> {T = f32} : (tensor<4x4xf32>, !tf.control) -> (tensor<4x4xf32>, !tf.control)
    %z, %z_c = "tf.MatMul"(%y, %vi) <{node_name = "matmul_again"}> {T = f32, transpose_a = false, transpose_b = false} : (tensor<2x4xf32>, tensor<4x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    func.return %z : tensor<2x4xf32>
  }
}

// Only that edge: one from a NoOp that waits on nothing still goes.
// CHECK-LABEL: func.func @only_reader
// CHECK:     %gate = "tf.NoOp"(%init)
// CHECK:     %gated_w, %gated_w_c = "tf.Identity"(%w, %gate)
// CHECK:     "tf.MatMul"(%x, %gated_w)
// CHECK-NOT: "tf.NoOp"
// CHECK:     "tf.MatMul"(%matmul, %w)
