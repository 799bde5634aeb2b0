// RUN: nir opt %s -p 'tf-legalize{supported-op-types="Less","Add","AddV2","Cast","Const","Identity" no-fuse-ops="widen_i32","widen_u32","widen_bool"},tf-narrow-int64-inputs' --split-input-file | filecheck %s

// Ids from a table filled from constants, read on the target: a Cast to int32 on CPU after the
// lookup, one back to int64 on the target, and every reader on the target reads the latter. Both
// go in front of the first reader.
builtin.module attributes {tf.signature = "vocabulary", tf.tags = ["serve"]} {
  func.func @vocabulary(%words: tensor<2x!tf.dtype<"string">> {tf.input_key = "words", tf.node_name = "words"}, %keys: tensor<3x!tf.dtype<"string">> {tf.input_key = "keys", tf.node_name = "keys"}) -> (tensor<2xi1> {tf.output_key = "known"}, tensor<2xi64> {tf.output_key = "shifted"}) {
    %table, %table_c = "tf.HashTableV2"() <{node_name = "table"}> {container = "", key_dtype = !tf.dtype<"string">, shared_name = "t", use_node_name_sharing = false, value_dtype = i64} : () -> (tensor<!tf.dtype<"resource">>, !tf.control)
    %values, %values_c = "tf.Const"() <{node_name = "values"}> {dtype = i64, value = #tf.tensor<tensor<3xi64>, [2, 3, 4]>} : () -> (tensor<3xi64>, !tf.control)
    %init = "tf.LookupTableImportV2"(%table, %keys, %values) <{node_name = "init"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<3x!tf.dtype<"string">>, tensor<3xi64>) -> !tf.control
    %d, %d_c = "tf.Const"() <{node_name = "default"}> {dtype = i64, value = #tf.tensor<tensor<i64>, [-1]>} : () -> (tensor<i64>, !tf.control)
    %ids, %ids_c = "tf.LookupTableFindV2"(%table, %words, %d) <{node_name = "lookup"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<2x!tf.dtype<"string">>, tensor<i64>) -> (tensor<2xi64>, !tf.control)
    %zero, %zero_c = "tf.Const"() <{node_name = "zero"}> {dtype = i64, value = #tf.tensor<tensor<i64>, [0]>} : () -> (tensor<i64>, !tf.control)
    %known, %known_c = "tf.Less"(%zero, %ids) <{node_name = "known"}> {T = i64} : (tensor<i64>, tensor<2xi64>) -> (tensor<2xi1>, !tf.control)
    %shifted, %shifted_c = "tf.AddV2"(%ids, %ids) <{node_name = "shifted"}> {T = i64} : (tensor<2xi64>, tensor<2xi64>) -> (tensor<2xi64>, !tf.control)
    func.return %known, %shifted : tensor<2xi1>, tensor<2xi64>
  }
}

// CHECK-LABEL: func.func @vocabulary
// CHECK:      %lookup, %lookup_c = "tf.LookupTableFindV2"
// CHECK:      %lookup.int32, %lookup.int32_c = "tf.Cast"(%lookup) <{nir.cpu_reason = "i64 tensor entering its cluster: narrowed to int32 here, its values lie in [-1, 4]"}> {SrcT = i64, DstT = i32, Truncate = false} : (tensor<2xi64>) -> (tensor<2xi32>, !tf.control)
// CHECK-NEXT: %lookup.int64, %lookup.int64_c = "tf.Cast"(%lookup.int32) <{nir.target = "inferentia"}> {SrcT = i32, DstT = i64, Truncate = false} : (tensor<2xi32>) -> (tensor<2xi64>, !tf.control)
// CHECK-NEXT: "tf.Less"(%zero, %lookup.int64)
// CHECK-NEXT: "tf.AddV2"(%lookup.int64, %lookup.int64)

// -----

// Nothing is proved of a table that something else writes to (an insert of run-time values),
// nor of one whose values do not fit in int32, nor of ids fed to the graph: they stay int64.
builtin.module attributes {tf.signature = "unproved", tf.tags = ["serve"]} {
  func.func @unproved(%words: tensor<2x!tf.dtype<"string">> {tf.input_key = "words", tf.node_name = "words"}, %keys: tensor<3x!tf.dtype<"string">> {tf.input_key = "keys", tf.node_name = "keys"}, %more: tensor<3xi64> {tf.input_key = "more", tf.node_name = "more"}, %fed: tensor<2xi64> {tf.input_key = "fed", tf.node_name = "fed"}) -> (tensor<2xi1> {tf.output_key = "a"}, tensor<2xi1> {tf.output_key = "b"}, tensor<2xi1> {tf.output_key = "c"}) {
    %zero, %zero_c = "tf.Const"() <{node_name = "zero"}> {dtype = i64, value = #tf.tensor<tensor<i64>, [0]>} : () -> (tensor<i64>, !tf.control)
    %d, %d_c = "tf.Const"() <{node_name = "default"}> {dtype = i64, value = #tf.tensor<tensor<i64>, [-1]>} : () -> (tensor<i64>, !tf.control)
    %small, %small_c = "tf.Const"() <{node_name = "small"}> {dtype = i64, value = #tf.tensor<tensor<3xi64>, [2, 3, 4]>} : () -> (tensor<3xi64>, !tf.control)
    %written, %written_c = "tf.HashTableV2"() <{node_name = "written"}> {container = "", key_dtype = !tf.dtype<"string">, shared_name = "w", use_node_name_sharing = false, value_dtype = i64} : () -> (tensor<!tf.dtype<"resource">>, !tf.control)
    %init_w = "tf.LookupTableImportV2"(%written, %keys, %small) <{node_name = "init_w"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<3x!tf.dtype<"string">>, tensor<3xi64>) -> !tf.control
    %insert = "tf.LookupTableInsertV2"(%written, %keys, %more) <{node_name = "insert"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<3x!tf.dtype<"string">>, tensor<3xi64>) -> !tf.control
    %ids_w, %ids_w_c = "tf.LookupTableFindV2"(%written, %words, %d) <{node_name = "lookup_w"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<2x!tf.dtype<"string">>, tensor<i64>) -> (tensor<2xi64>, !tf.control)
    %a, %a_c = "tf.Less"(%zero, %ids_w) <{node_name = "a"}> {T = i64} : (tensor<i64>, tensor<2xi64>) -> (tensor<2xi1>, !tf.control)
    %wide, %wide_c = "tf.HashTableV2"() <{node_name = "wide"}> {container = "", key_dtype = !tf.dtype<"string">, shared_name = "v", use_node_name_sharing = false, value_dtype = i64} : () -> (tensor<!tf.dtype<"resource">>, !tf.control)
    %big, %big_c = "tf.Const"() <{node_name = "big"}> {dtype = i64, value = #tf.tensor<tensor<3xi64>, [2, 3, 2147483648]>} : () -> (tensor<3xi64>, !tf.control)
    %init_v = "tf.LookupTableImportV2"(%wide, %keys, %big) <{node_name = "init_v"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<3x!tf.dtype<"string">>, tensor<3xi64>) -> !tf.control
    %ids_v, %ids_v_c = "tf.LookupTableFindV2"(%wide, %words, %d) <{node_name = "lookup_v"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<2x!tf.dtype<"string">>, tensor<i64>) -> (tensor<2xi64>, !tf.control)
    %b, %b_c = "tf.Less"(%zero, %ids_v) <{node_name = "b"}> {T = i64} : (tensor<i64>, tensor<2xi64>) -> (tensor<2xi1>, !tf.control)
    %c, %c_c = "tf.Less"(%zero, %fed) <{node_name = "c"}> {T = i64} : (tensor<i64>, tensor<2xi64>) -> (tensor<2xi1>, !tf.control)
    func.return %a, %b, %c : tensor<2xi1>, tensor<2xi1>, tensor<2xi1>
  }
}

// CHECK-LABEL: func.func @unproved
// CHECK-NOT:  "tf.Cast"
// CHECK:      "tf.Less"(%zero, %lookup_w)
// CHECK:      "tf.Less"(%zero, %lookup_v)
// CHECK:      "tf.Less"(%zero, %fed)

// -----

// Ops that only choose or move values keep the range of what they choose from: the padding and
// the unknown-word id a tokenizer selects (on CPU here: SelectV2 and Reshape are not on the
// target's list) next to the table's ids. The Cast goes after the last of them, where the cluster
// would start.
builtin.module attributes {tf.signature = "chosen", tf.tags = ["serve"]} {
  func.func @chosen(%words: tensor<4x!tf.dtype<"string">> {tf.input_key = "words", tf.node_name = "words"}, %keys: tensor<3x!tf.dtype<"string">> {tf.input_key = "keys", tf.node_name = "keys"}, %mask: tensor<4xi1> {tf.input_key = "mask", tf.node_name = "mask"}) -> (tensor<2x2xi64> {tf.output_key = "y"}) {
    %table, %table_c = "tf.HashTableV2"() <{node_name = "table"}> {container = "", key_dtype = !tf.dtype<"string">, shared_name = "t", use_node_name_sharing = false, value_dtype = i64} : () -> (tensor<!tf.dtype<"resource">>, !tf.control)
    %values, %values_c = "tf.Const"() <{node_name = "values"}> {dtype = i64, value = #tf.tensor<tensor<3xi64>, [2, 3, 4]>} : () -> (tensor<3xi64>, !tf.control)
    %init = "tf.LookupTableImportV2"(%table, %keys, %values) <{node_name = "init"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<3x!tf.dtype<"string">>, tensor<3xi64>) -> !tf.control
    %d, %d_c = "tf.Const"() <{node_name = "default"}> {dtype = i64, value = #tf.tensor<tensor<i64>, [1]>} : () -> (tensor<i64>, !tf.control)
    %ids, %ids_c = "tf.LookupTableFindV2"(%table, %words, %d) <{node_name = "lookup"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<4x!tf.dtype<"string">>, tensor<i64>) -> (tensor<4xi64>, !tf.control)
    %pad, %pad_c = "tf.Const"() <{node_name = "pad"}> {dtype = i64, value = #tf.tensor<tensor<i64>, [0]>} : () -> (tensor<i64>, !tf.control)
    %sel, %sel_c = "tf.SelectV2"(%mask, %pad, %ids) <{node_name = "select"}> {T = i64} : (tensor<4xi1>, tensor<i64>, tensor<4xi64>) -> (tensor<4xi64>, !tf.control)
    %shape, %shape_c = "tf.Const"() <{node_name = "shape"}> {dtype = i32, value = #tf.tensor<tensor<2xi32>, [2, 2]>} : () -> (tensor<2xi32>, !tf.control)
    %r, %r_c = "tf.Reshape"(%sel, %shape) <{node_name = "reshape"}> {T = i64, Tshape = i32} : (tensor<4xi64>, tensor<2xi32>) -> (tensor<2x2xi64>, !tf.control)
    %y, %y_c = "tf.AddV2"(%r, %r) <{node_name = "y"}> {T = i64} : (tensor<2x2xi64>, tensor<2x2xi64>) -> (tensor<2x2xi64>, !tf.control)
    func.return %y : tensor<2x2xi64>
  }
}

// CHECK-LABEL: func.func @chosen
// CHECK:      %reshape, %reshape_c = "tf.Reshape"
// CHECK-NEXT: %reshape.int32, %reshape.int32_c = "tf.Cast"(%reshape) <{nir.cpu_reason = "i64 tensor entering its cluster: narrowed to int32 here, its values lie in [0, 4]"}>
// CHECK-NEXT: %reshape.int64, %reshape.int64_c = "tf.Cast"(%reshape.int32)
// CHECK:      "tf.AddV2"(%reshape.int64, %reshape.int64)

// -----

// Hash buckets are in [0, num_buckets), a table's size between none and every key imported, and
// a sum of bounded ids is bounded: a StaticVocabularyTable's out-of-vocabulary id (bucket plus
// size) is narrowed where it enters, in [0, 4].
builtin.module attributes {tf.signature = "buckets", tf.tags = ["serve"]} {
  func.func @buckets(%words: tensor<2x!tf.dtype<"string">> {tf.input_key = "words", tf.node_name = "words"}, %keys: tensor<3x!tf.dtype<"string">> {tf.input_key = "keys", tf.node_name = "keys"}) -> (tensor<2xi64> {tf.output_key = "y"}) {
    %table, %table_c = "tf.HashTableV2"() <{node_name = "table"}> {container = "", key_dtype = !tf.dtype<"string">, shared_name = "t", use_node_name_sharing = false, value_dtype = i64} : () -> (tensor<!tf.dtype<"resource">>, !tf.control)
    %values, %values_c = "tf.Const"() <{node_name = "values"}> {dtype = i64, value = #tf.tensor<tensor<3xi64>, [0, 1, 2]>} : () -> (tensor<3xi64>, !tf.control)
    %init = "tf.LookupTableImportV2"(%table, %keys, %values) <{node_name = "init"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<3x!tf.dtype<"string">>, tensor<3xi64>) -> !tf.control
    %size, %size_c = "tf.LookupTableSizeV2"(%table) <{node_name = "size"}> : (tensor<!tf.dtype<"resource">>) -> (tensor<i64>, !tf.control)
    %bucket, %bucket_c = "tf.StringToHashBucketFast"(%words) <{node_name = "bucket"}> {num_buckets = 2 : i64} : (tensor<2x!tf.dtype<"string">>) -> (tensor<2xi64>, !tf.control)
    %oov, %oov_c = "tf.Sub"(%bucket, %size) <{node_name = "oov"}> {T = i64} : (tensor<2xi64>, tensor<i64>) -> (tensor<2xi64>, !tf.control)
    %y, %y_c = "tf.AddV2"(%oov, %oov) <{node_name = "y"}> {T = i64} : (tensor<2xi64>, tensor<2xi64>) -> (tensor<2xi64>, !tf.control)
    func.return %y : tensor<2xi64>
  }
}

// CHECK-LABEL: func.func @buckets
// CHECK:      %oov.int32, %oov.int32_c = "tf.Cast"(%oov) <{nir.cpu_reason = "i64 tensor entering its cluster: narrowed to int32 here, its values lie in [-3, 1]"}>
// CHECK:      "tf.AddV2"(%oov.int64, %oov.int64)

// -----

// A TF1 table (tf.compat.v1.tables_initializer: InitializeTableV2) filled from constants too.
builtin.module attributes {tf.signature = "tf1_table", tf.tags = ["serve"]} {
  func.func @tf1_table(%words: tensor<2x!tf.dtype<"string">> {tf.input_key = "words", tf.node_name = "words"}, %keys: tensor<3x!tf.dtype<"string">> {tf.input_key = "keys", tf.node_name = "keys"}) -> (tensor<2xi64> {tf.output_key = "y"}) {
    %table, %table_c = "tf.HashTableV2"() <{node_name = "table"}> {container = "", key_dtype = !tf.dtype<"string">, shared_name = "t", use_node_name_sharing = false, value_dtype = i64} : () -> (tensor<!tf.dtype<"resource">>, !tf.control)
    %values, %values_c = "tf.Const"() <{node_name = "values"}> {dtype = i64, value = #tf.tensor<tensor<3xi64>, [7, 8, 9]>} : () -> (tensor<3xi64>, !tf.control)
    %init = "tf.InitializeTableV2"(%table, %keys, %values) <{node_name = "init"}> {Tkey = !tf.dtype<"string">, Tval = i64} : (tensor<!tf.dtype<"resource">>, tensor<3x!tf.dtype<"string">>, tensor<3xi64>) -> !tf.control
    %d, %d_c = "tf.Const"() <{node_name = "default"}> {dtype = i64, value = #tf.tensor<tensor<i64>, [0]>} : () -> (tensor<i64>, !tf.control)
    %ids, %ids_c = "tf.LookupTableFindV2"(%table, %words, %d) <{node_name = "lookup"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<2x!tf.dtype<"string">>, tensor<i64>) -> (tensor<2xi64>, !tf.control)
    %y, %y_c = "tf.AddV2"(%ids, %ids) <{node_name = "y"}> {T = i64} : (tensor<2xi64>, tensor<2xi64>) -> (tensor<2xi64>, !tf.control)
    func.return %y : tensor<2xi64>
  }
}

// CHECK-LABEL: func.func @tf1_table
// CHECK:      %lookup.int32, %lookup.int32_c = "tf.Cast"(%lookup) <{nir.cpu_reason = "i64 tensor entering its cluster: narrowed to int32 here, its values lie in [0, 9]"}>

// -----

// A mutable table filled from constants here can hold other values: another signature of the
// model, or an earlier call, may have inserted them. Its ids stay int64.
builtin.module attributes {tf.signature = "mutable", tf.tags = ["serve"]} {
  func.func @mutable(%words: tensor<2x!tf.dtype<"string">> {tf.input_key = "words", tf.node_name = "words"}, %keys: tensor<3x!tf.dtype<"string">> {tf.input_key = "keys", tf.node_name = "keys"}) -> (tensor<2xi64> {tf.output_key = "y"}) {
    %table, %table_c = "tf.MutableHashTableV2"() <{node_name = "table"}> {container = "", key_dtype = !tf.dtype<"string">, shared_name = "t", use_node_name_sharing = false, value_dtype = i64} : () -> (tensor<!tf.dtype<"resource">>, !tf.control)
    %values, %values_c = "tf.Const"() <{node_name = "values"}> {dtype = i64, value = #tf.tensor<tensor<3xi64>, [7, 8, 9]>} : () -> (tensor<3xi64>, !tf.control)
    %init = "tf.LookupTableImportV2"(%table, %keys, %values) <{node_name = "init"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<3x!tf.dtype<"string">>, tensor<3xi64>) -> !tf.control
    %d, %d_c = "tf.Const"() <{node_name = "default"}> {dtype = i64, value = #tf.tensor<tensor<i64>, [0]>} : () -> (tensor<i64>, !tf.control)
    %ids, %ids_c = "tf.LookupTableFindV2"(%table, %words, %d) <{node_name = "lookup"}> {Tin = !tf.dtype<"string">, Tout = i64} : (tensor<!tf.dtype<"resource">>, tensor<2x!tf.dtype<"string">>, tensor<i64>) -> (tensor<2xi64>, !tf.control)
    %y, %y_c = "tf.AddV2"(%ids, %ids) <{node_name = "y"}> {T = i64} : (tensor<2xi64>, tensor<2xi64>) -> (tensor<2xi64>, !tf.control)
    func.return %y : tensor<2xi64>
  }
}

// CHECK-LABEL: func.func @mutable
// CHECK-NOT:  "tf.Cast"
// CHECK:      "tf.AddV2"(%lookup, %lookup)

// -----

// A Cast to int64 on CPU of a narrower integer holds what that type holds (a bool 0 or 1): an
// int32's or a bool's widening fits and is narrowed back, a uint32's does not.
builtin.module attributes {tf.signature = "widened", tf.tags = ["serve"]} {
  func.func @widened(%a: tensor<2xi32> {tf.input_key = "a", tf.node_name = "a"}, %u: tensor<2xui32> {tf.input_key = "u", tf.node_name = "u"}, %b: tensor<2xi1> {tf.input_key = "b", tf.node_name = "b"}) -> (tensor<2xi64> {tf.output_key = "x"}, tensor<2xi64> {tf.output_key = "y"}, tensor<2xi64> {tf.output_key = "z"}) {
    %wa, %wa_c = "tf.Cast"(%a) <{node_name = "widen_i32"}> {SrcT = i32, DstT = i64, Truncate = false} : (tensor<2xi32>) -> (tensor<2xi64>, !tf.control)
    %wu, %wu_c = "tf.Cast"(%u) <{node_name = "widen_u32"}> {SrcT = ui32, DstT = i64, Truncate = false} : (tensor<2xui32>) -> (tensor<2xi64>, !tf.control)
    %wb, %wb_c = "tf.Cast"(%b) <{node_name = "widen_bool"}> {SrcT = i1, DstT = i64, Truncate = false} : (tensor<2xi1>) -> (tensor<2xi64>, !tf.control)
    %x, %x_c = "tf.AddV2"(%wa, %wa) <{node_name = "x"}> {T = i64} : (tensor<2xi64>, tensor<2xi64>) -> (tensor<2xi64>, !tf.control)
    %y, %y_c = "tf.AddV2"(%wu, %wu) <{node_name = "y"}> {T = i64} : (tensor<2xi64>, tensor<2xi64>) -> (tensor<2xi64>, !tf.control)
    %z, %z_c = "tf.AddV2"(%wb, %wb) <{node_name = "z"}> {T = i64} : (tensor<2xi64>, tensor<2xi64>) -> (tensor<2xi64>, !tf.control)
    func.return %x, %y, %z : tensor<2xi64>, tensor<2xi64>, tensor<2xi64>
  }
}

// CHECK-LABEL: func.func @widened
// CHECK:      %widen_i32.int32, {{.*}} = "tf.Cast"(%widen_i32) <{nir.cpu_reason = "i64 tensor entering its cluster: narrowed to int32 here, its values lie in [-2147483648, 2147483647]"}>
// CHECK:      "tf.AddV2"(%widen_i32.int64, %widen_i32.int64)
// CHECK-NOT:  %widen_u32.int32
// CHECK:      "tf.AddV2"(%widen_u32, %widen_u32)
// CHECK:      %widen_bool.int32, {{.*}} = "tf.Cast"(%widen_bool) <{nir.cpu_reason = "i64 tensor entering its cluster: narrowed to int32 here, its values lie in [0, 1]"}>
// CHECK:      "tf.AddV2"(%widen_bool.int64, %widen_bool.int64)
