"""What the original tensorflow-neuron's `tfn.trace` tests assert (its python/trace_test.py and
the trace halves of tf2_keras_test.py), checked on nir with nir's own tests. Only how the
compiled model runs differs: here each NeuronOp runs its own graph on CPU, and neuron-cc is the
tests' stand-in, which compiles every cluster whose ops are in its table.

Not carried over, and why:
- `tf.keras.models.load_model(dir)` of a traced model: TensorFlow 2.21's Keras (Keras 3) loads
  only `.keras` files; nir's SavedModel loads with `nir.load` and `tf.saved_model.load`.
- `_input_shuffles` on a NeuronOp (test_func_1conv_with_shuffle): a runtime feature of the
  Neuron kernel; no CPU path can honour it.
- The NEFF-size check of test_func_pad_conv: the stand-in's NEFF says nothing of a real one.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from original_graphs import TF2_KERAS_MODELS, three_in_five_out_model  # noqa: E402

import nir  # noqa: E402


def compiled_neuron_ops(model) -> list:
    return [n for n in model.neuron_graph_def.node if n.op == "NeuronOp" and n.attr["executable"].s]


def assert_close(actual, expected, rtol=1e-4, atol=1e-5) -> None:
    actual, expected = tf.nest.flatten(actual), tf.nest.flatten(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def traced_three_in_five_out(fake_neuron_cc):
    tf.random.set_seed(0)
    model = three_in_five_out_model(tf.keras, width=3)
    example = [tf.random.uniform([3, 3]) for _ in range(3)]
    return model, nir.trace(model, example, neuron_cc=fake_neuron_cc)


def test_keras_model_three_inputs_five_outputs(traced_three_in_five_out):
    model, traced = traced_three_in_five_out
    assert len(compiled_neuron_ops(traced)) == 1
    inputs = [tf.random.uniform([3, 3]) for _ in range(3)]
    assert_close(traced(inputs), model(inputs))


def test_keras_model_takes_another_batch_size(traced_three_in_five_out):
    """Traced at batch 3, called at batch 5: the runtime cuts the batch into compiled-size
    pieces (the last one padded), which nir's CPU fallback does too."""
    model, traced = traced_three_in_five_out
    (neuron_op,) = compiled_neuron_ops(traced)
    assert set(neuron_op.attr["input_batch_axis"].list.i) == {0}
    assert set(neuron_op.attr["output_batch_axis"].list.i) == {0}
    for batch in (5, 1, 6):
        inputs = [tf.random.uniform([batch, 3]) for _ in range(3)]
        result = traced(inputs)
        assert result[0].shape == (batch, 3)
        assert_close(result, model(inputs))


def test_keras_model_one_input_saved_and_loaded(fake_neuron_cc, tmp_path):
    inputs = tf.keras.Input((3,))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(3)(inputs))
    example = tf.random.uniform([1, 3])
    traced = nir.trace(model, example, neuron_cc=fake_neuron_cc)
    traced.save(str(tmp_path / "saved"))
    assert len(compiled_neuron_ops(traced)) == 1
    assert_close(traced(example), model(example))
    assert_close(nir.load(str(tmp_path / "saved"))(example), model(example))


def conv_kernel():
    return tf.random.stateless_uniform([3, 3, 3, 32], seed=(1, 2))


def test_function_with_captured_kernel_saved_and_loaded(fake_neuron_cc, tmp_path):
    kernel = conv_kernel()

    def func(tensor):
        return tf.nn.conv2d(tensor, kernel, padding="VALID", strides=[1, 1, 1, 1])

    example = tf.random.uniform([1, 28, 28, 3])
    traced = nir.trace(func, example, neuron_cc=fake_neuron_cc)
    traced.save(str(tmp_path / "conv"))
    assert len(compiled_neuron_ops(traced)) == 1
    assert_close(traced(example), func(example))
    assert_close(nir.load(str(tmp_path / "conv"))(example), func(example))


def test_list_of_one_tensor_is_one_argument(fake_neuron_cc):
    kernel = conv_kernel()

    def func(tensor_list):
        (tensor,) = tensor_list
        return tf.nn.conv2d(tensor, kernel, padding="VALID", strides=[1, 1, 1, 1])

    example = tf.random.uniform([1, 28, 28, 3])
    traced = nir.trace(func, [example], neuron_cc=fake_neuron_cc)
    assert len(compiled_neuron_ops(traced)) == 1
    assert_close(traced([example]), func([example]))


def three_in_five_out(tensor0, tensor1, tensor2):
    tensor01 = tensor0 + tensor1
    tensor12 = tensor1 + tensor2
    return tf.nn.relu(tensor01), tf.nn.relu(tensor12), tf.nn.sigmoid(tensor01), tf.nn.sigmoid(tensor12), tensor01 + tensor12


def test_tuple_of_examples_is_positional_arguments(fake_neuron_cc):
    examples = tuple(tf.random.uniform([1, 8, 6]) for _ in range(3))
    traced = nir.trace(three_in_five_out, examples, neuron_cc=fake_neuron_cc)
    assert len(compiled_neuron_ops(traced)) == 1
    result = traced(*examples)
    assert isinstance(result, tuple) and len(result) == 5
    assert_close(result, three_in_five_out(*examples))


def test_nested_list_and_tensor_arguments(fake_neuron_cc):
    def func(pair, tensor2):
        return three_in_five_out(pair[0], pair[1], tensor2)

    pair = [tf.random.uniform([1, 8, 6]), tf.random.uniform([1, 8, 6])]
    tensor2 = tf.random.uniform([1, 8, 6])
    traced = nir.trace(func, (pair, tensor2), neuron_cc=fake_neuron_cc)
    assert len(compiled_neuron_ops(traced)) == 1
    assert_close(traced(pair, tensor2), func(pair, tensor2))


def test_attention_layer_with_boolean_masks():
    """Traced without a compiler (the original patched its compiler out): every cluster stays on
    CPU and the model still answers as the layer does."""
    query = tf.random.uniform([1, 8, 32])
    key = tf.random.uniform([1, 16, 32])
    value = tf.random.uniform([1, 16, 32])
    masks = [tf.random.uniform([1, 8]) > 0.5, tf.random.uniform([1, 16]) > 0.5]
    layer = tf.keras.layers.Attention(use_scale=False)
    example = ([query, key, value], masks)
    with pytest.warns(UserWarning, match="neuron-cc is not installed"):
        traced = nir.trace(layer, example, neuron_cc=None, supported_op_types=["MatMul", "BatchMatMulV2", "Softmax"])
    assert_close(traced(*example), layer(*example))


def test_small_subgraphs_are_pruned(fake_neuron_cc):
    """100 Relus, a Tanh, 3 Relus, with only Relu supported: the 3-Relu cluster holds under
    20% of the clustered ops, so only the large one becomes a NeuronOp (the original's
    prune_small_subgraphs_ratio=0.8)."""

    def func(tensor):
        for _ in range(100):
            tensor = tf.nn.relu(tensor)
        tensor = tf.nn.tanh(tensor)
        return tf.nn.relu(tf.nn.relu(tf.nn.relu(tensor)))

    example = tf.random.uniform([1, 1])
    traced = nir.trace(func, example, neuron_cc=fake_neuron_cc, supported_op_types=["Relu"])
    ops = [n.op for n in traced.neuron_graph_def.node]
    assert ops.count("NeuronOp") == 1
    # The original's 7 ops: the input, the NeuronOp, the Tanh and 3 Relus on CPU, and the
    # output's Identity (which keeps the function's output tensor name).
    assert len(ops) == 7
    assert sorted(ops) == sorted(["Placeholder", "NeuronOp", "Tanh", "Relu", "Relu", "Relu", "Identity"])
    assert_close(traced(example), func(example))


# ---------------------------------------------------------------- tf2_keras_test.py, trace halves
# Each model is traced on its example inputs and called on them; the answers must be the
# Keras model's. The original's own expected failures (an LSTM stack, variable-length LSTMs)
# are traced here too: nir keeps their loops on CPU rather than failing.


@pytest.mark.parametrize("build", TF2_KERAS_MODELS, ids=lambda build: build.__name__)
def test_keras_model_traced_answers_as_keras(build, fake_neuron_cc):
    tf.keras.utils.set_random_seed(7)
    model, example = build()
    traced = nir.trace(model, example, neuron_cc=fake_neuron_cc)
    assert traced.report["NumCompiledClusters"] == traced.report["NumClusters"] >= 1
    assert_close(traced(example), model(example), rtol=1e-4, atol=1e-5)
