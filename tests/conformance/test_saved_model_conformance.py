"""Facts the original tensorflow-neuron's saved_model tests assert of `saved_model.compile`,
checked on nir with nir's own tests (issue 21 is not finished: this file holds the behaviours
nir already shares with the original; the README's conformance table lists the rest)."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from original_graphs import conv_add_graph, run_v1  # noqa: E402

import nir  # noqa: E402


def test_version_is_exposed():
    assert isinstance(nir.__version__, str) and nir.__version__


def test_must_compile_failure_is_a_value_error(zoo, tmp_path, monkeypatch):
    """Code written for the original catches ValueError when --must-compile fails."""
    monkeypatch.setenv("NEURON_CC_FLAGS", "--must-compile")
    monkeypatch.setenv("PATH", str(tmp_path))  # no neuron-cc anywhere
    with pytest.raises(ValueError, match="strict mode: neuron-cc is not installed"), pytest.warns(UserWarning):
        nir.saved_model.compile(zoo["two_io"], str(tmp_path / "out"), progress=False)
    assert not (tmp_path / "out").exists()


def test_feeds_are_cast_as_a_session_casts_them(zoo, tmp_path, fake_neuron_cc):
    """A float64 array for a float32 input (and int64 for int32) only gives the shape, as a
    Session feed of it would be cast."""
    loaded = tf.saved_model.load(zoo["two_io"]).signatures["serving_default"]
    _, specs = loaded.structured_input_signature
    feed = {
        key: np.zeros([3, *spec.shape[1:]], np.float64 if spec.dtype.is_floating else np.int64)
        for key, spec in specs.items()
    }
    report = nir.saved_model.compile(zoo["two_io"], str(tmp_path / "out"), model_feed_dict=feed,
                                     neuron_cc=fake_neuron_cc, progress=False)
    assert report["NumCompiledClusters"] == 1
    (neuron_op,) = [n for n in nir.load(str(tmp_path / "out")).neuron_graph_def.node if n.op == "NeuronOp"]
    assert {shape.dim[0].size for shape in neuron_op.attr["input_shapes"].list.shape} == {3}  # the feeds' batch


def string_length_model(path: str) -> None:
    class Lengths(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentence")])
        def __call__(self, sentence):
            lengths = tf.cast(tf.strings.length(sentence), tf.float32)
            return {"score": tf.nn.relu(lengths * 2.0 + 1.0) * 3.0}

    tf.saved_model.save(Lengths(), path)


def test_bytes_feed_for_a_string_input(tmp_path):
    """A numpy bytes array (|S25) feeds a string input, as a Session takes it."""
    model = str(tmp_path / "strings")
    string_length_model(model)
    sentences = np.array([b"the quick brown fox jumps", b"over the lazy dog"], dtype="S25")
    with pytest.warns(UserWarning):
        report = nir.saved_model.compile(model, str(tmp_path / "out"), model_feed_dict={"sentence": sentences},
                                         progress=False)
    assert report["NumClusters"] == 1
    serve = tf.saved_model.load(str(tmp_path / "out")).signatures["serving_default"]
    np.testing.assert_allclose(serve(sentence=tf.constant(sentences))["score"], [153.0, 105.0])


def tf1_while_loop_model(path: str, kernel: np.ndarray, iterations: int) -> None:
    """The original's tfv1_while_loop_test graph: a TF1 `while_loop` in v1 control flow
    (Enter/Merge/Switch/NextIteration/Exit), its body a MatMul and a Relu."""
    from tensorflow.python.ops import control_flow_util

    previous = control_flow_util.ENABLE_CONTROL_FLOW_V2
    control_flow_util.ENABLE_CONTROL_FLOW_V2 = False
    try:
        graph = tf.Graph()
        with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
            x = tf.compat.v1.placeholder(tf.float32, kernel.shape, name="input0")

            def body(t):
                return tf.nn.relu(tf.matmul(t, tf.constant(kernel, name="kernel0"), transpose_a=True))

            y = tf.compat.v1.while_loop(lambda t: True, body, [x], maximum_iterations=iterations)
            assert any(op.type == "NextIteration" for op in graph.get_operations())
            tf.compat.v1.saved_model.simple_save(session, path, {"input0": x}, {"output0": y})
    finally:
        control_flow_util.ENABLE_CONTROL_FLOW_V2 = previous


def test_tf1_while_loop_compiles_and_answers(tmp_path, fake_neuron_cc):
    """v1 loops compile and answer as before. The original clustered the loop body inside the
    frame; nir keeps a v1 loop on CPU, each op with its reason (functional loops, as TF2 and
    Keras write them, do get clusters in their bodies)."""
    rng = np.random.default_rng(0)
    kernel = rng.uniform(-0.1, 0.1, [8, 8]).astype(np.float32)
    model, out = str(tmp_path / "loop"), str(tmp_path / "out")
    tf1_while_loop_model(model, kernel, 5)
    with pytest.warns(UserWarning, match="the pipeline produced no cluster"):
        report = nir.saved_model.compile(model, out, neuron_cc=fake_neuron_cc, progress=False)
    assert report["NumClusters"] == 0
    feed = rng.uniform(-1, 1, [8, 8]).astype(np.float32)
    expected = feed
    for _ in range(5):
        expected = np.maximum(expected.T @ kernel, 0)
    serve = tf.saved_model.load(out).signatures["serving_default"]
    np.testing.assert_allclose(serve(input0=tf.constant(feed))["output0"], expected, rtol=1e-5, atol=1e-6)
    from nir.explain import explain_module
    from nir.pipeline import default_pipeline

    module = nir.import_saved_model(model)[0]
    nir.PassManager.parse(default_pipeline()).run(module)
    reasons = {row["op_type"]: row["reason"] for row in explain_module(module)["cpu"]}
    assert "MatMul" in reasons and "Enter" in reasons


def test_compile_is_isolated_from_the_callers_graph(zoo, tmp_path):
    """The same bytes out in eager mode, inside `with tf.Graph().as_default(), tf.Session()`
    (TF1 style) and after `disable_eager_execution()` (in a process of its own: it is global)."""
    import subprocess
    import sys
    import textwrap

    from zoo import tree_digest

    eager, in_graph, v1 = (str(tmp_path / name) for name in ("eager", "in_graph", "v1"))
    with pytest.warns(UserWarning):
        nir.saved_model.compile(zoo["two_io"], eager, progress=False)
    with tf.Graph().as_default(), tf.compat.v1.Session(), pytest.warns(UserWarning):
        nir.saved_model.compile(zoo["two_io"], in_graph, progress=False)
    script = textwrap.dedent(f"""
        import tensorflow as tf, nir
        tf.compat.v1.disable_eager_execution()
        nir.saved_model.compile({zoo["two_io"]!r}, {v1!r}, progress=False)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    assert tree_digest(eager) == tree_digest(in_graph) == tree_digest(v1)
    assert sorted(tree_digest(eager)) == ["saved_model.pb", "variables/variables.data-00000-of-00001",
                                          "variables/variables.index"]


def tf1_model_fed_in_the_middle(path: str) -> dict:
    """A TF1 graph whose signature feeds an Identity, a mid-graph Relu and the second output
    of a Split: a Session feeds any tensor. Returns {key: tensor name} of the inputs."""
    rng = np.random.default_rng(1)
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        x = tf.compat.v1.placeholder(tf.float32, [1, 8], name="x")
        fed_identity = tf.identity(x, name="x_identity")
        relu0 = tf.nn.relu(tf.matmul(fed_identity, tf.constant(rng.standard_normal((8, 8)), tf.float32)), name="relu0")
        left, right = tf.split(tf.nn.tanh(relu0, name="tanh0"), 2, axis=1, name="split0")
        out = tf.nn.sigmoid(tf.matmul(tf.concat([left, right * 2.0], 1), tf.constant(rng.standard_normal((8, 4)), tf.float32)))
        inputs = {"identity": fed_identity, "middle": relu0, "second": right}
        tf.compat.v1.saved_model.simple_save(session, path, inputs, {"y": out})
        return {k: v.name for k, v in inputs.items()}


def test_signature_inputs_in_the_middle_of_the_graph(tmp_path, fake_neuron_cc):
    """The original cuts the graph at signature inputs that are not Placeholders; so does nir:
    what is fed replaces what computed it, and the answers are the Session's."""
    model, out = str(tmp_path / "middle"), str(tmp_path / "out")
    names = tf1_model_fed_in_the_middle(model)
    report = nir.saved_model.compile(model, out, neuron_cc=fake_neuron_cc, progress=False)
    assert report["NumCompiledClusters"] == report["NumClusters"] == 1
    rng = np.random.default_rng(2)
    feeds = {"identity": rng.standard_normal((1, 8)), "middle": rng.standard_normal((1, 8)),
             "second": rng.standard_normal((1, 4))}
    feeds = {k: v.astype(np.float32) for k, v in feeds.items()}
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], model)
        expected = session.run(meta.signature_def["serving_default"].outputs["y"].name,
                               {names[k]: v for k, v in feeds.items()})
    # Every input keeps its tensor name, the second output of the Split included.
    from frontends.tensorflow.loader import read_saved_model_proto

    signature = read_saved_model_proto(out).meta_graphs[0].signature_def["serving_default"]
    assert {k: v.name for k, v in signature.inputs.items()} == names
    inline = str(tmp_path / "inline")
    nir.saved_model.inline_neuron_ops(out, inline)
    # A TF1 Session, as the original's predictor: TF2's loader cannot prune a graph fed at one
    # output of a Split whose other output is computed (it refuses the input model the same way).
    np.testing.assert_allclose(run_v1(inline, feeds)["y"], expected, rtol=1e-5)


def save_conv_add_model(path: str, rng) -> None:
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        inputs, outputs = conv_add_graph(rng)
        tf.compat.v1.saved_model.simple_save(session, path, inputs, outputs)


def assert_same_answers(original: str, inlined: str, feeds: dict, tags=("serve",), key="serving_default") -> None:
    """The inlined compiled model answers as the original, through a TF1 Session."""
    expected, actual = run_v1(original, feeds, tags, key), run_v1(inlined, feeds, tags, key)
    assert sorted(actual) == sorted(expected)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("with_feed_dict", [False, True], ids=["batch_size", "model_feed_dict"])
def test_simple_save_model_becomes_five_ops(tmp_path, fake_neuron_cc, with_feed_dict):
    """saved_model_test's TestConvertToInferenceModel: the compiled graph has 5 ops, the two
    inputs, one NeuronOp (third) and the outputs relu0 and relu1 under their own names."""
    rng = np.random.default_rng(15213)
    model, out, inline = (str(tmp_path / name) for name in ("model", "out", "inline"))
    save_conv_add_model(model, rng)
    feeds = {k: rng.uniform(-1, 1, [1, 2, 2, 3]).astype(np.float16) for k in ("x0", "x1")}
    options = {"model_feed_dict": feeds} if with_feed_dict else {}
    nir.saved_model.compile(model, out, neuron_cc=fake_neuron_cc, progress=False, **options)
    compiled = nir.load(out).neuron_graph_def
    assert len(compiled.node) == 5
    assert compiled.node[2].op == "NeuronOp" and compiled.node[2].attr["executable"].s
    assert sorted(n.name for n in compiled.node if n.op != "NeuronOp") == ["input0", "input1", "relu0", "relu1"]
    nir.saved_model.inline_neuron_ops(out, inline)
    assert_same_answers(model, inline, feeds)


def test_multiple_tags_and_signatures(tmp_path, fake_neuron_cc):
    """saved_model_test's test_multi_tags_multi_sigdefs: a SavedModel with tag sets {serve, gpu}
    and {tpu, gpu}, three signatures (one with its inputs' keys flipped), each compiled on its
    own; the output keeps the tags and the signature key, and answers as the original."""
    rng = np.random.default_rng(15213)
    model = str(tmp_path / "model")
    info = tf.compat.v1.saved_model.utils.build_tensor_info
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        (inputs, outputs) = conv_add_graph(rng)
        input2 = tf.compat.v1.placeholder(tf.float16, [None, 2, 2, 3], name="input2")
        output2 = tf.identity(tf.nn.relu(tf.add(input2, outputs["y1"])), name="output2")
        signatures = {
            "sigdef0": ({"input0": inputs["x0"], "input1": inputs["x1"]}, {"output0": outputs["y0"], "output1": outputs["y1"]}),
            "sigdef1": ({"input2": inputs["x0"], "input1": inputs["x1"], "input0": input2},
                        {"output0": output2, "output2": outputs["y0"]}),
            "sigdef2": ({"input0": inputs["x0"], "input2": input2, "input1": inputs["x1"]},
                        {"output2": output2, "output1": outputs["y1"]}),
        }
        defs = {
            key: tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
                {k: info(v) for k, v in ins.items()}, {k: info(v) for k, v in outs.items()}, f"method_{key}")
            for key, (ins, outs) in signatures.items()
        }
        builder = tf.compat.v1.saved_model.builder.SavedModelBuilder(model)
        builder.add_meta_graph_and_variables(session, ["serve", "gpu"], signature_def_map=defs, strip_default_attrs=True)
        builder.add_meta_graph(["tpu", "gpu"], signature_def_map={"sigdef2": defs["sigdef2"]}, strip_default_attrs=True)
        builder.save()
    for key, (ins, _) in signatures.items():
        feeds = {k: rng.uniform(-1, 1, [1, 2, 2, 3]).astype(np.float16) for k in ins}
        out, inline = str(tmp_path / f"out_{key}"), str(tmp_path / f"inline_{key}")
        report = nir.saved_model.compile(model, out, tags="serve,gpu", signature_def_key=key, model_feed_dict=feeds,
                                         neuron_cc=fake_neuron_cc, progress=False)
        assert report["NumCompiledClusters"] == report["NumClusters"] >= 1
        nir.saved_model.inline_neuron_ops(out, inline)
        assert_same_answers(model, inline, feeds, ("serve", "gpu"), key)


def test_a_single_convolution_gets_its_neuron_op(tmp_path, fake_neuron_cc):
    """minimum_segment_size counts constants, as the original does: one Conv2D and its filter
    are a segment of 2, so the default minimum of 2 compiles it."""
    model, out = str(tmp_path / "conv"), str(tmp_path / "out")
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        x = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3], name="x")
        kernel = np.random.default_rng(3).uniform(-1, 1, [3, 3, 3, 4]).astype(np.float32)
        y = tf.nn.conv2d(x, kernel, strides=[1, 1, 1, 1], padding="SAME", name="conv0")
        tf.compat.v1.saved_model.simple_save(session, model, {"x": x}, {"y": y})
    report = nir.saved_model.compile(model, out, neuron_cc=fake_neuron_cc, progress=False)
    assert report["NumCompiledClusters"] == report["NumClusters"] == 1
    ops = [n.op for n in nir.load(out).neuron_graph_def.node]
    assert ops == ["Placeholder", "NeuronOp", "Identity"]  # the Identity keeps the name conv0


def test_dynamic_batch_with_shapes_from_model_feed_dict(tmp_path, fake_neuron_cc):
    """dynamic_batch_size holds when the shapes come from model_feed_dict: batch axes 0 on the
    NeuronOp, and the inputs' Placeholders take any batch, so a TF1 Session feeds batch 5 to a
    model compiled at batch 3."""
    rng = np.random.default_rng(5)
    model, out, inline = (str(tmp_path / name) for name in ("model", "out", "inline"))
    save_conv_add_model(model, rng)
    feeds = {k: rng.uniform(-1, 1, [3, 2, 2, 3]).astype(np.float16) for k in ("x0", "x1")}
    nir.saved_model.compile(model, out, model_feed_dict=feeds, dynamic_batch_size=True, neuron_cc=fake_neuron_cc,
                            progress=False)
    compiled = nir.load(out).neuron_graph_def
    (neuron_op,) = [n for n in compiled.node if n.op == "NeuronOp"]
    assert set(neuron_op.attr["input_batch_axis"].list.i) == set(neuron_op.attr["output_batch_axis"].list.i) == {0}
    assert [n.attr["shape"].shape.dim[0].size for n in compiled.node if n.op == "Placeholder"] == [-1, -1]
    nir.saved_model.inline_neuron_ops(out, inline)
    bigger = {k: rng.uniform(-1, 1, [5, 2, 2, 3]).astype(np.float16) for k in ("x0", "x1")}
    assert_same_answers(model, inline, bigger)


def test_simple_save_compiles_a_session(tmp_path, fake_neuron_cc):
    """saved_model_test's TestSimpleSave: tfn.saved_model.simple_save writes a compiled model
    that answers as tf's simple_save of the same session; feed_dict keyed by tensor works."""
    rng = np.random.default_rng(15213)
    reference, compiled, inline = (str(tmp_path / name) for name in ("reference", "compiled", "inline"))
    feeds = {k: rng.uniform(-1, 1, [1, 2, 2, 3]).astype(np.float16) for k in ("x0", "x1")}
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        inputs, outputs = conv_add_graph(rng)
        tf.compat.v1.saved_model.simple_save(session, reference, inputs, outputs)
        report = nir.saved_model.simple_save(session, compiled, inputs, outputs, neuron_cc=fake_neuron_cc,
                                             feed_dict={inputs[k]: v for k, v in feeds.items()}, progress=False)
    assert report["NumCompiledClusters"] == report["NumClusters"] == 1
    nir.saved_model.inline_neuron_ops(compiled, inline)
    assert_same_answers(reference, inline, feeds)
    with pytest.raises(nir.NirInputError, match="already exists"):
        nir.saved_model.simple_save(session, compiled, inputs, outputs)


def string_lookup_model(path: str) -> None:
    import keras

    sentence = keras.Input((1,), dtype="string", name="sentence")
    ids = keras.layers.StringLookup(vocabulary=["the", "quick", "brown", "fox"])(sentence)
    hidden = keras.layers.Flatten()(keras.layers.Embedding(6, 4)(ids))
    keras.Model(sentence, keras.layers.Dense(2)(hidden)).export(path, verbose=False)


def test_main_op_and_lookup_tables_survive(tmp_path, fake_neuron_cc):
    """A Keras model with a StringLookup fills its table in the SavedModel's main op. The
    original re-attached it; so does nir: the compiled model, inlined, answers through TF2's
    loader and TF1's, and nir.load runs the main op first (in a fresh process, where no other
    model has filled a table of the same shared name)."""
    import subprocess
    import sys
    import textwrap

    model, out, inline = (str(tmp_path / name) for name in ("text", "out", "inline"))
    string_lookup_model(model)
    nir.saved_model.compile(model, out, neuron_cc=fake_neuron_cc, progress=False)
    script = textwrap.dedent(f"""
        import tensorflow as tf, nir
        print(nir.load({out!r})(sentence=tf.constant([["fox"]]))["output_0"].numpy().tolist())
    """)
    loaded = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    nir.saved_model.inline_neuron_ops(out, inline)
    words = tf.constant([["fox"], ["the"], ["unknown"]])
    expected = tf.saved_model.load(model).signatures["serving_default"](sentence=words)["output_0"].numpy()
    actual = tf.saved_model.load(inline).signatures["serving_default"](sentence=words)["output_0"].numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-6)
    np.testing.assert_allclose(eval(loaded.stdout.strip().splitlines()[-1]), expected[:1], rtol=1e-6)
    v1 = run_v1(inline, {"sentence": np.array([[b"the"]])})  # compiled at batch 1: its Placeholder says so
    np.testing.assert_allclose(v1["output_0"], expected[1:2], rtol=1e-6)


def test_convert_constants_to_variables_with_the_originals_threshold(tmp_path):
    """compile takes the original's convert_constants_to_variables and constant_size_to_exclude
    (elements): CPU constants of more elements become variables; fewer stay constants."""
    model = str(tmp_path / "model")
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        x = tf.compat.v1.placeholder(tf.float32, [1, 64], name="x")
        big = tf.constant(np.ones([64, 64], np.float32), name="big")  # 4096 elements
        small = tf.constant(np.ones([64], np.float32), name="small")  # 64 elements, 256 bytes
        y = tf.strings.as_string(tf.matmul(x, big) + small)  # a string output keeps them on CPU
        tf.compat.v1.saved_model.simple_save(session, model, {"x": x}, {"y": y})

    def variables_of(out: str) -> set[str]:
        from frontends.tensorflow.loader import read_saved_model_proto

        graph_def = read_saved_model_proto(out).meta_graphs[0].graph_def
        return {n.name for n in graph_def.node if n.op == "VarHandleOp"}

    with pytest.warns(UserWarning):
        nir.saved_model.compile(model, str(tmp_path / "default"), progress=False)
        nir.saved_model.compile(model, str(tmp_path / "by_elements"), progress=False,
                                convert_constants_to_variables=True, constant_size_to_exclude=10)
    assert variables_of(str(tmp_path / "default")) == {"big/nir_variable"}
    assert variables_of(str(tmp_path / "by_elements")) == {"big/nir_variable", "small/nir_variable"}
    with pytest.raises(nir.NirInputError, match="constant_size_to_exclude"):
        nir.saved_model.compile(model, str(tmp_path / "bad"), convert_constants_to_variables=True,
                                constant_size_to_exclude=-1)


def nchw_model(path: str, rng) -> np.ndarray:
    """graph_util_test's conv2d_nchw, in float16, with an NCHW AvgPool after it: the CPU's
    AvgPool kernel refuses NCHW. Returns the kernel."""
    kernel = rng.uniform(-1, 1, size=[1, 1, 3, 3]).astype(np.float16)
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        x = tf.compat.v1.placeholder(tf.float16, [1, 3, 4, 4], name="input0")
        conv = tf.nn.conv2d(x, kernel, strides=[1, 1, 1, 1], padding="VALID", data_format="NCHW", name="conv2d0")
        pooled = tf.nn.avg_pool2d(tf.nn.relu(conv, name="relu0"), 2, 2, "VALID", data_format="NCHW", name="pool0")
        tf.compat.v1.saved_model.simple_save(session, path, {"x": x}, {"y": pooled})
    return kernel


def nhwc_reference(feed: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    nhwc = tf.constant(feed.transpose([0, 2, 3, 1]))
    pooled = tf.nn.avg_pool2d(tf.nn.relu(tf.nn.conv2d(nhwc, kernel, [1, 1, 1, 1], "VALID")), 2, 2, "VALID")
    return pooled.numpy().transpose([0, 3, 1, 2])


@pytest.mark.parametrize("compiled", [False, True], ids=["restored_to_cpu", "compiled_then_inlined"])
def test_nchw_ops_run_on_cpu(tmp_path, fake_neuron_cc, compiled):
    """A cluster of NCHW ops that returns to CPU (here: no compiler) is rewritten to NHWC
    between transposes, as the original rewrites it; so is an inlined NeuronOp's graph, and the
    CPU fallback's. The outputs answer as the NHWC computation."""
    rng = np.random.default_rng(3)
    model, out = str(tmp_path / "nchw"), str(tmp_path / "out")
    kernel = nchw_model(model, rng)
    feed = rng.uniform(-1, 1, [1, 3, 4, 4]).astype(np.float16)
    if compiled:
        nir.saved_model.compile(model, out, neuron_cc=fake_neuron_cc, progress=False)
        np.testing.assert_allclose(nir.load(out)(x=feed)["y"], nhwc_reference(feed, kernel), rtol=1e-2, atol=1e-3)
        nir.saved_model.inline_neuron_ops(out, str(tmp_path / "inline"))
        out = str(tmp_path / "inline")
    else:
        with pytest.warns(UserWarning, match="not installed"):
            nir.saved_model.compile(model, out, progress=False)
    serve = tf.saved_model.load(out).signatures["serving_default"]
    np.testing.assert_allclose(serve(x=tf.constant(feed))["y"], nhwc_reference(feed, kernel), rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("reduce_batch", [False, True], ids=["every_tensor_batched", "batch_reduced"])
def test_dynamic_batch_turns_on_by_itself(tmp_path, fake_neuron_cc, reduce_batch):
    """As the original: with dynamic_batch_size left unset, dynamic batch is on when every
    NeuronOp input and output carries the batch on dimension 0, and off when one does not (a
    sum over the batch)."""
    rng = np.random.default_rng(9)
    model, out = str(tmp_path / "model"), str(tmp_path / "out")
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        hidden = tf.nn.relu(tf.matmul(x, rng.standard_normal((4, 4)).astype(np.float32)))
        y = tf.nn.tanh(tf.reduce_sum(hidden, axis=0) if reduce_batch else hidden, name="y")
        tf.compat.v1.saved_model.simple_save(session, model, {"x": x}, {"y": y})
    nir.saved_model.compile(model, out, batch_size=2, neuron_cc=fake_neuron_cc, progress=False)
    loaded = nir.load(out)
    (neuron_op,) = [n for n in loaded.neuron_graph_def.node if n.op == "NeuronOp"]
    axes = {*neuron_op.attr["input_batch_axis"].list.i, *neuron_op.attr["output_batch_axis"].list.i}
    assert axes == ({-1} if reduce_batch else {0})
    assert loaded.signature.inputs[0].shape == ((2, 4) if reduce_batch else (-1, 4))


def builder_saved_conv(path: str, method: str, outputs: dict, key: str) -> None:
    """saved_model_test's regress/classify graphs: fp16 conv2d0 then conv2d1/conv2d2 (2x2 to
    one channel), under one signature of the given method name and key."""
    rng = np.random.default_rng(15213)
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        x = tf.compat.v1.placeholder(tf.float16, [None, 2, 2, 3], name="input0")
        conv0 = tf.nn.conv2d(x, rng.uniform(-1, 1, [1, 1, 3, 3]).astype(np.float16), 1, "VALID", name="conv2d0")
        tensors = {
            name: tf.nn.conv2d(conv0, rng.uniform(-1, 1, [2, 2, 3, 1]).astype(np.float16), 1, "VALID", name=node)
            for name, node in outputs.items()
        }
        info = tf.compat.v1.saved_model.utils.build_tensor_info
        inputs_key = "inputs"
        signature = tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
            inputs={inputs_key: info(x)}, outputs={k: info(t) for k, t in tensors.items()}, method_name=method)
        builder = tf.compat.v1.saved_model.Builder(path)
        builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map={key: signature},
                                             strip_default_attrs=True)
        builder.save()


@pytest.mark.parametrize("api", ["regress", "classify"])
def test_regress_and_classify_signatures(tmp_path, fake_neuron_cc, api):
    """test_regress_api: the only signature is 'bla' (not serving_default), method regress, one
    output; test_classify_api: serving_default, method classify, scores and classes. Each
    compiles with its method name kept and answers."""
    from frontends.tensorflow.loader import read_saved_model_proto

    model, out, inline = (str(tmp_path / name) for name in ("model", "out", "inline"))
    if api == "regress":
        key, method, outputs = "bla", "tensorflow/serving/regress", {"outputs": "conv2d1"}
    else:
        key, method, outputs = "serving_default", "tensorflow/serving/classify", {"scores": "conv2d1", "classes": "conv2d2"}
    builder_saved_conv(model, method, outputs, key)
    feeds = {"inputs": np.random.default_rng(1).uniform(-1, 1, [1, 2, 2, 3]).astype(np.float16)}
    report = nir.saved_model.compile(model, out, model_feed_dict=feeds, neuron_cc=fake_neuron_cc, progress=False)
    assert report["NumClusters"] == report["NumCompiledClusters"] == 1
    signatures = read_saved_model_proto(out).meta_graphs[0].signature_def
    assert list(signatures) == [key] and signatures[key].method_name == method
    nir.saved_model.inline_neuron_ops(out, inline)
    assert_same_answers(model, inline, feeds, key=key)


def test_core_binding_is_set_and_inspected(tmp_path, fake_neuron_cc, caplog):
    """TestCoreBinding: set_core_binding writes each NeuronOp's NeuronCore group into the
    fifth entry of its model_config (the first four kept); inspect_core_binding reports it."""
    import logging

    rng = np.random.default_rng(15213)
    compiled = str(tmp_path / "compiled")
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        inputs, outputs = conv_add_graph(rng)
        nir.saved_model.simple_save(session, compiled, inputs, outputs, neuron_cc=fake_neuron_cc, progress=False,
                                    supported_op_types={"Conv2D", "Const"})  # three NeuronOps
    with caplog.at_level(logging.INFO, logger="tensorflow"):
        unbound = nir.saved_model.inspect_core_binding(compiled)
    assert len(unbound) == 3 and set(unbound.values()) == {None}
    assert sum("does not bind to a NeuronCore Group" in r.getMessage() for r in caplog.records) == 3
    nir.saved_model.set_core_binding(compiled, [0, 2])
    bound = nir.saved_model.inspect_core_binding(compiled)
    assert sorted(bound.values(), key=str) == [0, 2, None]
    from frontends.tensorflow.loader import read_saved_model_proto

    configs = [list(n.attr["model_config"].list.i) for n in read_saved_model_proto(compiled).meta_graphs[0].graph_def.node
               if n.op == "NeuronOp"]
    assert sorted(configs) == sorted([[-1, -1, -1, 10, 0], [-1, -1, -1, 10, 2], [-1, -1, -1, 10]])
    with pytest.raises(nir.NirInputError, match="NeuronCore group index"):
        nir.saved_model.set_core_binding(compiled, ["0"])
    inline = str(tmp_path / "inline")
    nir.saved_model.inline_neuron_ops(compiled, inline)  # still a model TensorFlow runs


def vocabulary_file_model(path: str, folder) -> None:
    """A TF1 model whose table is filled from a vocabulary file (an asset, fed to the main op by
    the loader), then an embedding and a dense layer. The file outside the SavedModel is
    deleted once saved: only the SavedModel's own copy remains."""
    vocabulary = folder / "vocab.txt"
    vocabulary.write_text("the\nquick\nbrown\nfox\n")
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        words = tf.compat.v1.placeholder(tf.string, [None], name="words")
        initializer = tf.lookup.TextFileInitializer(str(vocabulary), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                                    tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
        ids = tf.lookup.StaticHashTable(initializer, -1).lookup(words)
        rng = np.random.default_rng(4)
        hidden = tf.gather(tf.constant(rng.standard_normal((5, 4)).astype(np.float32)), ids + 1)
        y = tf.nn.relu(tf.matmul(hidden, tf.constant(rng.standard_normal((4, 3)).astype(np.float32))) + 1.0)
        tf.compat.v1.saved_model.simple_save(session, path, {"words": words}, {"y": y},
                                             legacy_init_op=tf.compat.v1.tables_initializer())
    vocabulary.unlink()


def test_vocabulary_file_assets_are_copied(tmp_path, fake_neuron_cc):
    """The original's test_estimator_table_init, without tf.estimator (gone from TensorFlow
    2.21): a table filled from an asset file. The output carries the file in its assets/ and
    names its tensor, so the loaders (TF1's and TF2's) feed its new path and the lookups answer."""
    from frontends.tensorflow.loader import read_saved_model_proto

    model, out, inline = (str(tmp_path / name) for name in ("model", "out", "inline"))
    vocabulary_file_model(model, tmp_path)
    # The lookup's shape is known (its table is a static hash table): the embedding and the
    # dense layer after it are one NeuronOp; the ids (line numbers of a file, so their range is
    # not known at compile time) stay int64 on CPU, with their +1.
    report = nir.saved_model.compile(model, out, neuron_cc=fake_neuron_cc, progress=False)
    assert report["NumClusters"] == report["NumCompiledClusters"] == 1
    assert (tmp_path / "out" / "assets" / "vocab.txt").read_text() == "the\nquick\nbrown\nfox\n"
    (asset,) = read_saved_model_proto(out).meta_graphs[0].asset_file_def
    assert asset.filename == "vocab.txt"
    nir.saved_model.inline_neuron_ops(out, inline)
    feeds = {"words": np.array([b"fox"])}
    assert_same_answers(model, inline, feeds)
    served = tf.saved_model.load(inline).signatures["serving_default"](words=tf.constant([b"quick"]))["y"]
    expected = tf.saved_model.load(model).signatures["serving_default"](words=tf.constant([b"quick"]))["y"]
    np.testing.assert_allclose(served, expected, rtol=1e-6)


@pytest.mark.parametrize("options,batch", [([], 1), (["--batch-size", "2"], 2),
                                           (["--input-shapes", "x0:3x2x2x3;x1:3x2x2x3"], 3)],
                         ids=["default", "batch_size", "input_shapes"])
def test_command_line_convert(tmp_path, fake_neuron_cc, options, batch):
    """test_saved_model_cli_convert: TensorFlow's saved_model_cli takes no converters now;
    `nir compile` takes the same choices (default batch 1, --batch-size, shapes by input) and
    gives the same five ops, the NeuronOp third, compiled at that batch."""
    import subprocess
    import sys

    rng = np.random.default_rng(15213)
    model, out, inline = (str(tmp_path / name) for name in ("model", "out", "inline"))
    save_conv_add_model(model, rng)
    subprocess.run([sys.executable, "-m", "nir.cli", "compile", model, out, "--neuron-cc", fake_neuron_cc,
                    "--no-dynamic-batch-size", *options], check=True, capture_output=True)
    compiled = nir.load(out).neuron_graph_def
    assert len(compiled.node) == 5 and compiled.node[2].op == "NeuronOp"
    assert [d.size for d in compiled.node[2].attr["input_shapes"].list.shape[0].dim] == [batch, 2, 2, 3]
    nir.saved_model.inline_neuron_ops(out, inline)
    feeds = {k: rng.uniform(-1, 1, [batch, 2, 2, 3]).astype(np.float16) for k in ("x0", "x1")}
    assert_same_answers(model, inline, feeds)
