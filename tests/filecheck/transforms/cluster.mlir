// RUN: nir opt %s -p 'tf-cluster{minimum-segment-size=2}' --split-input-file | filecheck %s

// Ops legalize placed on the target, connected, become one cluster; its inputs are the block's
// arguments and its outputs what neuron.yield names.
builtin.module attributes {tf.signature = "one_cluster", tf.tags = ["serve"]} {
  func.func @one_cluster(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %a, %a_c = "tf.Relu"(%x) <{node_name = "a", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%a) <{node_name = "b", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %c, %c_c = "tf.Sigmoid"(%b) <{node_name = "c", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %c : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @one_cluster
// CHECK:       "neuron.cluster"(%x) <{cluster_name = "neuron_op_{{[0-9a-f]+}}"}> ({
// CHECK-NEXT:  ^{{.*}}(%[[IN:.*]]: tensor<1x4xf32>):
// CHECK-NEXT:    "tf.Relu"(%[[IN]])
// CHECK-NEXT:    "tf.Tanh"
// CHECK-NEXT:    "tf.Sigmoid"
// CHECK-NEXT:    "neuron.yield"
// CHECK-NOT:   "neuron.cluster"

// -----

// A cluster smaller than minimum-segment-size stays on CPU, and says so; forwarding ops and
// constants do not count towards the size.
builtin.module attributes {tf.signature = "too_small", tf.tags = ["serve"]} {
  func.func @too_small(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %a, %a_c = "tf.Relu"(%x) <{node_name = "a", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %b, %b_c = "tf.Identity"(%a) <{node_name = "b", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %b : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @too_small
// CHECK-NOT:   "neuron.cluster"
// CHECK:       %a, %a_c = "tf.Relu"(%x) <{nir.cpu_reason = "in a cluster of 1 op(s), below minimum_segment_size=2"}>
// CHECK:       %b, %b_c = "tf.Identity"(%a) <{nir.cpu_reason = "in a cluster of 1 op(s), below minimum_segment_size=2"}>

// -----

// An int64 tensor may not cross a cluster's boundary on Neuron: the op making it leaves the
// cluster, with the reason; the rest still clusters.
builtin.module attributes {tf.signature = "int64_boundary", tf.tags = ["serve"]} {
  func.func @int64_boundary(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}, tensor<1xi64> {tf.output_key = "idx"}) {
    %a, %a_c = "tf.Relu"(%x) <{node_name = "a", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%a) <{node_name = "b", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %dim, %dim_c = "tf.Const"() <{node_name = "dim", nir.target = "inferentia"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %i, %i_c = "tf.ArgMax"(%b, %dim) <{node_name = "argmax", nir.target = "inferentia"}> {T = f32, Tidx = i32, output_type = i64} : (tensor<1x4xf32>, tensor<i32>) -> (tensor<1xi64>, !tf.control)
    func.return %b, %i : tensor<1x4xf32>, tensor<1xi64>
  }
}

// CHECK-LABEL: func.func @int64_boundary
// CHECK:       "neuron.cluster"
// CHECK:         "tf.Relu"
// CHECK:         "tf.Tanh"
// CHECK:       "tf.ArgMax"{{.*}}nir.cpu_reason = "i64 tensor leaving its cluster"

// -----

// An int64 tensor may not enter a cluster either: the op that reads it stays on CPU, with the
// reason, and the cluster starts after it.
builtin.module attributes {tf.signature = "int64_in", tf.tags = ["serve"]} {
  func.func @int64_in(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}, %ids: tensor<1x4xi64> {tf.input_key = "ids", tf.node_name = "ids"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %c, %c_c = "tf.Cast"(%ids) <{node_name = "c", nir.target = "inferentia"}> {SrcT = i64, DstT = f32, Truncate = false} : (tensor<1x4xi64>) -> (tensor<1x4xf32>, !tf.control)
    %a, %a_c = "tf.AddV2"(%x, %c) <{node_name = "a", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>, tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%a) <{node_name = "b", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %b : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @int64_in
// CHECK:       %c, %c_c = "tf.Cast"(%ids) <{nir.cpu_reason = "i64 tensor entering its cluster"}>
// CHECK-NEXT:  "neuron.cluster"(%x, %c)
// CHECK:         "tf.AddV2"
// CHECK:         "tf.Tanh"
// CHECK:         "neuron.yield"

// -----

// A NeuronOp passes tensors only: an op that an op outside its cluster waits on (a control
// edge) stays on CPU, naming the waiter, and the ops around it cluster without it.
builtin.module attributes {tf.signature = "waited_on", tf.tags = ["serve"]} {
  func.func @waited_on(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}, tensor<1x4xf32> {tf.output_key = "z"}) {
    %a, %a_c = "tf.Relu"(%x) <{node_name = "a", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%a) <{node_name = "b", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %c, %c_c = "tf.Sigmoid"(%b) <{node_name = "c", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %d, %d_c = "tf.Exp"(%c) <{node_name = "d", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %p, %p_c = "tf.Erfc"(%x, %a_c) <{node_name = "p"}> {T = f32} : (tensor<1x4xf32>, !tf.control) -> (tensor<1x4xf32>, !tf.control)
    func.return %d, %p : tensor<1x4xf32>, tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @waited_on
// CHECK:       %a, %a_c = "tf.Relu"(%x) <{nir.cpu_reason = "'p' waits on it through a control edge from outside its cluster"}>
// CHECK:       "neuron.cluster"(%a)
// CHECK:         "tf.Tanh"
// CHECK:         "tf.Sigmoid"
// CHECK:         "tf.Exp"
// CHECK:         "neuron.yield"
// CHECK:       "tf.Erfc"(%x, %a_c)

// -----

// Nor can a NeuronOp wait: an op with a control input from outside its cluster stays on CPU.
builtin.module attributes {tf.signature = "waits", tf.tags = ["serve"]} {
  func.func @waits(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %n = "tf.NoOp"() <{node_name = "n"}> : () -> !tf.control
    %a, %a_c = "tf.Relu"(%x) <{node_name = "a", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%a) <{node_name = "b", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %c, %c_c = "tf.Sigmoid"(%b, %n) <{node_name = "c", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>, !tf.control) -> (tensor<1x4xf32>, !tf.control)
    func.return %c : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @waits
// CHECK:       "neuron.cluster"(%x)
// CHECK:         "tf.Relu"
// CHECK:         "tf.Tanh"
// CHECK:         "neuron.yield"
// CHECK:       %c, %c_c = "tf.Sigmoid"(%{{.*}}, %n) <{nir.cpu_reason = "waits on 'n' through a control edge from outside its cluster"}>

// -----

// A control edge inside one cluster stays in it.
builtin.module attributes {tf.signature = "inside", tf.tags = ["serve"]} {
  func.func @inside(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %a, %a_c = "tf.Relu"(%x) <{node_name = "a", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%x, %a_c) <{node_name = "b", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>, !tf.control) -> (tensor<1x4xf32>, !tf.control)
    %c, %c_c = "tf.AddV2"(%a, %b) <{node_name = "c", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>, tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %c : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @inside
// CHECK:       "neuron.cluster"(%x)
// CHECK:         %[[A:.*]], %[[A_C:.*]] = "tf.Relu"
// CHECK:         "tf.Tanh"(%{{.*}}, %[[A_C]])
// CHECK:         "tf.AddV2"
// CHECK:         "neuron.yield"
// CHECK-NOT:   cpu_reason

// -----

// A Const that both a cluster and an op outside it read stays outside, with the reason, and
// the cluster reads a copy of its own: a constant never crosses the boundary.
builtin.module attributes {tf.signature = "shared_const", tf.tags = ["serve"]} {
  func.func @shared_const(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}, tensor<1x4xf32> {tf.output_key = "z"}) {
    %k, %k_c = "tf.Const"() <{node_name = "k", nir.target = "inferentia"}> {dtype = f32, value = #tf.tensor<tensor<1x4xf32>, splat 2.0>} : () -> (tensor<1x4xf32>, !tf.control)
    %a, %a_c = "tf.AddV2"(%x, %k) <{node_name = "a", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>, tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%a) <{node_name = "b", nir.target = "inferentia"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %p, %p_c = "tf.Mul"(%x, %k) <{node_name = "p", nir.cpu_reason = "placed on CPU by the test"}> {T = f32} : (tensor<1x4xf32>, tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %b, %p : tensor<1x4xf32>, tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @shared_const
// CHECK:       %k, %k_c = "tf.Const"() <{nir.cpu_reason = "Const also read outside its cluster (copied into each cluster that reads it)"}>
// CHECK-NEXT:  "neuron.cluster"(%x)
// CHECK-NEXT:  ^{{.*}}(%[[IN:.*]]: tensor<1x4xf32>):
// CHECK-NEXT:    %[[K:k\.neuron_op_[0-9a-f]+]], %{{.*}} = "tf.Const"() <{nir.target = "inferentia"}> {dtype = f32, value = #tf.tensor<tensor<1x4xf32>, splat 2.0>}
// CHECK-NEXT:    "tf.AddV2"(%[[IN]], %[[K]])
// CHECK:       "tf.Mul"(%x, %k)

// -----

// A group that reads only the shapes of what enters it (what dynamic batch leaves of an RNN's
// first state: zeros as big as the batch) stays on CPU with the reason: shape arithmetic is
// cheaper on the host than a NeuronOp call. A group that reads a value too is a cluster.
builtin.module attributes {tf.signature = "shapes_only", tf.tags = ["serve"]} {
  func.func @shapes_only(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<2x4xf32> {tf.output_key = "zeros"}, tensor<2x4xf32> {tf.output_key = "y"}) {
    %s, %s_c = "tf.Shape"(%x) <{node_name = "s", nir.target = "inferentia"}> {T = f32, out_type = i32} : (tensor<2x4xf32>) -> (tensor<2xi32>, !tf.control)
    %zero, %zero_c = "tf.Const"() <{node_name = "zero", nir.target = "inferentia"}> {dtype = f32, value = #tf.tensor<tensor<f32>, splat 0.0>} : () -> (tensor<f32>, !tf.control)
    %f, %f_c = "tf.Fill"(%s, %zero) <{node_name = "f", nir.target = "inferentia"}> {T = f32, index_type = i32} : (tensor<2xi32>, tensor<f32>) -> (tensor<2x4xf32>, !tf.control)
    %r, %r_c = "tf.Relu"(%x) <{node_name = "r", nir.target = "inferentia"}> {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    %t, %t_c = "tf.Tanh"(%r) <{node_name = "t", nir.target = "inferentia"}> {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    func.return %f, %t : tensor<2x4xf32>, tensor<2x4xf32>
  }
}

// CHECK-LABEL: func.func @shapes_only
// CHECK:       "tf.Shape"(%x) <{nir.cpu_reason = "computes from constants alone and the shapes of its inputs (shape arithmetic left by dynamic batch): no inputs to run on the accelerator"}>
// CHECK:       "tf.Fill"(%s, %zero) <{nir.cpu_reason = "computes from constants alone and the shapes
// CHECK:       "neuron.cluster"(%x)
// CHECK-NEXT:  ^{{.*}}(%[[IN:.*]]: tensor<2x4xf32>):
// CHECK-NEXT:    "tf.Relu"(%[[IN]])
// CHECK-NEXT:    "tf.Tanh"
// CHECK-NEXT:    "neuron.yield"
// CHECK-NOT:   "neuron.cluster"

// -----

// A constant read on CPU (by the Less) and in a cluster (by the Mul) is evicted before anything
// else is judged: as a candidate it made the Less look downstream of the accelerator, which put
// the Select on a later level than the Cast feeding it, split them, and the int64 between them
// would have evicted both. Judged after it, the four ops are one cluster.
builtin.module attributes {tf.signature = "shared_constant_first", tf.tags = ["serve"]} {
  func.func @shared_constant_first(%x: tensor<2xi32> {tf.input_key = "x", tf.node_name = "x"}, %y: tensor<2xf32> {tf.input_key = "y", tf.node_name = "y"}) -> (tensor<2xf32> {tf.output_key = "z"}) {
    %c, %c_c = "tf.Const"() <{node_name = "half", nir.target = "inferentia"}> {dtype = f32, value = #tf.tensor<tensor<f32>, [0.5]>} : () -> (tensor<f32>, !tf.control)
    %p, %p_c = "tf.Less"(%y, %c) <{node_name = "less", nir.cpu_reason = "op type Less not supported by inferentia"}> {T = f32} : (tensor<2xf32>, tensor<f32>) -> (tensor<2xi1>, !tf.control)
    %a, %a_c = "tf.Cast"(%x) <{node_name = "wide", nir.target = "inferentia"}> {SrcT = i32, DstT = i64, Truncate = false} : (tensor<2xi32>) -> (tensor<2xi64>, !tf.control)
    %s, %s_c = "tf.Select"(%p, %a, %a) <{node_name = "select", nir.target = "inferentia"}> {T = i64} : (tensor<2xi1>, tensor<2xi64>, tensor<2xi64>) -> (tensor<2xi64>, !tf.control)
    %f, %f_c = "tf.Cast"(%s) <{node_name = "float", nir.target = "inferentia"}> {SrcT = i64, DstT = f32, Truncate = false} : (tensor<2xi64>) -> (tensor<2xf32>, !tf.control)
    %m, %m_c = "tf.Mul"(%f, %c) <{node_name = "mul", nir.target = "inferentia"}> {T = f32} : (tensor<2xf32>, tensor<f32>) -> (tensor<2xf32>, !tf.control)
    func.return %m : tensor<2xf32>
  }
}

// CHECK-LABEL: func.func @shared_constant_first
// CHECK:       %half, %half_c = "tf.Const"() <{nir.cpu_reason = "Const also read outside its cluster
// CHECK:       %less, %less_c = "tf.Less"
// CHECK:       "neuron.cluster"(%x, %less)
// CHECK:         "tf.Cast"
// CHECK:         "tf.Select"
// CHECK:         "tf.Cast"
// CHECK:         "tf.Mul"
// CHECK:         "neuron.yield"
