// RUN: nir opt %s -p 'tf-legalize{target=inferentia no-fuse-ops="keep_on_cpu"},tf-cluster,tf-dce' | filecheck %s

// Every op gets a placement or a reason; legal ops on both sides of an unsupported op form two
// clusters (one cluster would close a cycle through the CPU op); the dead op goes.
builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%x: tensor<1x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<1x4xf32> {tf.output_key = "y"}) {
    %a, %a_c = "tf.Relu"(%x) <{node_name = "a"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %b, %b_c = "tf.Tanh"(%a) <{node_name = "b"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %c, %c_c = "tf.Softsign"(%b) <{node_name = "unsupported"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %d, %d_c = "tf.Add"(%c, %a) <{node_name = "d"}> {T = f32} : (tensor<1x4xf32>, tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %e, %e_c = "tf.Sigmoid"(%d) <{node_name = "e"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %f, %f_c = "tf.Exp"(%e) <{node_name = "keep_on_cpu"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    %g, %g_c = "tf.Neg"(%x) <{node_name = "dead"}> {T = f32} : (tensor<1x4xf32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %f : tensor<1x4xf32>
  }
}

// CHECK:      "neuron.cluster"(%x) <{cluster_name = "neuron_op_{{[0-9a-f]+}}"}>
// CHECK:        "tf.Relu"{{.*}}nir.target = "inferentia"
// CHECK:        "tf.Tanh"
// CHECK:        "neuron.yield"
// CHECK:      "tf.Softsign"{{.*}}nir.cpu_reason = "op type Softsign not supported by inferentia"
// CHECK:      "neuron.cluster"
// CHECK:        "tf.Add"
// CHECK:        "tf.Sigmoid"
// CHECK:      "tf.Exp"{{.*}}nir.cpu_reason = "listed in no_fuse_ops"
// CHECK-NOT:  "tf.Neg"
