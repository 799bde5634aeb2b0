// RUN: nir opt %s --split-input-file --verify-diagnostics | filecheck %s

// The tf dialect's attributes print as they parse: tensors (dense and as a TensorProto),
// shapes (ranked, scalar, unranked), lists, function references and dtypes nir has no builtin
// type for. A node whose SSA name spells its node name does not repeat it.
builtin.module attributes {tf.signature = "attrs", tf.tags = ["serve"]} {
  func.func @attrs(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<2x4xf32> {tf.output_key = "y"}) {
    %w, %w_c = "tf.Const"() <{node_name = "w"}> {dtype = f32, value = #tf.tensor<tensor<2xf32>, [0.5, -1.0]>} : () -> (tensor<2xf32>, !tf.control)
    %s, %s_c = "tf.Const"() <{node_name = "s"}> {dtype = !tf.dtype<"string">, value = #tf.tensor<tensor<!tf.dtype<"string">>, proto "0x0807120042016B">} : () -> (tensor<!tf.dtype<"string">>, !tf.control)
    %e, %e_c = "tf.EnsureShape"(%x) <{node_name = "e"}> {T = f32, shape = #tf.shape<[-1, 4]>} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    %i, %i_c = "tf.IdentityN"(%e) <{node_name = "i"}> {T = #tf.list<[f32]>} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    func.return %i : tensor<2x4xf32>
  }
}

// CHECK-LABEL: func.func @attrs
// CHECK:       %w, %w_c = "tf.Const"() {dtype = f32, value = #tf.tensor<tensor<2xf32>, [0.5, -1.0]>}
// CHECK:       %s, %s_c = "tf.Const"() {dtype = !tf.dtype<"string">, value = #tf.tensor<tensor<!tf.dtype<"string">>, proto "0x0807120042016B">}
// CHECK:       "tf.EnsureShape"(%x) {T = f32, shape = #tf.shape<[-1, 4]>}
// CHECK:       "tf.IdentityN"(%e) {T = #tf.list<[f32]>}

// -----

// An SSA name spells its node name exactly, `/` as `.` and a trailing _N included (Keras ends
// most names so); a node name the SSA name cannot spell back (one holding `.`) stays in the
// node_name property.
builtin.module attributes {tf.signature = "names", tf.tags = ["serve"]} {
  func.func @names(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %a, %a_c = "tf.Relu"(%x) <{node_name = "block/act_1"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%a) <{node_name = "block/v1.2"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %b : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @names
// CHECK:       %block.act_1, %block.act_1_c = "tf.Relu"(%x) {T = f32}
// CHECK:       %block.v1.2, %block.v1.2_c = "tf.Tanh"(%block.act_1) <{node_name = "block/v1.2"}> {T = f32}

// -----

// The verifier knows TensorFlow's OpDefs: a required attribute that is missing is an error that
// names the node and the rule.
builtin.module attributes {tf.signature = "missing_attr", tf.tags = ["serve"]} {
  func.func @missing_attr(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    // expected-error {{node 'relu': Relu needs attribute 'T' (type), which is missing}}
    %relu, %relu_c = "tf.Relu"(%x) : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %relu : tensor<4xf32>
  }
}

// -----

// A control token orders ops without passing data; it is a value of type !tf.control.
builtin.module attributes {tf.signature = "control", tf.tags = ["serve"]} {
  func.func @control(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %a, %a_c = "tf.Relu"(%x) <{node_name = "a"}> {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%x, %a_c) <{node_name = "b"}> {T = f32} : (tensor<4xf32>, !tf.control) -> (tensor<4xf32>, !tf.control)
    func.return %b : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @control
// CHECK:       %b, %b_c = "tf.Tanh"(%x, %a_c) {T = f32} : (tensor<4xf32>, !tf.control) -> (tensor<4xf32>, !tf.control)

// -----

// A source location given in the input stays on its op through passes and dumps.
builtin.module attributes {tf.signature = "located", tf.tags = ["serve"]} {
  func.func @located(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %a, %a_c = "tf.Relu"(%x) {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control) loc("model.py":12:3)
    %b, %b_c = "tf.Tanh"(%a) {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %b : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @located
// CHECK:       %a, %a_c = "tf.Relu"(%x) {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control) loc("model.py":12:3)
// CHECK-NEXT:  %b, %b_c = "tf.Tanh"(%a) {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control){{$}}
