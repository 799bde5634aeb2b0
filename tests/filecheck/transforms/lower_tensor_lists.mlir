// RUN: nir opt %s -p tf-lower-tensor-lists --split-input-file | filecheck %s

// Reads of a list made from a tensor's rows: a read at a constant index becomes that row of the
// tensor, and stacking the unchanged list gives the tensor back. A read at an index known only
// at run time, or past the end, stays a list read (it fails at run time, as it should).
builtin.module attributes {tf.signature = "rows", tf.tags = ["serve"]} {
  func.func @rows(%x: tensor<3x2x4xf32> {tf.input_key = "x", tf.node_name = "x"}, %j: tensor<i32> {tf.input_key = "j", tf.node_name = "j"}) -> (tensor<2x4xf32> {tf.output_key = "second"}, tensor<3x2x4xf32> {tf.output_key = "all"}, tensor<2x4xf32> {tf.output_key = "any"}, tensor<2x4xf32> {tf.output_key = "past"}) {
    %es, %es_c = "tf.Const"() <{node_name = "element_shape"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [-1, 4]>} : () -> (tensor<2xi32>, !tf.control)
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %list, %list_c = "tf.TensorListFromTensor"(%x, %es) <{node_name = "list"}> {element_dtype = f32, shape_type = i32} : (tensor<3x2x4xf32>, tensor<2xi32>) -> (tensor<!tf.dtype<"variant">>, !tf.control)
    %second, %second_c = "tf.TensorListGetItem"(%list, %one, %es) <{node_name = "second"}> {element_dtype = f32} : (tensor<!tf.dtype<"variant">>, tensor<i32>, tensor<2xi32>) -> (tensor<2x4xf32>, !tf.control)
    %all, %all_c = "tf.TensorListStack"(%list, %es) <{node_name = "all"}> {element_dtype = f32, num_elements = 3 : i64} : (tensor<!tf.dtype<"variant">>, tensor<2xi32>) -> (tensor<3x2x4xf32>, !tf.control)
    %any, %any_c = "tf.TensorListGetItem"(%list, %j, %es) <{node_name = "any"}> {element_dtype = f32} : (tensor<!tf.dtype<"variant">>, tensor<i32>, tensor<2xi32>) -> (tensor<2x4xf32>, !tf.control)
    %three, %three_c = "tf.Const"() <{node_name = "three"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [3]>} : () -> (tensor<i32>, !tf.control)
    %past, %past_c = "tf.TensorListGetItem"(%list, %three, %es) <{node_name = "past"}> {element_dtype = f32} : (tensor<!tf.dtype<"variant">>, tensor<i32>, tensor<2xi32>) -> (tensor<2x4xf32>, !tf.control)
    func.return %second, %all, %any, %past : tensor<2x4xf32>, tensor<3x2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>
  }
}

// CHECK-LABEL: func.func @rows
// CHECK:       %list, %list_c = "tf.TensorListFromTensor"(%x, %element_shape)
// CHECK:       %second.row.begin, {{.*}} value = #tf.tensor<tensor<1xi32>, [1]>
// CHECK:       %second.row.end, {{.*}} value = #tf.tensor<tensor<1xi32>, [2]>
// CHECK:       %second.row.strides, {{.*}} value = #tf.tensor<tensor<1xi32>, [1]>
// CHECK:       %second.row, %second.row_c = "tf.StridedSlice"(%x, %second.row.begin, %second.row.end, %second.row.strides) {{{.*}}shrink_axis_mask = 1 : i64} : {{.*}} -> (tensor<2x4xf32>, !tf.control)
// CHECK:       %any, %any_c = "tf.TensorListGetItem"(%list, %j, %element_shape)
// CHECK:       %past, %past_c = "tf.TensorListGetItem"(%list, %three, %element_shape)
// CHECK:       func.return %second.row, %x, %any, %past

// -----

// A reserved list written at constant indices, as an unrolled RNN fills its outputs: stacking
// it packs what was last written at each index, and a read gives the value written there.
builtin.module attributes {tf.signature = "written", tf.tags = ["serve"]} {
  func.func @written(%a: tensor<1x4xf32> {tf.input_key = "a", tf.node_name = "a"}, %b: tensor<1x4xf32> {tf.input_key = "b", tf.node_name = "b"}, %c: tensor<1x4xf32> {tf.input_key = "c", tf.node_name = "c"}) -> (tensor<2x1x4xf32> {tf.output_key = "stacked"}, tensor<1x4xf32> {tf.output_key = "first"}) {
    %es, %es_c = "tf.Const"() <{node_name = "element_shape"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [-1, 4]>} : () -> (tensor<2xi32>, !tf.control)
    %n, %n_c = "tf.Const"() <{node_name = "n"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [2]>} : () -> (tensor<i32>, !tf.control)
    %i0, %i0_c = "tf.Const"() <{node_name = "i0"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)
    %i1, %i1_c = "tf.Const"() <{node_name = "i1"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %r, %r_c = "tf.TensorListReserve"(%es, %n) <{node_name = "reserve"}> {element_dtype = f32, shape_type = i32} : (tensor<2xi32>, tensor<i32>) -> (tensor<!tf.dtype<"variant">>, !tf.control)
    %w0, %w0_c = "tf.TensorListSetItem"(%r, %i0, %a) <{node_name = "write0"}> {element_dtype = f32, resize_if_index_out_of_bounds = false} : (tensor<!tf.dtype<"variant">>, tensor<i32>, tensor<1x4xf32>) -> (tensor<!tf.dtype<"variant">>, !tf.control)
    %w1, %w1_c = "tf.TensorListSetItem"(%w0, %i1, %b) <{node_name = "write1"}> {element_dtype = f32, resize_if_index_out_of_bounds = false} : (tensor<!tf.dtype<"variant">>, tensor<i32>, tensor<1x4xf32>) -> (tensor<!tf.dtype<"variant">>, !tf.control)
    %w2, %w2_c = "tf.TensorListSetItem"(%w1, %i0, %c) <{node_name = "write2"}> {element_dtype = f32, resize_if_index_out_of_bounds = false} : (tensor<!tf.dtype<"variant">>, tensor<i32>, tensor<1x4xf32>) -> (tensor<!tf.dtype<"variant">>, !tf.control)
    %s, %s_c = "tf.TensorListStack"(%w2, %es) <{node_name = "stacked"}> {element_dtype = f32, num_elements = 2 : i64} : (tensor<!tf.dtype<"variant">>, tensor<2xi32>) -> (tensor<2x1x4xf32>, !tf.control)
    %f, %f_c = "tf.TensorListGetItem"(%w1, %i0, %es) <{node_name = "first"}> {element_dtype = f32} : (tensor<!tf.dtype<"variant">>, tensor<i32>, tensor<2xi32>) -> (tensor<1x4xf32>, !tf.control)
    func.return %s, %f : tensor<2x1x4xf32>, tensor<1x4xf32>
  }
}

// CHECK-LABEL: func.func @written
// CHECK-NEXT:  %stacked, %stacked_c = "tf.Pack"(%c, %b) {N = 2 : i64, T = f32, axis = 0 : i64}
// CHECK-NEXT:  func.return %stacked, %a

// -----

// A list with an element never written is left alone: what a read of it gives depends on the
// element shape (zeros, or an error), not on anything written.
builtin.module attributes {tf.signature = "gap", tf.tags = ["serve"]} {
  func.func @gap(%a: tensor<1x4xf32> {tf.input_key = "a", tf.node_name = "a"}) -> (tensor<2x1x4xf32> {tf.output_key = "stacked"}) {
    %es, %es_c = "tf.Const"() <{node_name = "element_shape"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [1, 4]>} : () -> (tensor<2xi32>, !tf.control)
    %n, %n_c = "tf.Const"() <{node_name = "n"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [2]>} : () -> (tensor<i32>, !tf.control)
    %i1, %i1_c = "tf.Const"() <{node_name = "i1"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %r, %r_c = "tf.TensorListReserve"(%es, %n) <{node_name = "reserve"}> {element_dtype = f32, shape_type = i32} : (tensor<2xi32>, tensor<i32>) -> (tensor<!tf.dtype<"variant">>, !tf.control)
    %w1, %w1_c = "tf.TensorListSetItem"(%r, %i1, %a) <{node_name = "write1"}> {element_dtype = f32, resize_if_index_out_of_bounds = false} : (tensor<!tf.dtype<"variant">>, tensor<i32>, tensor<1x4xf32>) -> (tensor<!tf.dtype<"variant">>, !tf.control)
    %s, %s_c = "tf.TensorListStack"(%w1, %es) <{node_name = "stacked"}> {element_dtype = f32, num_elements = 2 : i64} : (tensor<!tf.dtype<"variant">>, tensor<2xi32>) -> (tensor<2x1x4xf32>, !tf.control)
    func.return %s : tensor<2x1x4xf32>
  }
}

// CHECK-LABEL: func.func @gap
// CHECK:       %write1, %write1_c = "tf.TensorListSetItem"(%reserve, %i1, %a)
// CHECK-NEXT:  %stacked, %stacked_c = "tf.TensorListStack"(%write1, %element_shape)


// -----

// A read whose declared type is not the element's (less precise here) is left alone: replaced,
// its readers would see another type.
builtin.module attributes {tf.signature = "imprecise", tf.tags = ["serve"]} {
  func.func @imprecise(%x: tensor<3x2x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<?x4xf32> {tf.output_key = "second"}) {
    %es, %es_c = "tf.Const"() <{node_name = "element_shape"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [-1, 4]>} : () -> (tensor<2xi32>, !tf.control)
    %one, %one_c = "tf.Const"() <{node_name = "one"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [1]>} : () -> (tensor<i32>, !tf.control)
    %list, %list_c = "tf.TensorListFromTensor"(%x, %es) <{node_name = "list"}> {element_dtype = f32, shape_type = i32} : (tensor<3x2x4xf32>, tensor<2xi32>) -> (tensor<!tf.dtype<"variant">>, !tf.control)
    %second, %second_c = "tf.TensorListGetItem"(%list, %one, %es) <{node_name = "second"}> {element_dtype = f32} : (tensor<!tf.dtype<"variant">>, tensor<i32>, tensor<2xi32>) -> (tensor<?x4xf32>, !tf.control)
    func.return %second : tensor<?x4xf32>
  }
}

// CHECK-LABEL: func.func @imprecise
// CHECK-NOT:   "tf.StridedSlice"
// CHECK:       %second, %second_c = "tf.TensorListGetItem"(%list, %one, %element_shape)
