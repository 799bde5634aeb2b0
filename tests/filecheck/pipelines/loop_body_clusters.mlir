// RUN: nir opt %s -p 'tf-shape-inference,tf-canonicalize,tf-sink-loop-constants,tf-constant-fold,tf-legalize,tf-cluster,tf-dce' | filecheck %s

// The body of a While is partitioned like the entry function: its math becomes a cluster that
// runs at every iteration, with the loop-invariant weight sunk into the body (no NeuronOp input),
// while the loop, its counter and its condition stay on CPU. The body is specialized to the
// loop's input shapes (1x4, not ?x4).
builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<*xf32> {tf.output_key = "y"}) {
    %i, %i_c = "tf.Const"() <{node_name = "i"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)
    %w, %w_c = "tf.Const"() <{node_name = "w"}> {dtype = f32, value = #tf.tensor<tensor<4x4xf32>, [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]>} : () -> (tensor<4x4xf32>, !tf.control)
    %l:3, %l_c = "tf.While"(%i, %x, %w) <{node_name = "loop"}> {T = #tf.list<[i32, f32, f32]>, body = #tf.func<@body, {}>, cond = #tf.func<@cond, {}>, parallel_iterations = 10 : i64, output_shapes = #tf.list<[#tf.shape<[]>, #tf.shape<[-1, 4]>, #tf.shape<[4, 4]>]>} : (tensor<i32>, tensor<1x4xf32>, tensor<4x4xf32>) -> (tensor<i32>, tensor<*xf32>, tensor<4x4xf32>, !tf.control)
    func.return %l#1 : tensor<*xf32>
  }
  func.func private @body(%n: tensor<i32> {tf.input_key = "n"}, %h: tensor<?x4xf32> {tf.input_key = "h"}, %k: tensor<4x4xf32> {tf.input_key = "k"}) -> (tensor<i32> {tf.output_key = "n_next"}, tensor<?x4xf32> {tf.output_key = "h_next"}, tensor<4x4xf32> {tf.output_key = "k_next"}) {
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %next, %next_c = "tf.AddV2"(%n, %one) <{node_name = "next"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    %kr, %kr_c = "tf.Identity"(%k) <{node_name = "kernel/read"}> {T = f32} : (tensor<4x4xf32>) -> (tensor<4x4xf32>, !tf.control)
    %m, %m_c = "tf.MatMul"(%h, %kr) <{node_name = "cell/MatMul"}> {T = f32, transpose_a = false, transpose_b = false} : (tensor<?x4xf32>, tensor<4x4xf32>) -> (tensor<?x4xf32>, !tf.control)
    %t, %t_c = "tf.Tanh"(%m) <{node_name = "cell/Tanh"}> {T = f32} : (tensor<?x4xf32>) -> (tensor<?x4xf32>, !tf.control)
    func.return %next, %t, %k : tensor<i32>, tensor<?x4xf32>, tensor<4x4xf32>
  }
  func.func private @cond(%n: tensor<i32> {tf.input_key = "n"}, %h: tensor<?x4xf32> {tf.input_key = "h"}, %k: tensor<4x4xf32> {tf.input_key = "k"}) -> (tensor<i1> {tf.output_key = "go"}) {
    %three, %three_c = "tf.Const"() <{node_name = "three"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [3]>} : () -> (tensor<i32>, !tf.control)
    %less, %less_c = "tf.Less"(%n, %three) <{node_name = "less"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i1>, !tf.control)
    %not, %not_c = "tf.LogicalNot"(%less) <{node_name = "not"}> : (tensor<i1>) -> (tensor<i1>, !tf.control)
    %go, %go_c = "tf.LogicalNot"(%not) <{node_name = "go"}> : (tensor<i1>) -> (tensor<i1>, !tf.control)
    func.return %go : tensor<i1>
  }
}

// CHECK:      %loop, {{.*}} = "tf.While"(%i, %x, %w) <{nir.cpu_reason = "op type While not supported by inferentia"}>
// CHECK-SAME: -> (tensor<i32>, tensor<1x4xf32>, tensor<4x4xf32>, !tf.control)
// CHECK:      func.func private @body(%n: tensor<i32> {{.*}}, %h: tensor<1x4xf32>
// CHECK:      %next, %next_c = "tf.AddV2"(%n, %{{.*}}) <{nir.cpu_reason = "in a cluster of 1 op(s), below minimum_segment_size=2"}>
// CHECK:      "neuron.cluster"(%h) <{cluster_name = "neuron_op_{{[0-9a-f]+}}"}>
// CHECK-NEXT: ^bb0(%{{.*}}: tensor<1x4xf32>):
// CHECK-NEXT: %body.w, %body.w_c = "tf.Const"() <{nir.target = "inferentia"}>
// CHECK-NEXT: "tf.MatMul"
// CHECK-NEXT: "tf.Tanh"
// CHECK:      func.func private @cond
// CHECK:      %less, %less_c = "tf.Less"(%n, %{{.*}}) <{nir.cpu_reason = "in a loop condition (the host needs its result at every iteration)"}>
// CHECK-NOT:  "neuron.cluster"
