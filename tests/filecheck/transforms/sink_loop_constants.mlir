// RUN: nir opt %s -p tf-sink-loop-constants --split-input-file | filecheck %s

// A weight a While hands to its body unchanged at every iteration becomes a Const inside the
// body, where it is read; a loop variable the body changes stays an argument, and the
// condition, which does not read the weight, gets no copy.
builtin.module attributes {tf.signature = "while_weight", tf.tags = ["serve"]} {
  func.func @while_weight(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<*xf32> {tf.output_key = "y"}) {
    %i, %i_c = "tf.Const"() <{node_name = "i"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)
    %w, %w_c = "tf.Const"() <{node_name = "w"}> {dtype = f32, value = #tf.tensor<tensor<4x4xf32>, splat 0.25>} : () -> (tensor<4x4xf32>, !tf.control)
    %l:3, %l_c = "tf.While"(%i, %x, %w) <{node_name = "loop"}> {T = #tf.list<[i32, f32, f32]>, body = #tf.func<@body, {}>, cond = #tf.func<@cond, {}>, parallel_iterations = 10 : i64, output_shapes = #tf.list<[#tf.shape<[]>, #tf.shape<[-1, 4]>, #tf.shape<[4, 4]>]>} : (tensor<i32>, tensor<1x4xf32>, tensor<4x4xf32>) -> (tensor<i32>, tensor<*xf32>, tensor<4x4xf32>, !tf.control)
    func.return %l#1 : tensor<*xf32>
  }
  func.func private @body(%n: tensor<i32> {tf.input_key = "n"}, %h: tensor<?x4xf32> {tf.input_key = "h"}, %k: tensor<4x4xf32> {tf.input_key = "k"}) -> (tensor<i32> {tf.output_key = "n_next"}, tensor<?x4xf32> {tf.output_key = "h_next"}, tensor<4x4xf32> {tf.output_key = "k_next"}) {
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %next, %next_c = "tf.AddV2"(%n, %one) <{node_name = "next"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    %m, %m_c = "tf.MatMul"(%h, %k) <{node_name = "cell"}> {T = f32, transpose_a = false, transpose_b = false} : (tensor<?x4xf32>, tensor<4x4xf32>) -> (tensor<?x4xf32>, !tf.control)
    func.return %next, %m, %k : tensor<i32>, tensor<?x4xf32>, tensor<4x4xf32>
  }
  func.func private @cond(%n: tensor<i32> {tf.input_key = "n"}, %h: tensor<?x4xf32> {tf.input_key = "h"}, %k: tensor<4x4xf32> {tf.input_key = "k"}) -> (tensor<i1> {tf.output_key = "go"}) {
    %three, %three_c = "tf.Const"() <{node_name = "three"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [3]>} : () -> (tensor<i32>, !tf.control)
    %less, %less_c = "tf.Less"(%n, %three) <{node_name = "less"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i1>, !tf.control)
    func.return %less : tensor<i1>
  }
}

// CHECK-LABEL: func.func private @body
// CHECK:       %body.w, %body.w_c = "tf.Const"() {dtype = f32, value = #tf.tensor<tensor<4x4xf32>, splat 0.25>}
// CHECK:       "tf.AddV2"(%n, %one)
// CHECK:       "tf.MatMul"(%h, %body.w)
// CHECK-LABEL: func.func private @cond
// CHECK-NOT:   "cond/w"

// -----

// A body two loops share is left alone: they may pass it different values.
builtin.module attributes {tf.signature = "shared_body", tf.tags = ["serve"]} {
  func.func @shared_body(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %a, %a_c = "tf.Const"() <{node_name = "a"}> {dtype = f32, value = #tf.tensor<tensor<4xf32>, splat 1.0>} : () -> (tensor<4xf32>, !tf.control)
    %b, %b_c = "tf.Const"() <{node_name = "b"}> {dtype = f32, value = #tf.tensor<tensor<4xf32>, splat 2.0>} : () -> (tensor<4xf32>, !tf.control)
    %l1:2, %l1_c = "tf.While"(%x, %a) <{node_name = "loop1"}> {T = #tf.list<[f32, f32]>, body = #tf.func<@step, {}>, cond = #tf.func<@never, {}>, parallel_iterations = 10 : i64, output_shapes = #tf.list<[#tf.shape<[4]>, #tf.shape<[4]>]>} : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, !tf.control)
    %l2:2, %l2_c = "tf.While"(%l1#0, %b) <{node_name = "loop2"}> {T = #tf.list<[f32, f32]>, body = #tf.func<@step, {}>, cond = #tf.func<@never, {}>, parallel_iterations = 10 : i64, output_shapes = #tf.list<[#tf.shape<[4]>, #tf.shape<[4]>]>} : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, !tf.control)
    func.return %l2#0 : tensor<4xf32>
  }
  func.func private @step(%v: tensor<4xf32> {tf.input_key = "v"}, %d: tensor<4xf32> {tf.input_key = "d"}) -> (tensor<4xf32> {tf.output_key = "v_next"}, tensor<4xf32> {tf.output_key = "d_next"}) {
    %s, %s_c = "tf.Sub"(%v, %d) <{node_name = "sub"}> {T = f32} : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %s, %d : tensor<4xf32>, tensor<4xf32>
  }
  func.func private @never(%v: tensor<4xf32> {tf.input_key = "v"}, %d: tensor<4xf32> {tf.input_key = "d"}) -> (tensor<i1> {tf.output_key = "go"}) {
    %f, %f_c = "tf.Const"() <{node_name = "false"}> {dtype = i1, value = #tf.tensor<tensor<i1>, [0]>} : () -> (tensor<i1>, !tf.control)
    func.return %f : tensor<i1>
  }
}

// CHECK-LABEL: func.func private @step
// CHECK-NOT:   "tf.Const"
// CHECK:       "tf.Sub"(%v, %d)

// -----

// Both branches of an If get their own copy of a constant operand.
builtin.module attributes {tf.signature = "if_const", tf.tags = ["serve"]} {
  func.func @if_const(%p: tensor<i1> {tf.input_key = "p", tf.node_name = "p"}, %x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %c, %c_c = "tf.Const"() <{node_name = "scale"}> {dtype = f32, value = #tf.tensor<tensor<4xf32>, [1.0, 2.0, 3.0, 4.0]>} : () -> (tensor<4xf32>, !tf.control)
    %r, %r_c = "tf.If"(%p, %x, %c) <{node_name = "branch"}> {Tcond = i1, Tin = #tf.list<[f32, f32]>, Tout = #tf.list<[f32]>, then_branch = #tf.func<@then, {}>, else_branch = #tf.func<@else, {}>, output_shapes = #tf.list<[#tf.shape<[4]>]>} : (tensor<i1>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %r : tensor<4xf32>
  }
  func.func private @then(%a: tensor<4xf32> {tf.input_key = "a"}, %s: tensor<4xf32> {tf.input_key = "s"}) -> (tensor<4xf32> {tf.output_key = "out"}) {
    %m, %m_c = "tf.Mul"(%a, %s) <{node_name = "mul"}> {T = f32} : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %m : tensor<4xf32>
  }
  func.func private @else(%a: tensor<4xf32> {tf.input_key = "a"}, %s: tensor<4xf32> {tf.input_key = "s"}) -> (tensor<4xf32> {tf.output_key = "out"}) {
    %d, %d_c = "tf.Sub"(%a, %s) <{node_name = "sub"}> {T = f32} : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %d : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func private @then
// CHECK:       %then.scale, %then.scale_c = "tf.Const"()
// CHECK:       "tf.Mul"(%a, %then.scale)
// CHECK-LABEL: func.func private @else
// CHECK:       %else.scale, %else.scale_c = "tf.Const"()
// CHECK:       "tf.Sub"(%a, %else.scale)
