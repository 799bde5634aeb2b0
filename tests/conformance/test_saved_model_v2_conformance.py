"""Facts the original's `saved_model_v2_test.py` asserts of `saved_model.compile` under TF2,
checked on nir: a TF1 SavedModel compiles and answers through TF2's loader; a TF2 SavedModel
(tf.Module, Keras) comes out as a TF2 SavedModel that `tf.saved_model.load` restores as the
input was restored: callable where the input was, with the same signatures, called by position
or keyword. The original patched its operator list; nir's `supported_op_types` says the same.

How a compiled model runs differs: the NeuronOps are inlined (`inline_neuron_ops`) and stock
TensorFlow runs the result on CPU. The original's `_assert_compiler_success_v2` (the signature
still holds a call after freezing) is checked more directly: the signature reaches NeuronOps.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from original_graphs import TF2_KERAS_MODELS, conv_add_graph, three_in_five_out_model  # noqa: E402

import nir  # noqa: E402
from backends.neuron.neuron_op import neuron_ops  # noqa: E402
from frontends.tensorflow.loader import read_saved_model_proto  # noqa: E402
from frontends.tensorflow.object_graph import (  # noqa: E402
    COMPILED_ATTRIBUTE,
    has_object_graph,
    signatures_reaching,
    written_by_nir,
)


def neuron_signatures(model_dir: str) -> list[str]:
    return signatures_reaching(read_saved_model_proto(model_dir).meta_graphs[0], "NeuronOp")


def count_neuron_ops(model_dir: str) -> int:
    """NeuronOps in the graph or its functions (where a TF2 output holds them)."""
    return len(neuron_ops(read_saved_model_proto(model_dir).meta_graphs[0].graph_def))


def simple_save_conv_add(path: str) -> None:
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        inputs, outputs = conv_add_graph(np.random.default_rng(15213))
        tf.compat.v1.saved_model.simple_save(session, path, inputs, outputs)


def half_feeds(batch: int = 1) -> dict:
    rng = np.random.default_rng(7)
    return {key: tf.constant(rng.uniform(-1, 1, [batch, 2, 2, 3]).astype(np.float16)) for key in ("x0", "x1")}


def assert_close(actual: dict, expected: dict, rtol: float = 1e-2, atol: float = 1e-2) -> None:
    assert sorted(actual) == sorted(expected)
    for key in expected:
        np.testing.assert_allclose(np.asarray(actual[key], np.float32), np.asarray(expected[key], np.float32),
                                   rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def conv_add_model(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("v2") / "conv_add")
    simple_save_conv_add(path)
    return path


def test_tf1_model_fed_tensors_answers_through_tf2s_loader(conv_add_model, tmp_path, fake_neuron_cc):
    """TestCompileV1SavedModel.test_simple: tf.Tensor feeds (not numpy) give the shapes; the
    output of a TF1 input stays a TF1 SavedModel, which tf.saved_model.load serves."""
    out, inline = str(tmp_path / "out"), str(tmp_path / "inline")
    feeds = half_feeds()
    report = nir.saved_model.compile(conv_add_model, out, model_feed_dict=feeds, neuron_cc=fake_neuron_cc,
                                     progress=False)
    assert report["OnNeuronRatio"] > 0.05
    assert not has_object_graph(read_saved_model_proto(out).meta_graphs[0])
    assert neuron_signatures(out) == ["serving_default"]
    nir.saved_model.inline_neuron_ops(out, inline)
    expected = tf.saved_model.load(conv_add_model).signatures["serving_default"](**feeds)
    assert_close(tf.saved_model.load(inline).signatures["serving_default"](**feeds), expected)


def test_a_single_convolution(tmp_path, fake_neuron_cc):
    """test_single_conv: one fp16 conv of fixed shape gets its NeuronOp."""
    model, out, inline = (str(tmp_path / n) for n in ("model", "out", "inline"))
    rng = np.random.default_rng(1)
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        x = tf.compat.v1.placeholder(tf.float16, [1, 2, 2, 3], name="input0")
        kernel = rng.uniform(-1, 1, [1, 1, 3, 3]).astype(np.float16)
        y = tf.nn.conv2d(x, kernel, strides=[1, 1, 1, 1], padding="VALID", name="conv2d0")
        tf.compat.v1.saved_model.simple_save(session, model, {"x0": x}, {"y0": y})
    feeds = {"x0": tf.constant(rng.uniform(-1, 1, [1, 2, 2, 3]).astype(np.float16))}
    report = nir.saved_model.compile(model, out, model_feed_dict=feeds, neuron_cc=fake_neuron_cc, progress=False)
    assert report["OnNeuronRatio"] > 0.05 and count_neuron_ops(out) == 1
    nir.saved_model.inline_neuron_ops(out, inline)
    expected = tf.saved_model.load(model).signatures["serving_default"](**feeds)
    assert_close(tf.saved_model.load(inline).signatures["serving_default"](**feeds), expected)


def test_three_segments_when_only_conv_is_supported(conv_add_model, tmp_path, fake_neuron_cc):
    """test_3segments: with only Conv2D and Const supported, each of the three convolutions is
    a NeuronOp of its own (a kernel Const and a Conv2D: the minimum segment of 2)."""
    out, inline = str(tmp_path / "out"), str(tmp_path / "inline")
    feeds = half_feeds()
    report = nir.saved_model.compile(conv_add_model, out, model_feed_dict=feeds, supported_op_types={"Conv2D", "Const"},
                                     neuron_cc=fake_neuron_cc, progress=False)
    assert report["OnNeuronRatio"] > 0.05
    assert report["NumClusters"] == report["NumCompiledClusters"] == count_neuron_ops(out) == 3
    nir.saved_model.inline_neuron_ops(out, inline)
    expected = tf.saved_model.load(conv_add_model).signatures["serving_default"](**feeds)
    assert_close(tf.saved_model.load(inline).signatures["serving_default"](**feeds), expected)


def test_shape_arithmetic_folds_away(tmp_path, fake_neuron_cc):
    """test_shape_related_foldable: conv, then its channel count (Shape, StridedSlice, Cast)
    added to it. The shape ops fold into a constant, so with Conv2D, Const, AddV2 and Relu
    supported more than 70% of the ops run on Neuron ("please check FindConstantFoldableNodes")."""
    model, out, inline = (str(tmp_path / n) for n in ("model", "out", "inline"))
    rng = np.random.default_rng(2)
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        x = tf.compat.v1.placeholder(tf.float32, [None, 2, 2, 3], name="input0")
        conv = tf.nn.conv2d(x, rng.uniform(-1, 1, [1, 1, 3, 3]).astype(np.float32), strides=[1, 1, 1, 1],
                            padding="VALID", name="conv2d0")
        channels = tf.cast(tf.shape(conv)[-1], tf.float32)
        y = tf.nn.relu(tf.add(conv, channels, name="add0"), name="relu0")
        tf.compat.v1.saved_model.simple_save(session, model, {"x0": x}, {"y0": y})
    feeds = {"x0": tf.constant(rng.uniform(-1, 1, [1, 2, 2, 3]).astype(np.float32))}
    report = nir.saved_model.compile(model, out, model_feed_dict=feeds, supported_op_types={"Conv2D", "Const", "AddV2", "Relu"},
                                     neuron_cc=fake_neuron_cc, progress=False)
    assert report["OnNeuronRatio"] > 0.7
    nir.saved_model.inline_neuron_ops(out, inline)
    expected = tf.saved_model.load(model).signatures["serving_default"](**feeds)
    assert_close(tf.saved_model.load(inline).signatures["serving_default"](**feeds), expected, rtol=1e-5, atol=1e-5)


class Dense(tf.Module):
    """The original's Sequential([Input(28), Dense(10, relu)]) as a tf.Module with a traced
    __call__: Keras 3 saves no __call__, so a module is what makes `loaded(x)` exist."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(3)
        self.kernel = tf.Variable(rng.uniform(-1, 1, [28, 10]).astype(np.float32))
        self.bias = tf.Variable(rng.uniform(-1, 1, [10]).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 28], tf.float32, name="dense_input")])
    def __call__(self, x):
        return tf.nn.relu(tf.matmul(x, self.kernel) + self.bias)


def compile_and_inline(model: str, tmp_path, fake_neuron_cc, feeds: dict, clusters: bool = True) -> tuple[str, str]:
    out, inline = str(tmp_path / "out"), str(tmp_path / "inline")
    if clusters:
        report = nir.saved_model.compile(model, out, model_feed_dict=feeds, neuron_cc=fake_neuron_cc, progress=False)
        assert report["OnNeuronRatio"] > 0.05
    else:
        with pytest.warns(UserWarning, match="below minimum_segment_size=2"):
            report = nir.saved_model.compile(model, out, model_feed_dict=feeds, neuron_cc=fake_neuron_cc,
                                             progress=False)
        assert report["NumClusters"] == 0
    assert has_object_graph(read_saved_model_proto(out).meta_graphs[0])
    nir.saved_model.inline_neuron_ops(out, inline)
    return out, inline


@pytest.mark.parametrize("way", ["spliced", "saved"])
def test_module_stays_callable_by_position_and_keyword(tmp_path, fake_neuron_cc, monkeypatch, way):
    """test_keras_models_save_model_single_input_single_output: the compiled model is called
    as the input was (`loaded(x)`); its signature by position and by keyword. Both ways of
    writing it: the compiled signature spliced into the input's saved_model.pb (the usual
    way), and the input's objects re-saved by TensorFlow's saver (a compiled graph with
    variables, tables or CPU weights of its own)."""
    import frontends.tensorflow.writer as writer

    if way == "saved":
        monkeypatch.setattr(writer, "can_splice", lambda *args: False)
    model = str(tmp_path / "model")
    module = Dense()
    tf.saved_model.save(module, model, signatures=module.__call__)
    reference = tf.saved_model.load(model)
    signature = reference.signatures["serving_default"]
    x = tf.random.uniform([2, 28], seed=1)
    out, inline = compile_and_inline(model, tmp_path, fake_neuron_cc,
                                     {signature.function_def.signature.input_arg[0].name: x})
    assert neuron_signatures(out) == ["serving_default"]
    compiled = tf.saved_model.load(inline)
    np.testing.assert_allclose(compiled(x), reference(x), rtol=1e-5)
    (output_key,) = signature.structured_outputs
    (input_key,) = signature.structured_input_signature[1]
    np.testing.assert_allclose(compiled.signatures["serving_default"](x)[output_key], signature(x)[output_key], rtol=1e-5)
    np.testing.assert_allclose(compiled.signatures["serving_default"](**{input_key: x})[output_key],
                               signature(**{input_key: x})[output_key], rtol=1e-5)
    # The object graph itself is kept: the module's own variables, and the compiled model beside them.
    np.testing.assert_array_equal(compiled.kernel.numpy(), reference.kernel.numpy())
    assert written_by_nir(read_saved_model_proto(out).meta_graphs[0])
    assert hasattr(compiled, COMPILED_ATTRIBUTE) == (way == "saved")


@pytest.mark.parametrize("stateful", [True, False], ids=["stateful", "stateless"])
def test_keras_export_three_in_five_out(tmp_path, fake_neuron_cc, stateful):
    """test_keras_models_save_model_3in_5out_{stateful,stateless}: a Keras 3 export (its
    endpoint `serve`, Keras 3's way of saving a callable) keeps `serve` and both signatures;
    `serve([a, b, c])` gives the five outputs in order, the signature each by its key."""
    model = str(tmp_path / "model")
    three_in_five_out_model(tf.keras, dense=stateful).export(model, verbose=False)
    reference = tf.saved_model.load(model)
    signature = reference.signatures["serving_default"]
    tensors = [tf.random.uniform([2, 28], seed=n) for n in range(3)]
    feeds = {arg.name: t for arg, t in zip(signature.function_def.signature.input_arg, tensors)}
    out, inline = compile_and_inline(model, tmp_path, fake_neuron_cc, feeds)
    assert neuron_signatures(out) == ["serving_default"]
    compiled = tf.saved_model.load(inline)
    assert sorted(compiled.signatures) == sorted(reference.signatures)
    expected, actual = reference.serve(tensors), compiled.serve(tensors)
    assert len(actual) == len(expected) == 5
    for want, got in zip(expected, actual):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert_close(compiled.signatures["serving_default"](**feeds), signature(**feeds), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("way", ["spliced", "saved"])
def test_tf2_output_is_the_same_bytes_every_time(tmp_path, fake_neuron_cc, monkeypatch, way):
    """TensorFlow names traced functions with a process-wide counter; nir renames them in a
    fixed order, so compiling twice in one process (the counter moved on) writes equal files,
    whichever way the output is written (see test_module_stays_callable_by_position_and_keyword)."""
    from zoo import tree_digest

    import frontends.tensorflow.writer as writer

    if way == "saved":
        monkeypatch.setattr(writer, "can_splice", lambda *args: False)

    model = str(tmp_path / "model")
    module = Dense()
    tf.saved_model.save(module, model, signatures=module.__call__)
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    nir.saved_model.compile(model, first, neuron_cc=fake_neuron_cc, progress=False)
    tf.function(lambda: tf.constant(1.0)).get_concrete_function()  # moves the counter on
    nir.saved_model.compile(model, second, neuron_cc=fake_neuron_cc, progress=False)
    assert tree_digest(first) == tree_digest(second)
    assert "fingerprint.pb" not in os.listdir(first)


@pytest.mark.parametrize("build", TF2_KERAS_MODELS, ids=lambda build: build.__name__)
def test_tf2_keras_models_compiled_answer_as_keras(build, tmp_path, fake_neuron_cc):
    """tf2_keras_test.py, compile halves (`tf2_compile` then `run_inference`): each Keras model,
    exported, compiles from its example inputs; the compiled export's `serve` and signature
    answer as the Keras model."""
    tf.keras.utils.set_random_seed(7)
    model, example = build()
    example = example if isinstance(example, list) else [example]
    source = str(tmp_path / "model")
    model.export(source, verbose=False)
    signature = tf.saved_model.load(source).signatures["serving_default"]
    names = [arg.name for arg in signature.function_def.signature.input_arg][:len(example)]
    feeds = dict(zip(names, example))
    # A lone MaxPool is a segment of 1, below compile's minimum of 2 (trace's pruning differs).
    alone = build.__name__ == "maxpool2d"
    out, inline = compile_and_inline(source, tmp_path, fake_neuron_cc, feeds, clusters=not alone)
    assert neuron_signatures(out) == ([] if alone else ["serving_default"])
    compiled = tf.saved_model.load(inline)
    expected = model(example if len(example) > 1 else example[0])
    actual = compiled.serve(example if len(example) > 1 else example[0])
    for want, got in zip(tf.nest.flatten(expected), tf.nest.flatten(actual)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    served = compiled.signatures["serving_default"](**feeds)
    assert_close(served, signature(**feeds), rtol=1e-4, atol=1e-5)


def compile_without_a_compiler(model_dir: str, out: str, monkeypatch) -> None:
    """Compile with no neuron-cc on PATH: every cluster stays on CPU, and nir warns so."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with pytest.warns(UserWarning, match="not installed"):
        nir.saved_model.compile(model_dir, out, progress=False)


def test_weights_left_on_cpu_are_variables_of_a_tf2_output(zoo, tmp_path, monkeypatch):
    """Without a compiler every cluster stays on CPU: the compiled signature's weights (2 MB)
    become variables of the output's checkpoint, never constants of saved_model.pb, and the
    object graph is kept (the spliced signature captures them: captured_weights.py)."""
    out, inline = str(tmp_path / "out"), str(tmp_path / "inline")
    compile_without_a_compiler(zoo["wide_mlp"], out, monkeypatch)
    meta_graph = read_saved_model_proto(out).meta_graphs[0]
    assert has_object_graph(meta_graph) and written_by_nir(meta_graph)
    assert os.path.getsize(os.path.join(out, "saved_model.pb")) < 1 << 20
    nir.saved_model.inline_neuron_ops(out, inline)
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    reference, compiled = tf.saved_model.load(zoo["wide_mlp"]), tf.saved_model.load(inline)
    np.testing.assert_allclose(compiled.signatures["serving_default"](x=x)["y"],
                               reference.signatures["serving_default"](x=x)["y"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(compiled(x)["y"], reference(x)["y"], rtol=1e-6)


def test_weights_left_on_cpu_are_captured_without_tensorflows_saver(zoo, tmp_path, monkeypatch):
    """The splice gives the compiled signature its CPU weights as captured variables, by hand:
    TensorFlow's loader and saver are never run (they cost 2.4 GB on ResNet50), the variables
    are in the object graph and the checkpoint beside the input's own, and TF2's loader, the
    module's own call and TF1's loader all answer as the input."""
    import frontends.tensorflow.writer as writer
    from frontends.tensorflow.bundle import BundleReader
    from frontends.tensorflow.captured_weights import WEIGHTS_OBJECT

    def no_saver(*args, **kwargs):
        raise AssertionError("TensorFlow's saver was used")

    monkeypatch.setattr(writer, "save_with_object_graph", no_saver)
    out = str(tmp_path / "out")
    compile_without_a_compiler(zoo["wide_mlp"], out, monkeypatch)
    input_keys = set(BundleReader(os.path.join(zoo["wide_mlp"], "variables", "variables")).entries)
    output_keys = set(BundleReader(os.path.join(out, "variables", "variables")).entries)
    captured = {k for k in output_keys if k.startswith(WEIGHTS_OBJECT + "/")}
    assert input_keys <= output_keys and len(captured) >= 2 and output_keys == input_keys | captured
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    reference, compiled = tf.saved_model.load(zoo["wide_mlp"]), tf.saved_model.load(out)
    expected = reference.signatures["serving_default"](x=x)["y"].numpy()
    np.testing.assert_allclose(compiled.signatures["serving_default"](x=x)["y"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(compiled(x)["y"], reference(x)["y"], rtol=1e-6)
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], out)
        definition = meta_graph.signature_def["serving_default"]
        served = session.run(definition.outputs["y"].name, {definition.inputs["x"].name: x})
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)


def test_a_checkpoint_that_cannot_take_the_weights_falls_back_to_tensorflows_saver(zoo, tmp_path, monkeypatch):
    """When the input's checkpoint object graph does not match its SavedModel (or does not
    parse), the splice writes nothing and TensorFlow's saver writes the output instead."""
    import frontends.tensorflow.splice as splice
    from frontends.tensorflow.captured_weights import CannotCapture

    def mismatched(*args):
        raise CannotCapture("the checkpoint's object graph and the SavedModel's differ")

    monkeypatch.setattr(splice, "checkpoint_object_graph", mismatched)
    out = str(tmp_path / "out")
    compile_without_a_compiler(zoo["wide_mlp"], out, monkeypatch)
    compiled, reference = tf.saved_model.load(out), tf.saved_model.load(zoo["wide_mlp"])
    assert hasattr(compiled, COMPILED_ATTRIBUTE)  # the saver's way: the compiled model hangs off the root
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    np.testing.assert_allclose(compiled.signatures["serving_default"](x=x)["y"],
                               reference.signatures["serving_default"](x=x)["y"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("build", ["single_input_single_output", "3in_5out_stateful", "3in_5out_stateless"])
def test_keras2_saved_models_load_and_call_as_before(tmp_path, fake_neuron_cc, build):
    """TestCompileKerasSavedModel, on Keras 2 (tf_keras) as the original ran it: a model saved
    by `save_model` compiles from feeds keyed by the signature's argument names; the compiled
    model, inlined, is called as the input (`loaded(x)`, `loaded([a, b, c])`), its signature by
    position and keyword, and `load_model` gives back a Keras model that answers the same."""
    keras = pytest.importorskip("tf_keras")
    tf.random.set_seed(15213)
    if build == "single_input_single_output":
        model = keras.models.Sequential([keras.layers.Input(28), keras.layers.Dense(10, activation="relu")])
        tensors = [tf.random.uniform([2, 28])]
    else:
        model = three_in_five_out_model(keras, dense=build.endswith("stateful"))
        tensors = [tf.random.uniform([2, 28]) for _ in range(3)]
    source = str(tmp_path / "model")
    keras.models.save_model(model, source)
    reference = tf.saved_model.load(source)
    signature = reference.signatures["serving_default"]
    feeds = {arg.name: t for arg, t in zip(signature.function_def.signature.input_arg, tensors)}
    out, inline = compile_and_inline(source, tmp_path, fake_neuron_cc, feeds)
    assert neuron_signatures(out) == ["serving_default"]
    compiled = tf.saved_model.load(inline)
    argument = tensors[0] if len(tensors) == 1 else tensors
    for want, got in zip(tf.nest.flatten(reference(argument)), tf.nest.flatten(compiled(argument))):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert_close(compiled.signatures["serving_default"](**feeds), signature(**feeds), rtol=1e-5, atol=1e-6)
    if len(tensors) == 1:
        (key,) = signature.structured_outputs
        np.testing.assert_allclose(compiled.signatures["serving_default"](tensors[0])[key], signature(tensors[0])[key],
                                   rtol=1e-5)
    revived = keras.models.load_model(inline)
    for want, got in zip(tf.nest.flatten(model(argument)), tf.nest.flatten(revived(argument))):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert isinstance(keras.models.load_model(out), keras.Model)  # the compiled model itself loads too
