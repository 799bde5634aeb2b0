"""The core passes on the model zoo, and a property test of clustering on random DAGs."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frontends.tensorflow.exporter import export_module
from nir.ir import ClusterOp, TFNodeOp, parse_module, print_module
from nir.ir.module import entry_function
from nir.ir.placement import CpuReason
from nir.ir.queries import cpu_reason, is_on_target
from nir.ir.shape_functions import SHAPE_FUNCTIONS
from nir.passmanager import PassFailedError, PassManager
from passes.shape_inference import infer_shapes

ZOO = ["resnet50", "mobilenetv2", "two_io", "transformer", "tf1_two_signatures", "control_flow"]


def _fresh(imported, name):
    module, loaded = imported(name)
    return module.clone(), loaded


def tensorflow_shapes_of(module) -> dict[str, list]:
    import tensorflow as tf

    graph_def, _ = export_module(module)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    return {
        op.name: [None if t.shape.rank is None else [-1 if d is None else d for d in t.shape.as_list()] for t in op.outputs]
        for op in graph.get_operations()
    }


def run_y(module, feeds: dict):
    """The module's graph, exported and run in a TensorFlow session: the value of node `y`."""
    import tensorflow as tf

    graph_def, _ = export_module(module)
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as session:
            return session.run("y:0", feeds)


def _at_least_as_precise(ours, theirs) -> bool:
    """Equal to TensorFlow's shapes wherever TensorFlow knows a dimension. nir may know more:
    it specializes loop bodies to their inputs, where TensorFlow keeps the loop's declared
    shape invariants."""
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours, theirs):
        if b is None:
            continue
        if a is None or len(a) != len(b) or any(y >= 0 and x != y for x, y in zip(a, b)):
            return False
    return True


@pytest.mark.parametrize("name", ZOO)
def test_shape_inference_matches_tensorflow_on_every_tensor(imported, name):
    module, _ = _fresh(imported, name)
    PassManager.parse("tf-batch-specialize{batch-size=2}").run(module)
    fallbacks = infer_shapes(module)
    expected = tensorflow_shapes_of(module)
    differences = []
    for op in entry_function(module).body.block.ops:
        if not isinstance(op, TFNodeOp):
            continue
        ours = [None if not hasattr(r.type, "get_shape") else [-1 if d < 0 else d for d in r.type.get_shape()] for r in op.data_results]
        if not _at_least_as_precise(ours, expected[op.node_name]):
            differences.append(f"{op.node_name} ({op.tf_type}): nir {ours}, TensorFlow {expected[op.node_name]}")
    assert not differences, "\n".join(differences)
    assert not set(fallbacks) & set(SHAPE_FUNCTIONS), f"fell back to TensorFlow for {dict(fallbacks)}"


def test_batch_specialize_errors_name_the_input_and_the_fix(imported):
    from nir.errors import NirInputError

    module, _ = _fresh(imported, "two_io")
    with pytest.raises(PassFailedError) as err:
        PassManager.parse('tf-batch-specialize{input-shapes="ids:2x9"}').run(module)
    assert isinstance(err.value.__cause__, NirInputError)
    assert "disagrees with the model's known shape" in str(err.value)
    with pytest.raises(PassFailedError, match="not inputs of the signature; its inputs are"):
        PassManager.parse('tf-batch-specialize{input-shapes="nope:1"}').run(_fresh(imported, "two_io")[0])


def test_batch_specialize_names_inputs_without_a_key_by_position():
    """An argument with no signature key (IR written by hand, a plug-in's function) is named
    `arg<i>` in input-shapes, and in the error listing the inputs."""
    text = """
builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%a: tensor<?x4xf32>, %b: tensor<?xf32>) -> (tensor<?x4xf32> {tf.output_key = "y"}) {
    %r, %r_c = "tf.Relu"(%a) {T = f32} : (tensor<?x4xf32>) -> (tensor<?x4xf32>, !tf.control)
    func.return %r : tensor<?x4xf32>
  }
}
"""
    module = parse_module(text)
    PassManager.parse('tf-batch-specialize{batch-size=2 input-shapes="arg1:7"}').run(module)
    assert [str(a.type) for a in entry_function(module).args] == ["tensor<2x4xf32>", "tensor<7xf32>"]
    with pytest.raises(PassFailedError) as err:
        PassManager.parse('tf-batch-specialize{input-shapes="b:7"}').run(parse_module(text))
    assert "input shapes given for ['b'], which are not inputs of the signature; its inputs are ['arg0', 'arg1']" in str(err.value)


def test_batch_specialize_never_touches_known_dimensions(imported):
    module, _ = _fresh(imported, "transformer")
    PassManager.parse("tf-batch-specialize{batch-size=3}").run(module)
    (arg,) = entry_function(module).args
    assert arg.type.get_shape() == (3, 16, 32)


@pytest.mark.parametrize("name", [*ZOO, "efficientnetb0", "convnext_tiny", "encoder", "lstm"])
def test_default_pipeline_places_every_op_with_a_reason(imported, name):
    from nir.ir.control_flow import graph_functions
    from nir.pipeline import default_pipeline

    module, _ = _fresh(imported, name)
    PassManager.parse(default_pipeline()).run(module)
    for fn in graph_functions(module):  # loop and branch bodies too
        for op in fn.body.block.ops:
            if isinstance(op, TFNodeOp):
                assert cpu_reason(op), f"{op.node_name} is on CPU without a reason"
                # Every sentence the passes write is of a known kind (the picture's legend, explain).
                assert CpuReason.of(cpu_reason(op)) is not CpuReason.OTHER, cpu_reason(op)
            elif isinstance(op, ClusterOp):
                for inner in op.block.ops:
                    assert not isinstance(inner, TFNodeOp) or is_on_target(inner)


def test_resnet50_is_one_cluster(imported):
    from nir.pipeline import default_pipeline

    module, _ = _fresh(imported, "resnet50")
    PassManager.parse(default_pipeline()).run(module)
    clusters = [op for op in entry_function(module).body.block.ops if isinstance(op, ClusterOp)]
    assert len(clusters) == 1
    inner = [o.tf_type for o in clusters[0].block.ops if isinstance(o, TFNodeOp)]
    assert inner.count("Conv2D") == 53 and inner.count("MatMul") == 1


def test_clustering_is_deterministic(imported):
    from nir.pipeline import default_pipeline

    texts = set()
    for _ in range(2):
        module, _ = _fresh(imported, "two_io")
        PassManager.parse(default_pipeline()).run(module)
        texts.add(print_module(module))
    assert len(texts) == 1


def test_legalize_rewrites_only_what_the_target_lacks():
    text = (
        'builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {\n'
        '  func.func @main(%x: tensor<2x3xf32> {tf.input_key = "x", tf.node_name = "x"}, %c: tensor<2x3xi1> {tf.input_key = "c", tf.node_name = "c"}) -> (tensor<2x3xf32> {tf.output_key = "y"}) {\n'
        '    %e, %e_c = "tf.Erfc"(%x) <{node_name = "erfc"}> {T = f32} : (tensor<2x3xf32>) -> (tensor<2x3xf32>, !tf.control)\n'
        '    %s, %s_c = "tf.SelectV2"(%c, %e, %x) <{node_name = "select"}> {T = f32} : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<2x3xf32>) -> (tensor<2x3xf32>, !tf.control)\n'
        '    %a, %a_c = "tf.AddV2"(%s, %x) <{node_name = "add"}> {T = f32} : (tensor<2x3xf32>, tensor<2x3xf32>) -> (tensor<2x3xf32>, !tf.control)\n'
        "    func.return %a : tensor<2x3xf32>\n  }\n}\n"
    )
    module = parse_module(text)
    PassManager.parse("tf-legalize").run(module)
    out = print_module(module)
    assert '"tf.Erfc"' not in out and '"tf.Erf"' in out and '"tf.Sub"' in out
    assert '"tf.SelectV2"' not in out and '"tf.Select"' in out
    assert '"tf.BroadcastTo"' not in out  # operands of one shape: Select as they are
    assert '"tf.AddV2"' in out  # the target has AddV2: nothing to rewrite
    # A table without BroadcastTo still takes a SelectV2 that does not broadcast, as Select.
    module = parse_module(text)
    PassManager.parse('tf-legalize{supported-op-types="Select","AddV2","Erf","Sub","Const"}').run(module)
    out = print_module(module)
    assert '"tf.SelectV2"' not in out and '"tf.Select"' in out


# --------------------------------------------------------------------------- property test

OP_CHOICES = ["Relu", "Tanh", "Add", "Softsign", "Sigmoid", "Mul", "Asinh"]  # Softsign, Asinh: not on the target


@st.composite
def random_dags(draw):
    """A random DAG of elementwise ops over one input, as IR text; some ops unsupported."""
    n = draw(st.integers(min_value=1, max_value=40))
    lines, values = [], ["%x"]
    for i in range(n):
        op = draw(st.sampled_from(OP_CHOICES))
        a = draw(st.sampled_from(values))
        if op in ("Add", "Mul"):
            b = draw(st.sampled_from(values))
            operands, types = f"{a}, {b}", "tensor<2xf32>, tensor<2xf32>"
        else:
            operands, types = a, "tensor<2xf32>"
        lines.append(
            f'    %v{i}, %c{i} = "tf.{op}"({operands}) <{{node_name = "n{i}"}}> {{T = f32}} : '
            f"({types}) -> (tensor<2xf32>, !tf.control)"
        )
        values.append(f"%v{i}")
    outputs = draw(st.lists(st.sampled_from(values[1:]), min_size=1, max_size=3, unique=True))
    result_types = ", ".join("tensor<2xf32>" for _ in outputs)
    res_attrs = ", ".join(f'tensor<2xf32> {{tf.output_key = "out{i}"}}' for i in range(len(outputs)))
    return (
        'builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {\n'
        f'  func.func @main(%x: tensor<2xf32> {{tf.input_key = "x", tf.node_name = "x"}}) -> ({res_attrs}) {{\n'
        + "\n".join(lines)
        + f"\n    func.return {', '.join(outputs)} : {result_types}\n  }}\n}}\n"
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_dags())
def test_clustering_random_dags(text):
    import numpy as np
    import tensorflow as tf

    reference = parse_module(text)
    module = parse_module(text)
    PassManager.parse("tf-legalize,tf-cluster{minimum-segment-size=1}").run(module)  # verifies after each pass
    fn = entry_function(module)
    seen = set()
    for op in fn.body.block.ops:
        if isinstance(op, ClusterOp):
            for inner in op.block.ops:
                if isinstance(inner, TFNodeOp):
                    assert is_on_target(inner) and inner.node_name not in seen
                    seen.add(inner.node_name)
    # Dominance in a single block == no cycles between clusters: every operand defined earlier.
    defined = set(fn.args)
    for op in fn.body.block.ops:
        assert all(v in defined for v in op.operands)
        defined.update(op.results)

    def run(m):
        graph_def, signature = export_module(m)
        graph = tf.Graph()
        with graph.as_default():
            tf.graph_util.import_graph_def(graph_def, name="")
            with tf.compat.v1.Session(graph=graph) as session:
                return session.run([s.tensor_name for s in signature.outputs], {"x:0": np.array([0.5, -1.5], np.float32)})

    for a, b in zip(run(reference), run(module)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("kind", [k for k in CpuReason if k.marker is not None])
def test_each_kind_of_cpu_reason_is_recognized_by_its_own_words(kind):
    assert CpuReason.of(f"x {kind.marker} y") is kind



def test_a_broadcasting_select_v2_becomes_select_of_broadcasts_with_the_same_answers():
    """A mask [2, 1] over [2, 4] and a scalar branch: SelectV2, which inf1's table lacks,
    becomes Select of BroadcastTo's, which it has, and the graph answers as before. The shape
    broadcast to is x's, read at run time: a constant [2, 4] would fail at another batch (the
    masked seq2seq model, compiled at batch 1 and run at batch 4, showed it)."""
    import numpy as np


    text = (
        'builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {\n'
        '  func.func @main(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}, %m: tensor<2x1xi1> {tf.input_key = "m", tf.node_name = "m"}) -> (tensor<2x4xf32> {tf.output_key = "y"}) {\n'
        '    %zero, %zero_c = "tf.Const"() {dtype = f32, value = #tf.tensor<tensor<f32>, [0.0]>} : () -> (tensor<f32>, !tf.control)\n'
        '    %masked, %masked_c = "tf.SelectV2"(%m, %x, %zero) {T = f32} : (tensor<2x1xi1>, tensor<2x4xf32>, tensor<f32>) -> (tensor<2x4xf32>, !tf.control)\n'
        '    %y, %y_c = "tf.Tanh"(%masked) {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)\n'
        "    func.return %y : tensor<2x4xf32>\n  }\n}\n"
    )

    def answers(module):
        return run_y(module, {"x:0": np.arange(8, dtype=np.float32).reshape(2, 4) - 3, "m:0": np.array([[True], [False]])})

    before = answers(parse_module(text))
    module = parse_module(text)
    PassManager.parse("tf-legalize").run(module)
    out = print_module(module)
    assert '"tf.SelectV2"' not in out
    assert out.count('"tf.BroadcastTo"') == 2 and '%masked, %masked_c = "tf.Select"' in out
    assert '%masked.result_shape, %masked.result_shape_c = "tf.Shape"(%x)' in out
    assert out.count('"tf.BroadcastTo"(%m, %masked.result_shape)') == 1
    assert out.count('"tf.BroadcastTo"(%zero, %masked.result_shape)') == 1
    np.testing.assert_array_equal(answers(module), before)


@pytest.mark.parametrize("keep_dims", ["false", "true"])
def test_any_becomes_not_all_not_with_the_same_answers(keep_dims):
    """Any, which inf1's table lacks (a Keras Masking layer's mask), becomes LogicalNot(All(
    LogicalNot(x))) over the same axes, which it has, and answers as before."""
    import numpy as np


    out_type = "tensor<3x1xi1>" if keep_dims == "true" else "tensor<3xi1>"
    text = (
        'builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {\n'
        '  func.func @main(%x: tensor<3x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (' + out_type + ' {tf.output_key = "y"}) {\n'
        '    %zero, %zero_c = "tf.Const"() {dtype = f32, value = #tf.tensor<tensor<f32>, [0.0]>} : () -> (tensor<f32>, !tf.control)\n'
        '    %axis, %axis_c = "tf.Const"() {dtype = i32, value = #tf.tensor<tensor<1xi32>, [1]>} : () -> (tensor<1xi32>, !tf.control)\n'
        '    %ne, %ne_c = "tf.NotEqual"(%x, %zero) {T = f32, incompatible_shape_error = true} : (tensor<3x4xf32>, tensor<f32>) -> (tensor<3x4xi1>, !tf.control)\n'
        f'    %y, %y_c = "tf.Any"(%ne, %axis) {{Tidx = i32, keep_dims = {keep_dims}}} : (tensor<3x4xi1>, tensor<1xi32>) -> ({out_type}, !tf.control)\n'
        f"    func.return %y : {out_type}\n  }}\n}}\n"
    )

    def answers(module):
        return run_y(module, {"x:0": np.array([[0, 0, 0, 0], [0, 1, 0, 0], [2, 3, 4, 5]], np.float32)})

    module = parse_module(text)
    PassManager.parse("tf-legalize").run(module)
    out = print_module(module)
    assert '"tf.Any"' not in out and out.count('"tf.LogicalNot"') == 2 and out.count('"tf.All"') == 1
    expected = answers(parse_module(text))
    np.testing.assert_array_equal(expected.reshape(-1), [False, True, True])
    np.testing.assert_array_equal(answers(module), expected)


@pytest.mark.parametrize(("indices", "axis", "slices"), [
    ("tensor<i32>, [1]", 1, 1),  # one index on axis 1: a slice that drops the axis
    ("tensor<2xi32>, [1, 2]", 0, 1),  # a run of indices: a slice that keeps it
    ("tensor<i32>, [2]", -1, 1),  # a negative axis counts from the end
    ("tensor<2xi32>, [2, 0]", 0, 0),  # not a run: stays a gather
    ("tensor<2xi32>, [0, 2]", 0, 0),  # increasing, but with a gap: stays a gather
    ("tensor<2xi32>, [2, 3]", 0, 0),  # past the end: stays a gather, which fails at run time as it should
])
def test_a_gather_at_constant_indices_becomes_a_strided_slice_with_the_same_answers(indices, axis, slices):
    import numpy as np


    index_type, literal = indices.split(", ", 1)
    text = (
        'builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {\n'
        '  func.func @main(%x: tensor<3x3x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<*xf32> {tf.output_key = "y"}) {\n'
        f'    %i, %i_c = "tf.Const"() {{dtype = i32, value = #tf.tensor<{index_type}, {literal}>}} : () -> ({index_type}, !tf.control)\n'
        f'    %a, %a_c = "tf.Const"() {{dtype = i32, value = #tf.tensor<tensor<i32>, [{axis}]>}} : () -> (tensor<i32>, !tf.control)\n'
        f'    %g, %g_c = "tf.GatherV2"(%x, %i, %a) {{Taxis = i32, Tindices = i32, Tparams = f32, batch_dims = 0 : i64}} : (tensor<3x3x4xf32>, {index_type}, tensor<i32>) -> (tensor<*xf32>, !tf.control)\n'
        '    %y, %y_c = "tf.Tanh"(%g) {T = f32} : (tensor<*xf32>) -> (tensor<*xf32>, !tf.control)\n'
        "    func.return %y : tensor<*xf32>\n  }\n}\n"
    )

    def answers(module):
        return run_y(module, {"x:0": np.arange(36, dtype=np.float32).reshape(3, 3, 4) / 10})

    module = parse_module(text)
    PassManager.parse("tf-shape-inference,tf-legalize").run(module)
    out = print_module(module)
    assert out.count('"tf.StridedSlice"') == slices and out.count('"tf.GatherV2"') == 1 - slices
    if "[2, 3]" not in literal:
        np.testing.assert_array_equal(answers(module), answers(parse_module(text)))


@pytest.mark.parametrize(("element_shape", "message"), [
    ("tensor<1x2xi32>, [1, 2]", "element_shape must be at most rank 1"),
    ("tensor<i32>, [5]", r"a scalar element_shape must be -1 \(unknown rank\), not 5"),
    ("tensor<i32>, [1]", r"a scalar element_shape must be -1 \(unknown rank\), not 1"),
    ("tensor<i32>, [-1]", None),  # unknown rank: accepted
    ("tensor<1xi32>, [4]", None),  # each element a [4]
])
def test_tensor_list_element_shapes_are_checked_as_tensorflow_checks_them(element_shape, message):
    """nir follows TensorList element shapes itself, so TensorFlow's shape functions never see
    these ops: what they refuse is refused here (found by the verifier's oracle on an LSTM)."""
    type_text, literal = element_shape.split(", ", 1)
    text = (
        'builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {\n'
        '  func.func @main(%x: tensor<3x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<3x4xf32> {tf.output_key = "y"}) {\n'
        f'    %es, %es_c = "tf.Const"() {{dtype = i32, value = #tf.tensor<{type_text}, {literal}>}} : () -> ({type_text}, !tf.control)\n'
        '    %l, %l_c = "tf.TensorListFromTensor"(%x, %es) {element_dtype = f32, shape_type = i32} : (tensor<3x4xf32>, '
        f'{type_text}) -> (tensor<!tf.dtype<"variant">>, !tf.control)\n'
        "    func.return %x : tensor<3x4xf32>\n  }\n}\n"
    )
    if message is None:
        PassManager.parse("tf-shape-inference").run(parse_module(text))
        return
    with pytest.raises(PassFailedError, match=message):
        PassManager.parse("tf-shape-inference").run(parse_module(text))


def test_an_op_tensorflow_cannot_build_keeps_an_unknown_shape_and_says_why(caplog):
    """A plug-in's op type is unknown to TensorFlow: its shape stays unknown, the ops after it are
    still inferred, and the debug log names the op and TensorFlow's reason."""
    import logging

    from nir.ir.op_facts import declare_op_type

    declare_op_type("MyLabScale", stateful=False)
    module = parse_module("""
builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%x: tensor<2x3xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<*xf32> {tf.output_key = "y"}, tensor<*xf32> {tf.output_key = "z"}) {
    %s, %s_c = "tf.MyLabScale"(%x) <{node_name = "lab/scale"}> {T = f32} : (tensor<2x3xf32>) -> (tensor<*xf32>, !tf.control)
    %r, %r_c = "tf.Relu"(%x) <{node_name = "relu"}> {T = f32} : (tensor<2x3xf32>) -> (tensor<*xf32>, !tf.control)
    func.return %s, %r : tensor<*xf32>, tensor<*xf32>
  }
}
""")
    with caplog.at_level(logging.DEBUG, logger="nir"):
        fallbacks = infer_shapes(module)
    ops = {op.node_name: op for op in entry_function(module).body.block.ops if isinstance(op, TFNodeOp)}
    assert str(ops["lab/scale"].data_results[0].type) == "tensor<*xf32>"
    assert str(ops["relu"].data_results[0].type) == "tensor<2x3xf32>"
    assert fallbacks == {"MyLabScale": 1}
    (failed,) = [r.getMessage() for r in caplog.records if "shape inference failed" in r.getMessage()]
    assert failed.startswith("TensorFlow shape inference failed for lab/scale: ") and "MyLabScale" in failed, failed


def test_functions_named_at_any_depth_of_an_attribute_are_counted():
    """A function named inside another `#tf.func`'s attributes (or a list of them) is referred
    to: passes that rewrite a function only when one op refers to it must see every reference."""
    from nir.ir.control_flow import reference_counts

    fn = ('  func.func private @{name}(%a: tensor<f32>) -> tensor<f32> {{\n'
          "    func.return %a : tensor<f32>\n  }}\n")
    module = parse_module(
        'builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {\n'
        '  func.func @main(%x: tensor<f32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<f32> {tf.output_key = "y"}) {\n'
        '    %c, %c_c = "tf.PartitionedCall"(%x) <{node_name = "call"}> {Tin = #tf.list<[f32]>, Tout = #tf.list<[f32]>, '
        'f = #tf.func<@outer, {inner = #tf.func<@inner, {}>, more = #tf.list<[#tf.func<@listed, {}>]>}>, '
        'config = "", config_proto = "", executor_type = ""} : (tensor<f32>) -> (tensor<f32>, !tf.control)\n'
        '    %d, %d_c = "tf.inner"(%c) <{node_name = "direct"}> : (tensor<f32>) -> (tensor<f32>, !tf.control)\n'
        "    func.return %d : tensor<f32>\n  }\n"
        + "".join(fn.format(name=n) for n in ("outer", "inner", "listed", "unused")) + "}\n")
    counts = reference_counts(module)
    assert dict(counts) == {"outer": 1, "inner": 2, "listed": 1}


REFUSED_ARITHMETIC = """
builtin.module attributes {tf.signature = "refused_arithmetic", tf.tags = ["serve"]} {
  func.func @refused_arithmetic(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x", nir.batch_axis = 0 : i64}) -> (tensor<i32> {tf.output_key = "q"}) {
    %shape, %shape_c = "tf.Shape"(%x) <{node_name = "shape"}> {T = f32, out_type = i32} : (tensor<2x4xf32>) -> (tensor<2xi32>, !tf.control)
    %begin, %begin_c = "tf.Const"() <{node_name = "begin"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [0]>} : () -> (tensor<1xi32>, !tf.control)
    %end, %end_c = "tf.Const"() <{node_name = "end"}> {dtype = i32, value = #tf.tensor<tensor<1xi32>, [1]>} : () -> (tensor<1xi32>, !tf.control)
    %b, %b_c = "tf.StridedSlice"(%shape, %begin, %end, %end) <{node_name = "batch"}> {T = i32, Index = i32, begin_mask = 0 : i64, end_mask = 0 : i64, ellipsis_mask = 0 : i64, new_axis_mask = 0 : i64, shrink_axis_mask = 1 : i64} : (tensor<2xi32>, tensor<1xi32>, tensor<1xi32>, tensor<1xi32>) -> (tensor<i32>, !tf.control)
    %two, %two_c = "tf.Const"() <{node_name = "two"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [2]>} : () -> (tensor<i32>, !tf.control)
    %d, %d_c = "tf.Sub"(%b, %two) <{node_name = "d"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    %eight, %eight_c = "tf.Const"() <{node_name = "eight"}> {dtype = i32, value = #tf.tensor<tensor<i32>, [8]>} : () -> (tensor<i32>, !tf.control)
    %q, %q_c = "tf.FloorDiv"(%eight, %d) <{node_name = "q"}> {T = i32} : (tensor<i32>, tensor<i32>) -> (tensor<i32>, !tf.control)
    func.return %q : tensor<i32>
  }
}
"""


@pytest.mark.parametrize(("pipeline", "what"), [
    ("tf-constant-fold", "the constant subgraph"),
    ("tf-shape-inference,tf-constant-fold{dynamic-batch=true}", "shape arithmetic"),
])
def test_arithmetic_tensorflow_refuses_folds_nothing_and_the_warning_says_why(caplog, pipeline, what):
    """TensorFlow's error starts "Graph execution error:" and gives the kernel's reason after
    the Python stack that defined the node; the warning quotes the reason and the node."""
    import logging

    module = parse_module(REFUSED_ARITHMETIC)
    with caplog.at_level(logging.WARNING, logger="nir"):
        PassManager.parse(pipeline).run(module)
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("constant-fold: ")]
    assert len(warnings) == 1 and f"could not evaluate {what} (Integer division by zero, at node 'q')" in warnings[0]
    types = [op.tf_type for op in entry_function(module).body.block.ops if isinstance(op, TFNodeOp)]
    assert types[-3:] == ["Sub", "Const", "FloorDiv"], types


def test_an_error_without_a_node_is_summed_up_by_its_first_line():
    from passes.constant_fold import why_tensorflow_refused

    assert why_tensorflow_refused(ValueError("\n  first line\nsecond")) == "first line"
    assert why_tensorflow_refused(ValueError("")) == "ValueError"
