// RUN: nir opt %s --allow-elided -p 'tf-inline-calls,tf-legalize' --split-input-file | filecheck %s

// A call Grappler left (Keras marks some layers _noinline) is replaced by its body, node names
// prefixed with the call's; the function goes. A call to a function the model lacks stays,
// and legalize says why.
builtin.module attributes {tf.signature = "keras_call", tf.tags = ["serve"]} {
  func.func @keras_call(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}, tensor<1x4xf32> {tf.output_key = "z"}) {
    %w, %w_c = "tf.Const"() <{node_name = "w"}> {dtype = f32, value = #tf.tensor<tensor<4x4xf32>, __elided__>} : () -> (tensor<4x4xf32>, !tf.control)
    %y, %y_c = "tf.StatefulPartitionedCall"(%w, %x) <{node_name = "dense/call"}> {Tin = #tf.list<[f32, f32]>, Tout = #tf.list<[f32]>, config = "", config_proto = "", executor_type = "", f = #tf.func<@dense_body, {}>} : (tensor<4x4xf32>, tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %z, %z_c = "tf.PartitionedCall"(%y) <{node_name = "lost/call"}> {Tin = #tf.list<[f32]>, Tout = #tf.list<[f32]>, config = "", config_proto = "", executor_type = "", f = #tf.func<@not_there, {}>} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %y, %z : tensor<1x4xf32>, tensor<1x4xf32>
  }
  func.func private @dense_body(%kernel: tensor<4x4xf32> {tf.input_key = "kernel"}, %inputs: tensor<1x4xf32> {tf.input_key = "inputs"}) -> (tensor<1x4xf32> {tf.output_key = "identity"}) {
    %m, %m_c = "tf.MatMul"(%inputs, %kernel) <{node_name = "MatMul"}> {T = f32, transpose_a = false, transpose_b = false} : (tensor<1x4xf32>, tensor<4x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %r, %r_c = "tf.Relu"(%m) <{node_name = "Relu"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %r : tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @keras_call
// CHECK:      %dense.call.MatMul, %dense.call.MatMul_c = "tf.MatMul"(%x, %w)
// CHECK:      %[[RELU:dense.call.Relu]], %{{.*}} = "tf.Relu"({{.*}})
// CHECK:      %lost.call, {{.*}} = "tf.PartitionedCall"(%[[RELU]]) <{{{.*}}nir.cpu_reason = "function call not inlined: function 'not_there' is not in the model's function library"
// CHECK:      func.return %[[RELU]],
// CHECK-NOT:  @dense_body

// -----

// A call inside a called function is inlined in turn (names prefixed twice); a node whose op
// type names a library function is a call too.
builtin.module attributes {tf.signature = "nested", tf.tags = ["serve"]} {
  func.func @nested(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %y, %y_c = "tf.PartitionedCall"(%x) <{node_name = "outer"}> {Tin = #tf.list<[f32]>, Tout = #tf.list<[f32]>, config = "", config_proto = "", executor_type = "", f = #tf.func<@outer_fn, {}>} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %y : tensor<4xf32>
  }
  func.func private @outer_fn(%a: tensor<4xf32> {tf.input_key = "a"}) -> (tensor<4xf32> {tf.output_key = "out"}) {
    %t, %t_c = "tf.Tanh"(%a) <{node_name = "tanh"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %i, %i_c = "tf.inner_fn"(%t) <{node_name = "inner"}> : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %i : tensor<4xf32>
  }
  func.func private @inner_fn(%b: tensor<4xf32> {tf.input_key = "b"}) -> (tensor<4xf32> {tf.output_key = "out"}) {
    %e, %e_c = "tf.Exp"(%b) <{node_name = "exp"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %e : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @nested
// CHECK:       %outer.tanh, %outer.tanh_c = "tf.Tanh"(%x)
// CHECK:       %outer.inner.exp, %outer.inner.exp_c = "tf.Exp"({{.*}})
// CHECK-NOT:   "tf.PartitionedCall"
// CHECK-NOT:   @outer_fn
// CHECK-NOT:   @inner_fn

// -----

// Two calls of one function each get their own copy of the body, named after the call.
builtin.module attributes {tf.signature = "twice", tf.tags = ["serve"]} {
  func.func @twice(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %p, %p_c = "tf.PartitionedCall"(%x) <{node_name = "first"}> {Tin = #tf.list<[f32]>, Tout = #tf.list<[f32]>, config = "", config_proto = "", executor_type = "", f = #tf.func<@act, {}>} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %q, %q_c = "tf.PartitionedCall"(%p) <{node_name = "second"}> {Tin = #tf.list<[f32]>, Tout = #tf.list<[f32]>, config = "", config_proto = "", executor_type = "", f = #tf.func<@act, {}>} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %q : tensor<4xf32>
  }
  func.func private @act(%a: tensor<4xf32> {tf.input_key = "a"}) -> (tensor<4xf32> {tf.output_key = "out"}) {
    %r, %r_c = "tf.Relu6"(%a) <{node_name = "relu6"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %r : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @twice
// CHECK:       %[[FIRST:first.relu6]], %{{.*}} = "tf.Relu6"(%x)
// CHECK:       %second.relu6, %second.relu6_c = "tf.Relu6"(%[[FIRST]])

// -----

// The call's control edges survive inlining, as TensorFlow's inliner keeps them: what the call
// waited for, the body's first ops wait for (through `<call>/input_control_node`), and what
// waited for the call waits for a NoOp named like it, which waits for the body's results.
builtin.module attributes {tf.signature = "call_control", tf.tags = ["serve"]} {
  func.func @call_control(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %before, %before_c = "tf.Relu"(%x) <{node_name = "before"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %y, %y_c = "tf.PartitionedCall"(%x, %before_c) <{node_name = "call"}> {Tin = #tf.list<[f32]>, Tout = #tf.list<[f32]>, config = "", config_proto = "", executor_type = "", f = #tf.func<@body, {}>} : (tensor<4xf32>, !tf.control) -> (tensor<4xf32>, !tf.control)
    %after, %after_c = "tf.Tanh"(%x, %y_c) <{node_name = "after"}> {T = f32} : (tensor<4xf32>, !tf.control) -> (tensor<4xf32>, !tf.control)
    %s, %s_c = "tf.AddV2"(%y, %after) <{node_name = "s"}> {T = f32} : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %s : tensor<4xf32>
  }
  func.func private @body(%a: tensor<4xf32> {tf.input_key = "a"}) -> (tensor<4xf32> {tf.output_key = "out"}) {
    %k, %k_c = "tf.Const"() <{node_name = "k"}> {dtype = f32, value = #tf.tensor<tensor<4xf32>, [1.0, 2.0, 3.0, 4.0]>} : () -> (tensor<4xf32>, !tf.control)
    %n, %n_c = "tf.Mul"(%a, %k) <{node_name = "mul"}> {T = f32} : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %n : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @call_control
// CHECK:       %before, %before_c = "tf.Relu"(%x) <{nir.cpu_reason = "control edge"}>
// CHECK-NEXT:  %call.input_control_node = "tf.NoOp"(%before_c)
// CHECK-NEXT:  %call.k, %call.k_c = "tf.Const"(%call.input_control_node)
// CHECK-NEXT:  %call.mul, %call.mul_c = "tf.Mul"(%x, %call.k)
// CHECK-NEXT:  %call = "tf.NoOp"(%call.mul_c)
// CHECK-NEXT:  %after, %after_c = "tf.Tanh"(%x, %call) <{nir.cpu_reason = "control edge"}>
// CHECK-NEXT:  "tf.AddV2"(%call.mul, %after) <{nir.target = "inferentia"}>

// -----

// Two Ifs that run the same branch functions (a function holding a tf.cond, called twice) get
// bodies of their own: the first keeps the originals, the second runs clones, and an If inside
// a cloned branch gets its own copy of its branches in turn.
builtin.module attributes {tf.signature = "shared", tf.tags = ["serve"]} {
  func.func @shared(%p: tensor<i1> {tf.input_key = "p", tf.node_name = "p"}, %x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}, %w: tensor<2x4xf32> {tf.input_key = "w", tf.node_name = "w"}) -> (tensor<*xf32> {tf.output_key = "y"}, tensor<*xf32> {tf.output_key = "z"}) {
    %y, %y_c = "tf.StatelessIf"(%p, %p, %x) <{node_name = "first"}> {Tcond = i1, Tin = #tf.list<[i1, f32]>, Tout = #tf.list<[f32]>, then_branch = #tf.func<@then, {}>, else_branch = #tf.func<@else, {}>, output_shapes = #tf.list<[]>} : (tensor<i1>, tensor<i1>, tensor<1x4xf32>) -> (tensor<*xf32>, !tf.control)
    %z, %z_c = "tf.StatelessIf"(%p, %p, %w) <{node_name = "second"}> {Tcond = i1, Tin = #tf.list<[i1, f32]>, Tout = #tf.list<[f32]>, then_branch = #tf.func<@then, {}>, else_branch = #tf.func<@else, {}>, output_shapes = #tf.list<[]>} : (tensor<i1>, tensor<i1>, tensor<2x4xf32>) -> (tensor<*xf32>, !tf.control)
    func.return %y, %z : tensor<*xf32>, tensor<*xf32>
  }
  func.func private @then(%q: tensor<i1> {tf.input_key = "q"}, %a: tensor<*xf32> {tf.input_key = "a"}) -> (tensor<*xf32> {tf.output_key = "out"}) {
    %r, %r_c = "tf.StatelessIf"(%q, %a) <{node_name = "inner"}> {Tcond = i1, Tin = #tf.list<[f32]>, Tout = #tf.list<[f32]>, then_branch = #tf.func<@relu, {}>, else_branch = #tf.func<@neg, {}>, output_shapes = #tf.list<[]>} : (tensor<i1>, tensor<*xf32>) -> (tensor<*xf32>, !tf.control)
    func.return %r : tensor<*xf32>
  }
  func.func private @else(%q: tensor<i1> {tf.input_key = "q"}, %a: tensor<*xf32> {tf.input_key = "a"}) -> (tensor<*xf32> {tf.output_key = "out"}) {
    %r, %r_c = "tf.Tanh"(%a) <{node_name = "tanh"}> {T = f32} : (tensor<*xf32>) -> (tensor<*xf32>, !tf.control)
    func.return %r : tensor<*xf32>
  }
  func.func private @relu(%a: tensor<*xf32> {tf.input_key = "a"}) -> (tensor<*xf32> {tf.output_key = "out"}) {
    %r, %r_c = "tf.Relu"(%a) <{node_name = "relu"}> {T = f32} : (tensor<*xf32>) -> (tensor<*xf32>, !tf.control)
    func.return %r : tensor<*xf32>
  }
  func.func private @neg(%a: tensor<*xf32> {tf.input_key = "a"}) -> (tensor<*xf32> {tf.output_key = "out"}) {
    %r, %r_c = "tf.Neg"(%a) <{node_name = "neg"}> {T = f32} : (tensor<*xf32>) -> (tensor<*xf32>, !tf.control)
    func.return %r : tensor<*xf32>
  }
}

// CHECK-LABEL: func.func @shared
// CHECK:       "tf.StatelessIf"(%p, %p, %x) {{.*}}then_branch = #tf.func<@then, {}>, else_branch = #tf.func<@else, {}>
// CHECK:       "tf.StatelessIf"(%p, %p, %w) {{.*}}then_branch = #tf.func<@then_1, {}>, else_branch = #tf.func<@else_1, {}>
// CHECK:       func.func private @then(
// CHECK:       "tf.StatelessIf"(%q, %a) {{.*}}then_branch = #tf.func<@relu, {}>, else_branch = #tf.func<@neg, {}>
// CHECK:       func.func private @then_1(
// CHECK:       "tf.StatelessIf"(%q, %a) {{.*}}then_branch = #tf.func<@relu_1, {}>, else_branch = #tf.func<@neg_1, {}>
// CHECK:       func.func private @else(
// CHECK:       func.func private @else_1(
// CHECK:       func.func private @relu(
// CHECK:       func.func private @relu_1(
// CHECK:       func.func private @neg(
// CHECK:       func.func private @neg_1(
