// RUN: nir opt %s -p 'tf-shape-inference,tf-prove-batch-axes' --split-input-file | filecheck %s

// A tensor that keeps the batch on dimension 0 is batch axis 0, proved by inferring again at a
// second batch size (2 -> 7).
builtin.module attributes {tf.signature = "batched", tf.tags = ["serve"]} {
  func.func @batched(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64}) -> (tensor<2x4xf32> {tf.output_key = "y"}) {
    %a, %a_c = "tf.Relu"(%x) <{node_name = "a"}> {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%a) <{node_name = "b"}> {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    func.return %b : tensor<2x4xf32>
  }
}

// CHECK-LABEL: func.func @batched
// CHECK:       "tf.Relu"(%x)
// CHECK-SAME:  nir.proven_batch_axes = [0 : i64]}>
// CHECK:       "tf.Tanh"(%a)
// CHECK-SAME:  nir.proven_batch_axes = [0 : i64]}>

// -----

// A tensor computed from fixed inputs only is -1 (fixed).
builtin.module attributes {tf.signature = "fixed_input", tf.tags = ["serve"]} {
  func.func @fixed_input(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64}, %bias: tensor<4xf32> {tf.input_key = "bias", tf.node_name = "bias", nir.batch_axis = -1 : i64}) -> (tensor<2x4xf32> {tf.output_key = "y"}) {
    %n, %n_c = "tf.Neg"(%bias) <{node_name = "n"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %a, %a_c = "tf.BiasAdd"(%x, %n) <{node_name = "a"}> {T = f32, data_format = "NHWC"} : (tensor<2x4xf32>, tensor<4xf32>) -> (tensor<2x4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%a) <{node_name = "b"}> {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    func.return %b : tensor<2x4xf32>
  }
}

// CHECK-LABEL: func.func @fixed_input
// CHECK:       "tf.Neg"(%bias)
// CHECK-SAME:  nir.proven_batch_axes = [-1 : i64]}>
// CHECK:       "tf.BiasAdd"(%x, %n)
// CHECK-SAME:  nir.proven_batch_axes = [0 : i64]}>

// -----

// A transpose that moves the batch to dimension 1 cannot be cut along dimension 0 (-2), where a
// guess from its one shape ([4, 2], not [2, ...]) would call it fixed.
builtin.module attributes {tf.signature = "transposed", tf.tags = ["serve"]} {
  func.func @transposed(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64}) -> (tensor<4x2xf32> {tf.output_key = "y"}) {
    %perm, %perm_c = "tf.Const"() <{node_name = "perm"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [1, 0]>} : () -> (tensor<2xi32>, !tf.control)
    %a, %a_c = "tf.Relu"(%x) <{node_name = "a"}> {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    %t, %t_c = "tf.Transpose"(%a, %perm) <{node_name = "t"}> {T = f32, Tperm = i32} : (tensor<2x4xf32>, tensor<2xi32>) -> (tensor<4x2xf32>, !tf.control)
    func.return %t : tensor<4x2xf32>
  }
}

// CHECK-LABEL: func.func @transposed
// CHECK:       "tf.Const"()
// CHECK-SAME:  nir.proven_batch_axes = [-1 : i64]}>
// CHECK:       "tf.Relu"(%x)
// CHECK-SAME:  nir.proven_batch_axes = [0 : i64]}>
// CHECK:       "tf.Transpose"(%a, %perm)
// CHECK-SAME:  nir.proven_batch_axes = [-2 : i64]}>

// -----

// A flattened batch ([2, 4] -> [8]) moves with the batch but is not [batch, ...]: cut along
// dimension 0 it would give the runtime pieces of the wrong size (-2).
builtin.module attributes {tf.signature = "flattened", tf.tags = ["serve"]} {
  func.func @flattened(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64}) -> (tensor<8xf32> {tf.output_key = "y"}) {
    %flat, %flat_c = "tf.Const"() <{node_name = "flat"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [-1]>} : () -> (tensor<1xi32>, !tf.control)
    %a, %a_c = "tf.Relu"(%x) <{node_name = "a"}> {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    %r, %r_c = "tf.Reshape"(%a, %flat) <{node_name = "r"}> {T = f32, Tshape = i32} : (tensor<2x4xf32>, tensor<1xi32>) -> (tensor<8xf32>, !tf.control)
    func.return %r : tensor<8xf32>
  }
}

// CHECK-LABEL: func.func @flattened
// CHECK:       "tf.Reshape"(%a, %flat)
// CHECK-SAME:  nir.proven_batch_axes = [-2 : i64]}>

// -----

// A product whose dimension 0 equals the batch by chance (x^T x is [4, 4] at batch 4) does not
// move with it: -1, where a guess from its one shape would say 0.
builtin.module attributes {tf.signature = "coincidence", tf.tags = ["serve"]} {
  func.func @coincidence(%x: tensor<4x4xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64}) -> (tensor<4x4xf32> {tf.output_key = "gram"}, tensor<4x4xf32> {tf.output_key = "y"}) {
    %g, %g_c = "tf.MatMul"(%x, %x) <{node_name = "g"}> {T = f32, transpose_a = true, transpose_b = false} : (tensor<4x4xf32>, tensor<4x4xf32>) -> (tensor<4x4xf32>, !tf.control)
    %s, %s_c = "tf.Sigmoid"(%g) <{node_name = "s"}> {T = f32} : (tensor<4x4xf32>) -> (tensor<4x4xf32>, !tf.control)
    %y, %y_c = "tf.Tanh"(%x) <{node_name = "y"}> {T = f32} : (tensor<4x4xf32>) -> (tensor<4x4xf32>, !tf.control)
    func.return %s, %y : tensor<4x4xf32>, tensor<4x4xf32>
  }
}

// CHECK-LABEL: func.func @coincidence
// CHECK:       "tf.MatMul"(%x, %x)
// CHECK-SAME:  nir.proven_batch_axes = [-1 : i64]}>
// CHECK:       "tf.Sigmoid"(%g)
// CHECK-SAME:  nir.proven_batch_axes = [-1 : i64]}>
// CHECK:       "tf.Tanh"(%x)
// CHECK-SAME:  nir.proven_batch_axes = [0 : i64]}>

// -----

// A Reshape the model fixes to its first batch ([2, 4] -> a constant [8]) does not infer at the
// second: its result is taken as shape inference tracked it (fixed, here) and the inference goes
// on from there. The NeuronOp that would give it from a cut input is then not cut (see
// backends/neuron/neuron_op.py's why_not_cut).
builtin.module attributes {tf.signature = "fixed_reshape", tf.tags = ["serve"]} {
  func.func @fixed_reshape(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64}) -> (tensor<8xf32> {tf.output_key = "y"}) {
    %eight, %eight_c = "tf.Const"() <{node_name = "eight"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [8]>} : () -> (tensor<1xi32>, !tf.control)
    %a, %a_c = "tf.Relu"(%x) <{node_name = "a"}> {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    %r, %r_c = "tf.Reshape"(%a, %eight) <{node_name = "r"}> {T = f32, Tshape = i32} : (tensor<2x4xf32>, tensor<1xi32>) -> (tensor<8xf32>, !tf.control)
    func.return %r : tensor<8xf32>
  }
}

// CHECK-LABEL: func.func @fixed_reshape
// CHECK:       "tf.Relu"(%x)
// CHECK-SAME:  nir.proven_batch_axes = [0 : i64]}>
// CHECK:       "tf.Reshape"(%a, %eight)
// CHECK-SAME:  nir.proven_batch_axes = [-1 : i64]}>

// -----

// Tracing writes a Flatten's target for its example's batch (a constant [2, 32]): at the second
// batch the Reshape does not infer, and takes what shape inference tracked, the batch on
// dimension 0; the runtime only ever runs it on pieces of 2, so what follows may be cut.
builtin.module attributes {tf.signature = "traced_flatten", tf.tags = ["serve"]} {
  func.func @traced_flatten(%x: tensor<2x8x4xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64}) -> (tensor<2x32xf32> {tf.output_key = "y"}) {
    %target, %target_c = "tf.Const"() <{node_name = "target"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [2, 32]>} : () -> (tensor<2xi32>, !tf.control)
    %r, %r_c = "tf.Reshape"(%x, %target) <{node_name = "r"}> {T = f32, Tshape = i32} : (tensor<2x8x4xf32>, tensor<2xi32>) -> (tensor<2x32xf32>, !tf.control)
    %y, %y_c = "tf.Tanh"(%r) <{node_name = "y"}> {T = f32} : (tensor<2x32xf32>) -> (tensor<2x32xf32>, !tf.control)
    func.return %y : tensor<2x32xf32>
  }
}

// CHECK-LABEL: func.func @traced_flatten
// CHECK:       "tf.Reshape"(%x, %target)
// CHECK-SAME:  nir.proven_batch_axes = [0 : i64]}>
// CHECK:       "tf.Tanh"(%r)
// CHECK-SAME:  nir.proven_batch_axes = [0 : i64]}>
