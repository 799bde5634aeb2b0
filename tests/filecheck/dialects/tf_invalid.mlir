// RUN: nir opt %s --split-input-file --verify-diagnostics | filecheck %s

// Graphs TensorFlow's importer refuses (tests/test_verifier_oracle.py asks it about thousands
// more); nir's verifier refuses each, naming the node and the rule.

// BiasAdd: the bias has 5 values, the value 4 channels.
builtin.module attributes {tf.signature = "bias_length", tf.tags = ["serve"]} {
  func.func @bias_length(%x: tensor<1x4x4x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4x4x4xf32> {tf.output_key = "y"}) {
    %b, %b_c = "tf.Const"() <{node_name = "b"}> {dtype = f32, value = #tf.tensor<tensor<5xf32>, splat 1.0>} : () -> (tensor<5xf32>, !tf.control)
    // expected-error {{[shape] node 'bias': BiasAdd 'bias': bias length and the value's channel dimension (4 vs 5)}}
    %bias, %bias_c = "tf.BiasAdd"(%x, %b) {T = f32} : (tensor<1x4x4x4xf32>, tensor<5xf32>) -> (tensor<1x4x4x4xf32>, !tf.control)
    func.return %bias : tensor<1x4x4x4xf32>
  }
}

// -----

// Reshape to a shape of another element count.
builtin.module attributes {tf.signature = "reshape_count", tf.tags = ["serve"]} {
  func.func @reshape_count(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<3x3xf32> {tf.output_key = "y"}) {
    %s, %s_c = "tf.Const"() <{node_name = "s"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [3, 3]>} : () -> (tensor<2xi32>, !tf.control)
    // expected-error {{[shape] node 'r': Reshape 'r': cannot reshape a tensor of 8 elements ([2,4]) to [3, 3] (9 elements)}}
    %r, %r_c = "tf.Reshape"(%x, %s) {T = f32, Tshape = i32} : (tensor<2x4xf32>, tensor<2xi32>) -> (tensor<3x3xf32>, !tf.control)
    func.return %r : tensor<3x3xf32>
  }
}

// -----

// AddV2 of shapes that do not broadcast.
builtin.module attributes {tf.signature = "no_broadcast", tf.tags = ["serve"]} {
  func.func @no_broadcast(%x: tensor<2x3xf32> {tf.input_key = "x", tf.node_name = "x"}, %z: tensor<4x3xf32> {tf.input_key = "z", tf.node_name = "z"}) -> (tensor<2x3xf32> {tf.output_key = "y"}) {
    // expected-error {{[shape] node 'sum': AddV2 'sum': shapes [2,3], [4,3] do not broadcast}}
    %sum, %sum_c = "tf.AddV2"(%x, %z) {T = f32} : (tensor<2x3xf32>, tensor<4x3xf32>) -> (tensor<2x3xf32>, !tf.control)
    func.return %sum : tensor<2x3xf32>
  }
}

// -----

// ConcatV2 along axis 1 of inputs whose first dimensions differ.
builtin.module attributes {tf.signature = "concat_dims", tf.tags = ["serve"]} {
  func.func @concat_dims(%x: tensor<2x3xf32> {tf.input_key = "x", tf.node_name = "x"}, %z: tensor<4x3xf32> {tf.input_key = "z", tf.node_name = "z"}) -> (tensor<2x6xf32> {tf.output_key = "y"}) {
    %axis, %axis_c = "tf.Const"() <{node_name = "axis"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    // expected-error {{[shape] node 'cat': ConcatV2 'cat': dimension 0 of the inputs (2 vs 4)}}
    %cat, %cat_c = "tf.ConcatV2"(%x, %z, %axis) {N = 2 : i64, T = f32, Tidx = i32} : (tensor<2x3xf32>, tensor<4x3xf32>, tensor<i32>) -> (tensor<2x6xf32>, !tf.control)
    func.return %cat : tensor<2x6xf32>
  }
}

// -----

// MaxPool of a rank-3 tensor.
builtin.module attributes {tf.signature = "pool_rank", tf.tags = ["serve"]} {
  func.func @pool_rank(%x: tensor<4x4x3xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<2x2x3xf32> {tf.output_key = "y"}) {
    // expected-error {{[shape] node 'pool': MaxPool 'pool': input must be rank 4 but is rank 3 ([4,4,3])}}
    %pool, %pool_c = "tf.MaxPool"(%x) {T = f32, ksize = #tf.list<[1 : i64, 2 : i64, 2 : i64, 1 : i64]>, strides = #tf.list<[1 : i64, 2 : i64, 2 : i64, 1 : i64]>, padding = "VALID"} : (tensor<4x4x3xf32>) -> (tensor<2x2x3xf32>, !tf.control)
    func.return %pool : tensor<2x2x3xf32>
  }
}

// -----

// A Const whose dtype attribute is not the type of its value.
builtin.module attributes {tf.signature = "const_type", tf.tags = ["serve"]} {
  func.func @const_type() -> (tensor<2xf32> {tf.output_key = "y"}) {
    // expected-error {{[dtype] node 'c': output 0 of Const is f32, its OpDef says i32}}
    %c, %c_c = "tf.Const"() {dtype = i32, value = #tf.tensor<tensor<2xf32>, splat 1.0>} : () -> (tensor<2xf32>, !tf.control)
    func.return %c : tensor<2xf32>
  }
}

// -----

// MatMul whose inner dimensions differ.
builtin.module attributes {tf.signature = "matmul_inner", tf.tags = ["serve"]} {
  func.func @matmul_inner(%x: tensor<2x3xf32> {tf.input_key = "x", tf.node_name = "x"}, %w: tensor<4x5xf32> {tf.input_key = "w", tf.node_name = "w"}) -> (tensor<2x5xf32> {tf.output_key = "y"}) {
    // expected-error {{[shape] node 'mm': MatMul 'mm': inner dimensions of the two operands differ (3 vs 4)}}
    %mm, %mm_c = "tf.MatMul"(%x, %w) {T = f32, transpose_a = false, transpose_b = false} : (tensor<2x3xf32>, tensor<4x5xf32>) -> (tensor<2x5xf32>, !tf.control)
    func.return %mm : tensor<2x5xf32>
  }
}

// -----

// Conv2D of a rank-3 input.
builtin.module attributes {tf.signature = "conv_rank", tf.tags = ["serve"]} {
  func.func @conv_rank(%x: tensor<8x8x3xf32> {tf.input_key = "x", tf.node_name = "x"}, %w: tensor<3x3x3x4xf32> {tf.input_key = "w", tf.node_name = "w"}) -> (tensor<8x8x4xf32> {tf.output_key = "y"}) {
    // expected-error {{[shape] node 'conv': Conv2D 'conv': input must be rank 4 but is rank 3 ([8,8,3])}}
    %conv, %conv_c = "tf.Conv2D"(%x, %w) {T = f32, padding = "SAME", strides = #tf.list<[1 : i64, 1 : i64, 1 : i64, 1 : i64]>} : (tensor<8x8x3xf32>, tensor<3x3x3x4xf32>) -> (tensor<8x8x4xf32>, !tf.control)
    func.return %conv : tensor<8x8x4xf32>
  }
}

// -----

// Transpose with a perm shorter than the input's rank.
builtin.module attributes {tf.signature = "perm_length", tf.tags = ["serve"]} {
  func.func @perm_length(%x: tensor<2x3x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<3x2xf32> {tf.output_key = "y"}) {
    %perm, %perm_c = "tf.Const"() <{node_name = "perm"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [1, 0]>} : () -> (tensor<2xi32>, !tf.control)
    // expected-error {{[shape] node 't': Transpose 't': perm length and input rank (2 vs 3)}}
    %t, %t_c = "tf.Transpose"(%x, %perm) {T = f32, Tperm = i32} : (tensor<2x3x4xf32>, tensor<2xi32>) -> (tensor<3x2xf32>, !tf.control)
    func.return %t : tensor<3x2xf32>
  }
}

// -----

// EnsureShape contradicting what its input is known to be.
builtin.module attributes {tf.signature = "ensure_shape", tf.tags = ["serve"]} {
  func.func @ensure_shape(%x: tensor<2x3xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<2x3xf32> {tf.output_key = "y"}) {
    // expected-error {{[shape] node 'e': EnsureShape 'e': the input and the shape it is ensured to have must have equal shapes ([2,3] vs [2,4])}}
    %e, %e_c = "tf.EnsureShape"(%x) {T = f32, shape = #tf.shape<[2, 4]>} : (tensor<2x3xf32>) -> (tensor<2x3xf32>, !tf.control)
    func.return %e : tensor<2x3xf32>
  }
}

// -----

// Squeeze of a dimension that is not 1.
builtin.module attributes {tf.signature = "squeeze", tf.tags = ["serve"]} {
  func.func @squeeze(%x: tensor<2x3xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<3xf32> {tf.output_key = "y"}) {
    // expected-error {{[shape] node 'sq': Squeeze 'sq': cannot squeeze dim[0], expected a dimension of 1, got 2}}
    %sq, %sq_c = "tf.Squeeze"(%x) {T = f32, squeeze_dims = #tf.list<[0 : i64]>} : (tensor<2x3xf32>) -> (tensor<3xf32>, !tf.control)
    func.return %sq : tensor<3xf32>
  }
}

// -----

// A padding TensorFlow does not know (attribute values come from the OpDef).
builtin.module attributes {tf.signature = "padding_value", tf.tags = ["serve"]} {
  func.func @padding_value(%x: tensor<1x4x4x3xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x2x2x3xf32> {tf.output_key = "y"}) {
    // expected-error {{[attr-value] node 'pool': AvgPool attribute 'padding' is valid, not one of SAME, VALID}}
    %pool, %pool_c = "tf.AvgPool"(%x) {T = f32, ksize = #tf.list<[1 : i64, 2 : i64, 2 : i64, 1 : i64]>, strides = #tf.list<[1 : i64, 2 : i64, 2 : i64, 1 : i64]>, padding = "valid"} : (tensor<1x4x4x3xf32>) -> (tensor<1x2x2x3xf32>, !tf.control)
    func.return %pool : tensor<1x2x2x3xf32>
  }
}

// -----

// What the pieces above get wrong, done right.
builtin.module attributes {tf.signature = "valid", tf.tags = ["serve"]} {
  func.func @valid(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4x2xf32> {tf.output_key = "y"}) {
    %s, %s_c = "tf.Const"() <{node_name = "s"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [-1, 2]>} : () -> (tensor<2xi32>, !tf.control)
    %r, %r_c = "tf.Reshape"(%x, %s) {T = f32, Tshape = i32} : (tensor<2x4xf32>, tensor<2xi32>) -> (tensor<4x2xf32>, !tf.control)
    func.return %r : tensor<4x2xf32>
  }
}

// CHECK-LABEL: func.func @valid
// CHECK:       "tf.Reshape"(%x, %s) {T = f32, Tshape = i32} : (tensor<2x4xf32>, tensor<2xi32>) -> (tensor<4x2xf32>, !tf.control)
