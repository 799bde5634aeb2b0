// RUN: nir opt %s -p tf-dce --split-input-file | filecheck %s

// A chain nobody reads goes in one pass, last op first.
builtin.module attributes {tf.signature = "dead_chain", tf.tags = ["serve"]} {
  func.func @dead_chain(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %a, %a_c = "tf.Exp"(%x) <{node_name = "a"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%a) <{node_name = "b"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %c, %c_c = "tf.Neg"(%b) <{node_name = "c"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %r, %r_c = "tf.Relu"(%x) <{node_name = "relu"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %r : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @dead_chain
// CHECK-NOT: "tf.Exp"
// CHECK-NOT: "tf.Tanh"
// CHECK-NOT: "tf.Neg"
// CHECK:     "tf.Relu"(%x)

// -----

// Stateful ops stay without readers (the OpDef says so); so does an op whose control token
// another op waits on.
builtin.module attributes {tf.signature = "side_effects", tf.tags = ["serve"]} {
  func.func @side_effects(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}, %s: tensor<1xi32> {tf.input_key = "s", tf.node_name = "s"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %rnd, %rnd_c = "tf.RandomUniform"(%s) <{node_name = "rnd"}> {T = i32, dtype = f32, seed = 0 : i64, seed2 = 0 : i64} : (tensor<1xi32>) -> (tensor<4xf32>, !tf.control)
    %e, %e_c = "tf.Exp"(%x) <{node_name = "ordered"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %r, %r_c = "tf.Relu"(%x, %e_c) <{node_name = "relu"}> {T = f32} : (tensor<4xf32>, !tf.control) -> (tensor<4xf32>, !tf.control)
    func.return %r : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @side_effects
// CHECK:     %rnd, %rnd_c = "tf.RandomUniform"(%s) {
// CHECK:     %ordered, %ordered_c = "tf.Exp"(%x)
// CHECK:     "tf.Relu"

// -----

// A cluster whose results nobody reads goes with everything in it; a used one stays.
builtin.module attributes {tf.signature = "dead_cluster", tf.tags = ["serve"]} {
  func.func @dead_cluster(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %d = "neuron.cluster"(%x) <{cluster_name = "dead"}> ({
    ^bb0(%i: tensor<4xf32>):
      %e, %e_c = "tf.Exp"(%i) <{node_name = "e"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
      "neuron.yield"(%e) : (tensor<4xf32>) -> ()
    }) : (tensor<4xf32>) -> tensor<4xf32>
    %l = "neuron.cluster"(%x) <{cluster_name = "live"}> ({
    ^bb0(%i: tensor<4xf32>):
      %t, %t_c = "tf.Tanh"(%i) <{node_name = "t"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
      "neuron.yield"(%t) : (tensor<4xf32>) -> ()
    }) : (tensor<4xf32>) -> tensor<4xf32>
    func.return %l : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @dead_cluster
// CHECK-NOT: cluster_name = "dead"
// CHECK:     cluster_name = "live"

// -----

// Loop and branch bodies are graphs too: what nothing reads inside a While's body and
// condition goes, the loop's own arguments and results stay.
builtin.module attributes {tf.signature = "loop_bodies", tf.tags = ["serve"]} {
  func.func @loop_bodies(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %i, %i_c = "tf.Const"() <{node_name = "i"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)
    %l:2, %l_c = "tf.While"(%i, %x) <{node_name = "loop"}> {T = #tf.list<[i32, f32]>, body = #tf.func<@body, {}>, cond = #tf.func<@cond, {}>, parallel_iterations = 10 : i64, output_shapes = #tf.list<[#tf.shape<[]>, #tf.shape<[4]>]>} : (tensor<i32>, tensor<4xf32>) -> (tensor<i32>, tensor<4xf32>, !tf.control)
    func.return %l#1 : tensor<4xf32>
  }
  func.func private @body(%n: tensor<i32> {tf.input_key = "n"}, %h: tensor<4xf32> {tf.input_key = "h"}) -> (tensor<i32> {tf.output_key = "n_next"}, tensor<4xf32> {tf.output_key = "h_next"}) {
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %next, %next_c = "tf.AddV2"(%n, %one) <{node_name = "next"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    %unused, %unused_c = "tf.Exp"(%h) <{node_name = "unused"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %t, %t_c = "tf.Tanh"(%h) <{node_name = "t"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %next, %t : tensor<i32>, tensor<4xf32>
  }
  func.func private @cond(%n: tensor<i32> {tf.input_key = "n"}, %h: tensor<4xf32> {tf.input_key = "h"}) -> (tensor<i1> {tf.output_key = "go"}) {
    %three, %three_c = "tf.Const"() <{node_name = "three"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [3]>} : () -> (tensor<i32>, !tf.control)
    %dead, %dead_c = "tf.Neg"(%h) <{node_name = "dead"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %go, %go_c = "tf.Less"(%n, %three) <{node_name = "go"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i1>, !tf.control)
    func.return %go : tensor<i1>
  }
}

// CHECK-LABEL: func.func @loop_bodies
// CHECK:       "tf.While"(%i, %x)
// CHECK-LABEL: func.func private @body
// CHECK-NOT:   "tf.Exp"
// CHECK:       %t, %t_c = "tf.Tanh"(%h)
// CHECK-LABEL: func.func private @cond
// CHECK-NOT:   "tf.Neg"
// CHECK:       "tf.Less"(%n, %three)
