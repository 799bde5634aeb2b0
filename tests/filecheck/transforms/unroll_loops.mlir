// RUN: nir opt %s -p tf-unroll-loops --split-input-file | filecheck %s
// RUN: nir opt %s -p 'tf-unroll-loops{max-trip-count=2 max-unrolled-ops=4}' --split-input-file | filecheck %s --check-prefix=LIMITS

// A loop over a constant range: three copies of its body, each reading its counter as a
// constant, and the loop, its body and its condition gone. The weight its body holds is made once.
builtin.module attributes {tf.signature = "counted", tf.tags = ["serve"]} {
  func.func @counted(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}, tensor<i32> {tf.output_key = "n"}) {
    %i, %i_c = "tf.Const"() <{node_name = "i"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)
    %l:2, %l_c = "tf.While"(%i, %x) <{node_name = "loop"}> {T = #tf.list<[i32, f32]>, body = #tf.func<@body, {}>, cond = #tf.func<@cond, {}>, parallel_iterations = 10 : i64, output_shapes = #tf.list<[#tf.shape<[]>, #tf.shape<[1, 4]>]>} : (tensor<i32>, tensor<1x4xf32>) -> (tensor<i32>, tensor<1x4xf32>, !tf.control)
    func.return %l#1, %l#0 : tensor<1x4xf32>, tensor<i32>
  }
  func.func private @body(%n: tensor<i32> {tf.input_key = "n"}, %h: tensor<1x4xf32> {tf.input_key = "h"}) -> (tensor<i32> {tf.output_key = "n_next"}, tensor<1x4xf32> {tf.output_key = "h_next"}) {
    %w, %w_c = "tf.Const"() <{node_name = "w"}> {dtype = f32, value = #tf.tensor<tensor<4x4xf32>, splat 0.25>} : () -> (tensor<4x4xf32>, !tf.control)
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %next, %next_c = "tf.AddV2"(%n, %one) <{node_name = "next"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    %m, %m_c = "tf.MatMul"(%h, %w) <{node_name = "cell"}> {T = f32, transpose_a = false, transpose_b = false} : (tensor<1x4xf32>, tensor<4x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %t, %t_c = "tf.Tanh"(%m) <{node_name = "act"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %next, %t : tensor<i32>, tensor<1x4xf32>
  }
  func.func private @cond(%n: tensor<i32> {tf.input_key = "n"}, %h: tensor<1x4xf32> {tf.input_key = "h"}) -> (tensor<i1> {tf.output_key = "go"}) {
    %three, %three_c = "tf.Const"() <{node_name = "three"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [3]>} : () -> (tensor<i32>, !tf.control)
    %less, %less_c = "tf.Less"(%n, %three) <{node_name = "less"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i1>, !tf.control)
    func.return %less : tensor<i1>
  }
}

// With max-trip-count=2, the three trips are too many: it stays a loop, and says so.
// LIMITS-LABEL: func.func @counted
// LIMITS:       "tf.While"(%i, %x) <{nir.not_unrolled = "it runs more than max-trip-count=2 times"}>

// CHECK-LABEL: builtin.module attributes {tf.signature = "counted", tf.tags = ["serve"], nir.unrolled_loops = {loop = 3 : i64}}
// CHECK:       %loop.w, %loop.w_c = "tf.Const"()
// CHECK-NEXT:  %loop.iteration_0.cell, {{.*}} = "tf.MatMul"(%x, %loop.w)
// CHECK-NEXT:  %loop.iteration_0.act, {{.*}} = "tf.Tanh"(%loop.iteration_0.cell)
// CHECK-NEXT:  %loop.iteration_1.cell, {{.*}} = "tf.MatMul"(%loop.iteration_0.act, %loop.w)
// CHECK-NEXT:  %loop.iteration_1.act, {{.*}} = "tf.Tanh"(%loop.iteration_1.cell)
// CHECK-NEXT:  %loop.iteration_2.cell, {{.*}} = "tf.MatMul"(%loop.iteration_1.act, %loop.w)
// CHECK-NEXT:  %loop.iteration_2.act, {{.*}} = "tf.Tanh"(%loop.iteration_2.cell)
// CHECK-NEXT:  %loop.iteration_3.n, {{.*}} = "tf.Const"() {dtype = i32, value = #tf.tensor<tensor<i32>, [3]>}
// CHECK-NEXT:  func.return %loop.iteration_2.act, %loop.iteration_3.n
// CHECK-NOT:   "tf.AddV2"
// CHECK-NOT:   func.func private

// -----

// A loop whose condition reads what its body computes from the input runs a number of times
// known only at run time: it stays a loop, and says why.
builtin.module attributes {tf.signature = "until", tf.tags = ["serve"]} {
  func.func @until(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %l, %l_c = "tf.While"(%x) <{node_name = "loop"}> {T = #tf.list<[f32]>, body = #tf.func<@halve, {}>, cond = #tf.func<@big, {}>, parallel_iterations = 10 : i64, output_shapes = #tf.list<[#tf.shape<[4]>]>} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %l : tensor<4xf32>
  }
  func.func private @halve(%v: tensor<4xf32> {tf.input_key = "v"}) -> (tensor<4xf32> {tf.output_key = "v_next"}) {
    %half, %half_c = "tf.Const"() <{node_name = "half"}> {dtype = f32, value = #tf.tensor<tensor<f32>, [0.5]>} : () -> (tensor<f32>, !tf.control)
    %m, %m_c = "tf.Mul"(%v, %half) <{node_name = "mul"}> {T = f32} : (tensor<4xf32>, tensor<f32>) -> (tensor<4xf32>, !tf.control)
    func.return %m : tensor<4xf32>
  }
  func.func private @big(%v: tensor<4xf32> {tf.input_key = "v"}) -> (tensor<i1> {tf.output_key = "go"}) {
    %axis, %axis_c = "tf.Const"() <{node_name = "axis"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [0]>} : () -> (tensor<1xi32>, !tf.control)
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = f32, value = #tf.tensor<tensor<f32>, [1.0]>} : () -> (tensor<f32>, !tf.control)
    %s, %s_c = "tf.Sum"(%v, %axis) <{node_name = "sum"}> {T = f32, Tidx = i32, keep_dims = false} : (tensor<4xf32>, tensor<1xi32>) -> (tensor<f32>, !tf.control)
    %g, %g_c = "tf.Greater"(%s, %one) <{node_name = "greater"}> {T = f32} : (tensor<f32>, tensor<f32>) -> (tensor<i1>, !tf.control)
    func.return %g : tensor<i1>
  }
}

// CHECK-LABEL: func.func @until
// CHECK:       "tf.While"(%x) <{nir.not_unrolled = "its condition reads 'v', which the loop computes from run-time values"}>
// CHECK:       func.func private @halve
// CHECK:       func.func private @big

// -----

// A body with side effects stays a loop: unrolled, nothing would order its random draws.
builtin.module attributes {tf.signature = "noisy", tf.tags = ["serve"]} {
  func.func @noisy(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %i, %i_c = "tf.Const"() <{node_name = "i"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)
    %l:2, %l_c = "tf.While"(%i, %x) <{node_name = "loop"}> {T = #tf.list<[i32, f32]>, body = #tf.func<@draw, {}>, cond = #tf.func<@twice, {}>, parallel_iterations = 10 : i64, output_shapes = #tf.list<[#tf.shape<[]>, #tf.shape<[4]>]>} : (tensor<i32>, tensor<4xf32>) -> (tensor<i32>, tensor<4xf32>, !tf.control)
    func.return %l#1 : tensor<4xf32>
  }
  func.func private @draw(%n: tensor<i32> {tf.input_key = "n"}, %v: tensor<4xf32> {tf.input_key = "v"}) -> (tensor<i32> {tf.output_key = "n_next"}, tensor<4xf32> {tf.output_key = "v_next"}) {
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %shape, %shape_c = "tf.Const"() <{node_name = "shape"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [4]>} : () -> (tensor<1xi32>, !tf.control)
    %next, %next_c = "tf.AddV2"(%n, %one) <{node_name = "next"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    %r, %r_c = "tf.RandomStandardNormal"(%shape) <{node_name = "noise"}> {T = i32, dtype = f32, seed = 0 : i64, seed2 = 0 : i64} : (tensor<1xi32>) -> (tensor<4xf32>, !tf.control)
    %a, %a_c = "tf.AddV2"(%v, %r) <{node_name = "add"}> {T = f32} : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %next, %a : tensor<i32>, tensor<4xf32>
  }
  func.func private @twice(%n: tensor<i32> {tf.input_key = "n"}, %v: tensor<4xf32> {tf.input_key = "v"}) -> (tensor<i1> {tf.output_key = "go"}) {
    %two, %two_c = "tf.Const"() <{node_name = "two"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [2]>} : () -> (tensor<i32>, !tf.control)
    %less, %less_c = "tf.Less"(%n, %two) <{node_name = "less"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i1>, !tf.control)
    func.return %less : tensor<i1>
  }
}

// CHECK-LABEL: func.func @noisy
// CHECK:       "tf.While"(%i, %x) <{nir.not_unrolled = "its body has RandomStandardNormal 'noise', which has side effects: unrolled, their order across iterations would not be kept"}>
// CHECK:       func.func private @draw

// -----

// A loop that waits on a side effect (a control input) and that something waits on: its
// copies wait on a NoOp that waits on what the loop waited on, and the NoOp named like the
// loop stands for its end. A loop whose condition is false at once leaves its inputs as they were.
builtin.module attributes {tf.signature = "gated", tf.tags = ["serve"]} {
  func.func @gated(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}, tensor<4xf32> {tf.output_key = "z"}) {
    %shape, %shape_c = "tf.Const"() <{node_name = "shape"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [4]>} : () -> (tensor<1xi32>, !tf.control)
    %start, %start_c = "tf.RandomStandardNormal"(%shape) <{node_name = "start"}> {T = i32, dtype = f32, seed = 0 : i64, seed2 = 0 : i64} : (tensor<1xi32>) -> (tensor<4xf32>, !tf.control)
    %i, %i_c = "tf.Const"() <{node_name = "i"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)
    %five, %five_c = "tf.Const"() <{node_name = "five"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [5]>} : () -> (tensor<i32>, !tf.control)
    %l:2, %l_c = "tf.While"(%i, %x, %start_c) <{node_name = "loop"}> {T = #tf.list<[i32, f32]>, body = #tf.func<@step, {}>, cond = #tf.func<@below2, {}>, parallel_iterations = 10 : i64, output_shapes = #tf.list<[#tf.shape<[]>, #tf.shape<[4]>]>} : (tensor<i32>, tensor<4xf32>, !tf.control) -> (tensor<i32>, tensor<4xf32>, !tf.control)
    %y, %y_c = "tf.Identity"(%l#1, %l_c) <{node_name = "y"}> {T = f32} : (tensor<4xf32>, !tf.control) -> (tensor<4xf32>, !tf.control)
    %k:2, %k_c = "tf.While"(%five, %x) <{node_name = "never"}> {T = #tf.list<[i32, f32]>, body = #tf.func<@step2, {}>, cond = #tf.func<@below2b, {}>, parallel_iterations = 10 : i64, output_shapes = #tf.list<[#tf.shape<[]>, #tf.shape<[4]>]>} : (tensor<i32>, tensor<4xf32>) -> (tensor<i32>, tensor<4xf32>, !tf.control)
    func.return %y, %k#1 : tensor<4xf32>, tensor<4xf32>
  }
  func.func private @step(%n: tensor<i32> {tf.input_key = "n"}, %v: tensor<4xf32> {tf.input_key = "v"}) -> (tensor<i32> {tf.output_key = "n_next"}, tensor<4xf32> {tf.output_key = "v_next"}) {
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %next, %next_c = "tf.AddV2"(%n, %one) <{node_name = "next"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    %e, %e_c = "tf.Exp"(%v) <{node_name = "exp"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %next, %e : tensor<i32>, tensor<4xf32>
  }
  func.func private @below2(%n: tensor<i32> {tf.input_key = "n"}, %v: tensor<4xf32> {tf.input_key = "v"}) -> (tensor<i1> {tf.output_key = "go"}) {
    %two, %two_c = "tf.Const"() <{node_name = "two"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [2]>} : () -> (tensor<i32>, !tf.control)
    %less, %less_c = "tf.Less"(%n, %two) <{node_name = "less"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i1>, !tf.control)
    func.return %less : tensor<i1>
  }
  func.func private @step2(%n: tensor<i32> {tf.input_key = "n"}, %v: tensor<4xf32> {tf.input_key = "v"}) -> (tensor<i32> {tf.output_key = "n_next"}, tensor<4xf32> {tf.output_key = "v_next"}) {
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %next, %next_c = "tf.AddV2"(%n, %one) <{node_name = "next"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    %e, %e_c = "tf.Exp"(%v) <{node_name = "exp"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %next, %e : tensor<i32>, tensor<4xf32>
  }
  func.func private @below2b(%n: tensor<i32> {tf.input_key = "n"}, %v: tensor<4xf32> {tf.input_key = "v"}) -> (tensor<i1> {tf.output_key = "go"}) {
    %two, %two_c = "tf.Const"() <{node_name = "two"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [2]>} : () -> (tensor<i32>, !tf.control)
    %less, %less_c = "tf.Less"(%n, %two) <{node_name = "less"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i1>, !tf.control)
    func.return %less : tensor<i1>
  }
}

// Two trips of two ops each are at both limits: unrolled.
// LIMITS-LABEL: builtin.module attributes {tf.signature = "gated", tf.tags = ["serve"], nir.unrolled_loops = {loop = 2 : i64, never = 0 : i64}}

// CHECK-LABEL: builtin.module attributes {tf.signature = "gated", tf.tags = ["serve"], nir.unrolled_loops = {loop = 2 : i64, never = 0 : i64}}
// CHECK:       %loop.input_control_node = "tf.NoOp"(%start_c)
// CHECK-NEXT:  %loop.iteration_0.exp, {{.*}} = "tf.Exp"(%x, %loop.input_control_node)
// CHECK-NEXT:  %loop.iteration_1.exp, {{.*}} = "tf.Exp"(%loop.iteration_0.exp) {T = f32}
// CHECK-NEXT:  %loop = "tf.NoOp"(%start_c)
// CHECK-NEXT:  %y, %y_c = "tf.Identity"(%loop.iteration_1.exp, %loop)
// CHECK-NEXT:  func.return %y, %x

// -----

// A loop that reads with its counter: each copy reads at its own step, a constant.
builtin.module attributes {tf.signature = "indexed", tf.tags = ["serve"]} {
  func.func @indexed(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %i, %i_c = "tf.Const"() <{node_name = "i"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)
    %zero, %zero_c = "tf.Const"() <{node_name = "zero"}> {dtype = f32, value = #tf.tensor<tensor<4xf32>, splat 0.0>} : () -> (tensor<4xf32>, !tf.control)
    %l:3, %l_c = "tf.While"(%i, %zero, %x) <{node_name = "loop"}> {T = #tf.list<[i32, f32, f32]>, body = #tf.func<@accumulate, {}>, cond = #tf.func<@below2, {}>, parallel_iterations = 10 : i64, output_shapes = #tf.list<[#tf.shape<[]>, #tf.shape<[4]>, #tf.shape<[2, 4]>]>} : (tensor<i32>, tensor<4xf32>, tensor<2x4xf32>) -> (tensor<i32>, tensor<4xf32>, tensor<2x4xf32>, !tf.control)
    func.return %l#1 : tensor<4xf32>
  }
  func.func private @accumulate(%n: tensor<i32> {tf.input_key = "n"}, %sum: tensor<4xf32> {tf.input_key = "sum"}, %xs: tensor<2x4xf32> {tf.input_key = "xs"}) -> (tensor<i32> {tf.output_key = "n_next"}, tensor<4xf32> {tf.output_key = "sum_next"}, tensor<2x4xf32> {tf.output_key = "xs_next"}) {
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %axis, %axis_c = "tf.Const"() <{node_name = "axis"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)
    %next, %next_c = "tf.AddV2"(%n, %one) <{node_name = "next"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    %row, %row_c = "tf.GatherV2"(%xs, %n, %axis) <{node_name = "row"}> {Taxis = i32, Tindices = i32, Tparams = f32, batch_dims = 0 : i64} : (tensor<2x4xf32>, tensor<i32>, tensor<i32>) -> (tensor<4xf32>, !tf.control)
    %s, %s_c = "tf.AddV2"(%sum, %row) <{node_name = "add"}> {T = f32} : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %next, %s, %xs : tensor<i32>, tensor<4xf32>, tensor<2x4xf32>
  }
  func.func private @below2(%n: tensor<i32> {tf.input_key = "n"}, %sum: tensor<4xf32> {tf.input_key = "sum"}, %xs: tensor<2x4xf32> {tf.input_key = "xs"}) -> (tensor<i1> {tf.output_key = "go"}) {
    %two, %two_c = "tf.Const"() <{node_name = "two"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [2]>} : () -> (tensor<i32>, !tf.control)
    %less, %less_c = "tf.Less"(%n, %two) <{node_name = "less"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i1>, !tf.control)
    func.return %less : tensor<i1>
  }
}

// CHECK-LABEL: func.func @indexed
// CHECK:       %loop.iteration_0.n, {{.*}} = "tf.Const"() {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>}
// CHECK:       %loop.iteration_0.row, {{.*}} = "tf.GatherV2"(%x, %loop.iteration_0.n, %loop.axis)
// CHECK:       %loop.iteration_1.n, {{.*}} = "tf.Const"() {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>}
// CHECK:       %loop.iteration_1.row, {{.*}} = "tf.GatherV2"(%x, %loop.iteration_1.n, %loop.axis)
// CHECK-NOT:   "tf.AddV2"(%loop.iteration_{{[0-9]}}.n
// CHECK:       func.return %loop.iteration_1.add
