// RUN: nir opt %s -p tf-constant-fold --split-input-file | filecheck %s
// RUN: nir opt %s -p 'tf-shape-inference,tf-constant-fold{dynamic-batch=true}' --split-input-file | filecheck --check-prefix=DYNAMIC %s
// RUN: nir opt %s -p 'tf-shape-inference,tf-prove-batch-axes,tf-constant-fold{dynamic-batch=true}' --split-input-file | filecheck --check-prefix=PROVED %s

// Batch-norm parameter arithmetic and static shape arithmetic become constants; work on the
// input stays; a fold that would turn a scalar into a big tensor does not happen.
builtin.module attributes {tf.signature = "batch_norm", tf.tags = ["serve"]} {
  func.func @batch_norm(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64}) -> (tensor<2x4xf32> {tf.output_key = "y"}, tensor<8xf32> {tf.output_key = "flat"}, tensor<512x512xf32> {tf.output_key = "big"}) {
    %var, %var_c = "tf.Const"() <{node_name = "var"}> {dtype = f32, value = #tf.tensor<tensor<4xf32>, [3.0, 0.0, 8.0, 15.0]>} : () -> (tensor<4xf32>, !tf.control)
    %eps, %eps_c = "tf.Const"() <{node_name = "eps"}> {dtype = f32, value = #tf.tensor<tensor<f32>, [1.0]>} : () -> (tensor<f32>, !tf.control)
    %sum, %sum_c = "tf.AddV2"(%var, %eps) <{node_name = "bn/add"}> {T = f32} : (tensor<4xf32>, tensor<f32>) -> (tensor<4xf32>, !tf.control)
    %rs, %rs_c = "tf.Rsqrt"(%sum) <{node_name = "bn/rsqrt"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %y, %y_c = "tf.Mul"(%x, %rs) <{node_name = "bn/mul"}> {T = f32} : (tensor<2x4xf32>, tensor<4xf32>) -> (tensor<2x4xf32>, !tf.control)
    %shape, %shape_c = "tf.Shape"(%y) <{node_name = "shape"}> {T = f32, out_type = i32} : (tensor<2x4xf32>) -> (tensor<2xi32>, !tf.control)
    %axis, %axis_c = "tf.Const"() <{node_name = "axis"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)
    %size, %size_c = "tf.Prod"(%shape, %axis) <{node_name = "size"}> {T = i32, Tidx = i32, keep_dims = false} : (tensor<2xi32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [1]>} : () -> (tensor<1xi32>, !tf.control)
    %flat_shape, %fs_c = "tf.Reshape"(%size, %one) <{node_name = "flat_shape"}> {T = i32, Tshape = i32} : (tensor<i32>, tensor<1xi32>) -> (tensor<1xi32>, !tf.control)
    %flat, %flat_c = "tf.Reshape"(%y, %flat_shape) <{node_name = "flat"}> {T = f32, Tshape = i32} : (tensor<2x4xf32>, tensor<1xi32>) -> (tensor<8xf32>, !tf.control)
    %dims, %dims_c = "tf.Const"() <{node_name = "dims"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [512, 512]>} : () -> (tensor<2xi32>, !tf.control)
    %big, %big_c = "tf.Fill"(%dims, %eps) <{node_name = "big"}> {T = f32, index_type = i32} : (tensor<2xi32>, tensor<f32>) -> (tensor<512x512xf32>, !tf.control)
    func.return %y, %flat, %big : tensor<2x4xf32>, tensor<8xf32>, tensor<512x512xf32>
  }
}

// CHECK-LABEL: func.func @batch_norm
// CHECK:      %bn.rsqrt, %bn.rsqrt_c = "tf.Const"() {dtype = f32, value = #tf.tensor<tensor<4xf32>, [0.5, 1.0, 0.333333{{[0-9]*}}, 0.25]>}
// CHECK:      %bn.mul, %bn.mul_c = "tf.Mul"(%x, %{{.*}})
// CHECK:      %flat_shape, %flat_shape_c = "tf.Const"() {dtype = i32, value = #tf.tensor<tensor<1xi32>, [8]>}
// CHECK:      %flat, %flat_c = "tf.Reshape"(%{{.*}}, %{{.*}})
// CHECK:      %big, %big_c = "tf.Fill"({{.*}})
// CHECK-NOT:  "tf.AddV2"
// CHECK-NOT:  "tf.Shape"
// CHECK-NOT:  "tf.Prod"

// With dynamic batch, the shape of a tensor that carries the batch is not a constant, but a
// Reshape target whose one batch-dependent entry TensorFlow can infer is: -1 there.
// DYNAMIC-LABEL: func.func @batch_norm
// DYNAMIC:     %bn.rsqrt, %bn.rsqrt_c = "tf.Const"()
// DYNAMIC:     %flat_shape, %flat_shape_c = "tf.Const"() {dtype = i32, value = #tf.tensor<tensor<1xi32>, [-1]>}
// DYNAMIC:     %flat, %flat_c = "tf.Reshape"(%bn.mul, %flat_shape)
// DYNAMIC-NOT: "tf.Shape"
// DYNAMIC-NOT: "tf.Prod"
// DYNAMIC:     func.return

// -----

// A weight transposed for its reader is folded into a transposed constant (as many bytes as it
// consumed); a stateful op on constants is never folded.
builtin.module attributes {tf.signature = "weights", tf.tags = ["serve"]} {
  func.func @weights(%x: tensor<1x2xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x3xf32> {tf.output_key = "y"}, tensor<2xf32> {tf.output_key = "r"}) {
    %w, %w_c = "tf.Const"() <{node_name = "w"}> {dtype = f32, value = #tf.tensor<tensor<3x2xf32>, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]>} : () -> (tensor<3x2xf32>, !tf.control)
    %perm, %perm_c = "tf.Const"() <{node_name = "perm"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [1, 0]>} : () -> (tensor<2xi32>, !tf.control)
    %wt, %wt_c = "tf.Transpose"(%w, %perm) <{node_name = "w_t"}> {T = f32, Tperm = i32} : (tensor<3x2xf32>, tensor<2xi32>) -> (tensor<2x3xf32>, !tf.control)
    %y, %y_c = "tf.MatMul"(%x, %wt) <{node_name = "dense"}> {T = f32, transpose_a = false, transpose_b = false} : (tensor<1x2xf32>, tensor<2x3xf32>) -> (tensor<1x3xf32>, !tf.control)
    %shape, %shape_c = "tf.Const"() <{node_name = "shape"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [2]>} : () -> (tensor<1xi32>, !tf.control)
    %r, %r_c = "tf.RandomUniform"(%shape) <{node_name = "noise"}> {T = i32, dtype = f32, seed = 0 : i64, seed2 = 0 : i64} : (tensor<1xi32>) -> (tensor<2xf32>, !tf.control)
    func.return %y, %r : tensor<1x3xf32>, tensor<2xf32>
  }
}

// CHECK-LABEL: func.func @weights
// CHECK:       %w_t, %w_t_c = "tf.Const"() {dtype = f32, value = #tf.tensor<tensor<2x3xf32>, [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]>}
// CHECK:       %dense, %dense_c = "tf.MatMul"(%x, %{{.*}})
// CHECK:       %noise, %noise_c = "tf.RandomUniform"(%shape)
// CHECK-NOT:   "tf.Transpose"

// -----

// Ops on the model's inputs stay; so does a Shape whose input shape is not known.
builtin.module attributes {tf.signature = "inputs", tf.tags = ["serve"]} {
  func.func @inputs(%x: tensor<?x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<?x4xf32> {tf.output_key = "y"}, tensor<2xi32> {tf.output_key = "s"}) {
    %e, %e_c = "tf.Exp"(%x) <{node_name = "exp"}> {T = f32} : (tensor<?x4xf32>) -> (tensor<?x4xf32>, !tf.control)
    %s, %s_c = "tf.Shape"(%x) <{node_name = "shape"}> {T = f32, out_type = i32} : (tensor<?x4xf32>) -> (tensor<2xi32>, !tf.control)
    func.return %e, %s : tensor<?x4xf32>, tensor<2xi32>
  }
}

// CHECK-LABEL: func.func @inputs
// CHECK:       %exp, %exp_c = "tf.Exp"(%x)
// CHECK:       %shape, %shape_c = "tf.Shape"(%x)

// -----

// An op whose data inputs are constant but which waits for a computed op (a control edge)
// is not folded: the Const it would become could run before what it waits for.
builtin.module attributes {tf.signature = "waits", tf.tags = ["serve"]} {
  func.func @waits(%x: tensor<2xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<2xf32> {tf.output_key = "y"}, tensor<2xf32> {tf.output_key = "z"}) {
    %c, %c_c = "tf.Const"() <{node_name = "c"}> {dtype = f32, value = #tf.tensor<tensor<2xf32>, [1.0, 2.0]>} : () -> (tensor<2xf32>, !tf.control)
    %r, %r_c = "tf.Relu"(%x) <{node_name = "r"}> {T = f32} : (tensor<2xf32>) -> (tensor<2xf32>, !tf.control)
    %n, %n_c = "tf.Neg"(%c, %r_c) <{node_name = "n"}> {T = f32} : (tensor<2xf32>, !tf.control) -> (tensor<2xf32>, !tf.control)
    %m, %m_c = "tf.Neg"(%c) <{node_name = "m"}> {T = f32} : (tensor<2xf32>) -> (tensor<2xf32>, !tf.control)
    func.return %n, %m : tensor<2xf32>, tensor<2xf32>
  }
}

// CHECK-LABEL: func.func @waits
// CHECK:       %n, %n_c = "tf.Neg"(%c, %r_c) {T = f32}
// CHECK:       %m, %m_c = "tf.Const"() {dtype = f32, value = #tf.tensor<tensor<2xf32>, [-1.0, -2.0]>}

// -----

// What waited on a folded op waits on its Const: the control edge moves, the op goes.
builtin.module attributes {tf.signature = "waited_on", tf.tags = ["serve"]} {
  func.func @waited_on(%x: tensor<2xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<2xf32> {tf.output_key = "y"}, tensor<2xf32> {tf.output_key = "z"}) {
    %c, %c_c = "tf.Const"() <{node_name = "c"}> {dtype = f32, value = #tf.tensor<tensor<2xf32>, [1.0, 2.0]>} : () -> (tensor<2xf32>, !tf.control)
    %m, %m_c = "tf.Neg"(%c) <{node_name = "m"}> {T = f32} : (tensor<2xf32>) -> (tensor<2xf32>, !tf.control)
    %w, %w_c = "tf.Relu"(%x, %m_c) <{node_name = "w"}> {T = f32} : (tensor<2xf32>, !tf.control) -> (tensor<2xf32>, !tf.control)
    func.return %w, %m : tensor<2xf32>, tensor<2xf32>
  }
}

// CHECK-LABEL: func.func @waited_on
// CHECK-NOT:   "tf.Neg"
// CHECK:       %m, %m_c = "tf.Const"() {dtype = f32, value = #tf.tensor<tensor<2xf32>, [-1.0, -2.0]>}
// CHECK-NOT:   "tf.Neg"
// CHECK:       %w, %w_c = "tf.Relu"(%x, %m_c)
// CHECK-NOT:   "tf.Neg"
// CHECK:       func.return %w, %m

// -----

// Dynamic batch: what is picked out of a batch-carrying shape without the batch (the sequence
// length) folds; a target that holds the batch and a -1 (Flatten) gets the -1 resolved and the
// batch inferred; a shape that still holds the batch elsewhere (BroadcastTo's) stays computed.
builtin.module attributes {tf.signature = "sequence", tf.tags = ["serve"]} {
  func.func @sequence(%x: tensor<2x16x8xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64}) -> (tensor<16xi32> {tf.output_key = "positions"}, tensor<2x128xf32> {tf.output_key = "flat"}, tensor<2x16x8xf32> {tf.output_key = "ones"}) {
    %shape, %shape_c = "tf.Shape"(%x) <{node_name = "shape"}> {T = f32, out_type = i32} : (tensor<2x16x8xf32>) -> (tensor<3xi32>, !tf.control)
    %b1, %b1_c = "tf.Const"() <{node_name = "b1"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [1]>} : () -> (tensor<1xi32>, !tf.control)
    %e2, %e2_c = "tf.Const"() <{node_name = "e2"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [2]>} : () -> (tensor<1xi32>, !tf.control)
    %s1, %s1_c = "tf.Const"() <{node_name = "s1"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [1]>} : () -> (tensor<1xi32>, !tf.control)
    %length, %length_c = "tf.StridedSlice"(%shape, %b1, %e2, %s1) <{node_name = "length"}> {T = i32, Index = i32, begin_mask = 0 : i64, end_mask = 0 : i64, ellipsis_mask = 0 : i64, new_axis_mask = 0 : i64, shrink_axis_mask = 1 : i64} : (tensor<3xi32>, tensor<1xi32>, tensor<1xi32>, tensor<1xi32>) -> (tensor<i32>, !tf.control)
    %zero, %zero_c = "tf.Const"() <{node_name = "zero"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %positions, %positions_c = "tf.Range"(%zero, %length, %one) <{node_name = "positions"}> {Tidx = i32} : (tensor<i32>, tensor<i32>, tensor<i32>) -> (tensor<16xi32>, !tf.control)
    %b0, %b0_c = "tf.Const"() <{node_name = "b0"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [0]>} : () -> (tensor<1xi32>, !tf.control)
    %batch, %batch_c = "tf.StridedSlice"(%shape, %b0, %b1, %s1) <{node_name = "batch"}> {T = i32, Index = i32, begin_mask = 0 : i64, end_mask = 0 : i64, ellipsis_mask = 0 : i64, new_axis_mask = 0 : i64, shrink_axis_mask = 1 : i64} : (tensor<3xi32>, tensor<1xi32>, tensor<1xi32>, tensor<1xi32>) -> (tensor<i32>, !tf.control)
    %minus, %minus_c = "tf.Const"() <{node_name = "minus"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [-1]>} : () -> (tensor<i32>, !tf.control)
    %target, %target_c = "tf.Pack"(%batch, %minus) <{node_name = "target"}> {T = i32, N = 2 : i64, axis = 0 : i64} : (tensor<i32>, tensor<i32>) -> (tensor<2xi32>, !tf.control)
    %flat, %flat_c = "tf.Reshape"(%x, %target) <{node_name = "flat"}> {T = f32, Tshape = i32} : (tensor<2x16x8xf32>, tensor<2xi32>) -> (tensor<2x128xf32>, !tf.control)
    %fill, %fill_c = "tf.Const"() <{node_name = "fill"}> {dtype = f32, value = #tf.tensor<tensor<f32>, [1.0]>} : () -> (tensor<f32>, !tf.control)
    %ones, %ones_c = "tf.BroadcastTo"(%fill, %shape) <{node_name = "ones"}> {T = f32, Tidx = i32} : (tensor<f32>, tensor<3xi32>) -> (tensor<2x16x8xf32>, !tf.control)
    func.return %positions, %flat, %ones : tensor<16xi32>, tensor<2x128xf32>, tensor<2x16x8xf32>
  }
}

// DYNAMIC-LABEL: func.func @sequence
// DYNAMIC:     %shape, %shape_c = "tf.Shape"(%x)
// DYNAMIC:     %positions, %positions_c = "tf.Const"() {dtype = i32, value = #tf.tensor<tensor<16xi32>, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]>}
// DYNAMIC:     %target, %target_c = "tf.Const"() {dtype = i32, value = #tf.tensor<tensor<2xi32>, [-1, 128]>}
// DYNAMIC:     %flat, %flat_c = "tf.Reshape"(%x, %target)
// DYNAMIC:     %ones, %ones_c = "tf.BroadcastTo"(%fill, %shape)
// DYNAMIC-NOT: "tf.StridedSlice"
// DYNAMIC:     func.return

// -----

// With the batch axes proved, the shape of a flattened batch ([2, 4] -> [8]) is known to follow
// the batch, though not on dimension 0: under dynamic batch its Shape stays computed, where
// shape inference's tracking alone (which sees no batch on dimension 0) lets it fold to [8].
builtin.module attributes {tf.signature = "flat_shape", tf.tags = ["serve"]} {
  func.func @flat_shape(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64}) -> (tensor<1xi32> {tf.output_key = "size"}) {
    %minus_one, %minus_one_c = "tf.Const"() <{node_name = "minus_one"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [-1]>} : () -> (tensor<1xi32>, !tf.control)
    %flat, %flat_c = "tf.Reshape"(%x, %minus_one) <{node_name = "flat"}> {T = f32, Tshape = i32} : (tensor<2x4xf32>, tensor<1xi32>) -> (tensor<8xf32>, !tf.control)
    %size, %size_c = "tf.Shape"(%flat) <{node_name = "size"}> {T = f32, out_type = i32} : (tensor<8xf32>) -> (tensor<1xi32>, !tf.control)
    func.return %size : tensor<1xi32>
  }
}

// CHECK-LABEL: func.func @flat_shape
// CHECK:       %size, %size_c = "tf.Const"() {dtype = i32, value = #tf.tensor<tensor<1xi32>, [8]>}
// DYNAMIC-LABEL: func.func @flat_shape
// DYNAMIC:     %size, %size_c = "tf.Const"() {dtype = i32, value = #tf.tensor<tensor<1xi32>, [8]>}
// PROVED-LABEL: func.func @flat_shape
// PROVED:      %size, %size_c = "tf.Shape"(%flat)

// -----

// Shape arithmetic TensorFlow refuses to evaluate (here a division by zero at the compiled
// batch) folds nothing (a warning gives TensorFlow's reason); the graph stays as it was, and shape
// inference knows no value for the division.
builtin.module attributes {tf.signature = "refused_arithmetic", tf.tags = ["serve"]} {
  func.func @refused_arithmetic(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64}) -> (tensor<i32> {tf.output_key = "q"}) {
    %shape, %shape_c = "tf.Shape"(%x) <{node_name = "shape"}> {T = f32, out_type = i32} : (tensor<2x4xf32>) -> (tensor<2xi32>, !tf.control)
    %begin, %begin_c = "tf.Const"() <{node_name = "begin"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [0]>} : () -> (tensor<1xi32>, !tf.control)
    %end, %end_c = "tf.Const"() <{node_name = "end"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [1]>} : () -> (tensor<1xi32>, !tf.control)
    %b, %b_c = "tf.StridedSlice"(%shape, %begin, %end, %end) <{node_name = "batch"}> {T = i32, Index = i32, begin_mask = 0 : i64, end_mask = 0 : i64, ellipsis_mask = 0 : i64, new_axis_mask = 0 : i64, shrink_axis_mask = 1 : i64} : (tensor<2xi32>, tensor<1xi32>, tensor<1xi32>, tensor<1xi32>) -> (tensor<i32>, !tf.control)
    %two, %two_c = "tf.Const"() <{node_name = "two"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [2]>} : () -> (tensor<i32>, !tf.control)
    %d, %d_c = "tf.Sub"(%b, %two) <{node_name = "d"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    %eight, %eight_c = "tf.Const"() <{node_name = "eight"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [8]>} : () -> (tensor<i32>, !tf.control)
    %q, %q_c = "tf.FloorDiv"(%eight, %d) <{node_name = "q"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    func.return %q : tensor<i32>
  }
}

// CHECK-LABEL: func.func @refused_arithmetic
// CHECK:       %d, %d_c = "tf.Sub"(%batch, %two)
// CHECK:       %q, %q_c = "tf.FloorDiv"(%eight, %d)
// DYNAMIC-LABEL: func.func @refused_arithmetic
// DYNAMIC:     %batch, %batch_c = "tf.StridedSlice"(%shape,
// DYNAMIC:     %q, %q_c = "tf.FloorDiv"(%eight, %d)
// PROVED-LABEL: func.func @refused_arithmetic
// PROVED:      %q, %q_c = "tf.FloorDiv"(%eight, %d)
